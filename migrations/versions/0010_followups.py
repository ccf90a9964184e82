"""Follow-up work stored with the writes that call for it (a channel's rules after an add, notifications).

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import DATETIME

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Moment = sa.DateTime().with_variant(DATETIME(fsp=6), "mysql", "mariadb")


def upgrade():
    op.create_table(
        "followup",
        sa.Column("id", BigId, nullable=False),
        sa.Column("corp_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("inbox_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("due_at", Moment, nullable=False),
        sa.Column("enqueued_at", Moment, nullable=True),
        sa.Column("locked_until", Moment, nullable=True),
        sa.Column("done_at", Moment, nullable=True),
        sa.ForeignKeyConstraint(["corp_id"], ["corp.id"], name=op.f("fk_followup_corp_id_corp"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup")),
        mysql_charset="utf8mb4", mysql_collate="utf8mb4_bin", mysql_engine="InnoDB",
    )
    op.create_index(op.f("ix_followup_status_due_at"), "followup", ["status", "due_at"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_followup_status_due_at"), table_name="followup")
    op.drop_table("followup")
