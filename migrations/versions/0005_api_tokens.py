"""API tokens (hashes only).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "api_token",
        sa.Column("id", BigId, nullable=False),
        sa.Column("corp_id", BigId, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("employee_id", BigId, nullable=True),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["corp_id"], ["corp.id"], name=op.f("fk_api_token_corp_id_corp"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.id"], name=op.f("fk_api_token_employee_id_employee"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
        mysql_charset="utf8mb4", mysql_collate="utf8mb4_bin", mysql_engine="InnoDB",
    )


def downgrade():
    op.drop_table("api_token")
