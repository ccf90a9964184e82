"""The quick-reply library: groups and their ready messages, with how often each was sent.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def upgrade():
    op.create_table(
        "quick_reply_group",
        sa.Column("id", BigId, nullable=False),
        sa.Column("corp_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["corp_id"], ["corp.id"], name=op.f("fk_quick_reply_group_corp_id_corp"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quick_reply_group")),
        **MYSQL,
    )
    op.create_index(op.f("ix_quick_reply_group_corp_id_order"), "quick_reply_group", ["corp_id", "order"])
    op.create_table(
        "quick_reply",
        sa.Column("id", BigId, nullable=False),
        sa.Column("corp_id", BigId, nullable=False),
        sa.Column("group_id", BigId, nullable=False),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["corp_id"], ["corp.id"], name=op.f("fk_quick_reply_corp_id_corp"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["quick_reply_group.id"],
                                name=op.f("fk_quick_reply_group_id_quick_reply_group"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quick_reply")),
        **MYSQL,
    )
    op.create_index(op.f("ix_quick_reply_corp_id_group_id_order"), "quick_reply", ["corp_id", "group_id", "order"])


def downgrade():
    op.drop_table("quick_reply")
    op.drop_table("quick_reply_group")
