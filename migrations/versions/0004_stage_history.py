"""Customer stage history.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "stage_change",
        sa.Column("id", BigId, nullable=False),
        sa.Column("corp_id", BigId, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("from_stage", sa.String(length=32), nullable=True),
        sa.Column("to_stage", sa.String(length=32), nullable=False),
        sa.Column("employee_id", BigId, nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["corp_id"], ["corp.id"], name=op.f("fk_stage_change_corp_id_corp"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_stage_change_customer_id_customer"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.id"], name=op.f("fk_stage_change_employee_id_employee"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_change")),
        mysql_charset="utf8mb4", mysql_collate="utf8mb4_bin", mysql_engine="InnoDB",
    )
    with op.batch_alter_table("stage_change") as batch_op:
        batch_op.create_index(batch_op.f("ix_stage_change_customer_id_changed_at"), ["customer_id", "changed_at"])


def downgrade():
    op.drop_table("stage_change")
