"""The pages' tables: local console accounts (`scrm user create`: the embedded default's admin and a deployment's
break-glass one) and notes on customer group chats (the group sidebar).

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def upgrade():
    op.create_table(
        "web_user",
        sa.Column("id", BigId, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("corp_id", BigId, nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["corp_id"], ["corp.id"], name=op.f("fk_web_user_corp_id_corp"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_user")),
        sa.UniqueConstraint("username", name=op.f("uq_web_user_username")),
        **MYSQL,
    )
    op.create_table(
        "group_note",
        sa.Column("id", BigId, nullable=False),
        sa.Column("corp_id", BigId, nullable=False),
        sa.Column("group_chat_id", BigId, nullable=False),
        sa.Column("author_id", BigId, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["corp_id"], ["corp.id"], name=op.f("fk_group_note_corp_id_corp"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_chat_id"], ["group_chat.id"], name=op.f("fk_group_note_group_chat_id_group_chat"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_id"], ["employee.id"], name=op.f("fk_group_note_author_id_employee"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_note")),
        **MYSQL,
    )
    op.create_index(op.f("ix_group_note_group_chat_id_created_at"), "group_note", ["group_chat_id", "created_at"])


def downgrade():
    op.drop_table("group_note")
    op.drop_table("web_user")
