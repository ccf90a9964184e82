"""Channel codes: allocation rules, schedules, auto-tags, remark template, welcome content, one-time and expiring
codes, cached QR images, daily costs; welcome deliveries; uploaded media; the channel of timeline entries.

Revision ID: 0007
Revises: 0006
"""
import secrets

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import LONGBLOB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Blob = sa.LargeBinary().with_variant(LONGBLOB(), "mysql", "mariadb")
MYSQL = dict(mysql_charset="utf8mb4", mysql_collate="utf8mb4_bin", mysql_engine="InnoDB")


def upgrade():
    with op.batch_alter_table("channel") as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("allocation", sa.String(length=16), nullable=False,
                                      server_default="round_robin"))
        batch_op.add_column(sa.Column("remark_template", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("welcome_mode", sa.String(length=16), nullable=False, server_default="default"))
        batch_op.add_column(sa.Column("temporary", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("listed_user_ids", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("qr_image", Blob, nullable=True))
        batch_op.add_column(sa.Column("qr_content", sa.String(length=512), nullable=True))
    conn = op.get_bind()
    for (channel_id,) in conn.execute(sa.text("SELECT id FROM channel")).all():
        conn.execute(sa.text("UPDATE channel SET code = :code, listed_user_ids = '[]' WHERE id = :id"),
                     {"code": secrets.token_urlsafe(8)[:10], "id": channel_id})
    with op.batch_alter_table("channel") as batch_op:
        batch_op.alter_column("code", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("listed_user_ids", existing_type=sa.JSON(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_channel_code"), ["code"])

    with op.batch_alter_table("channel_member") as batch_op:
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("schedule", sa.JSON(), nullable=True))

    op.create_table(
        "channel_tag",
        sa.Column("channel_id", BigId, nullable=False),
        sa.Column("tag_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channel.id"], name=op.f("fk_channel_tag_channel_id_channel"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tag_id"], ["tag.id"], name=op.f("fk_channel_tag_tag_id_tag"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("channel_id", "tag_id", name=op.f("pk_channel_tag")),
        **MYSQL,
    )
    op.create_table(
        "channel_cost",
        sa.Column("channel_id", BigId, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channel.id"], name=op.f("fk_channel_cost_channel_id_channel"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("channel_id", "day", name=op.f("pk_channel_cost")),
        **MYSQL,
    )
    op.create_table(
        "welcome_delivery",
        sa.Column("id", BigId, nullable=False),
        sa.Column("corp_id", BigId, nullable=False),
        sa.Column("inbox_id", BigId, nullable=True),
        sa.Column("channel_id", BigId, nullable=True),
        sa.Column("employee_host_id", sa.String(length=64), nullable=False),
        sa.Column("customer_host_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["corp_id"], ["corp.id"], name=op.f("fk_welcome_delivery_corp_id_corp"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["inbox_id"], ["inbox_event.id"], name=op.f("fk_welcome_delivery_inbox_id_inbox_event"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["channel_id"], ["channel.id"], name=op.f("fk_welcome_delivery_channel_id_channel"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_welcome_delivery")),
        sa.UniqueConstraint("inbox_id", name=op.f("uq_welcome_delivery_inbox_id")),
        **MYSQL,
    )
    with op.batch_alter_table("welcome_delivery") as batch_op:
        batch_op.create_index(batch_op.f("ix_welcome_delivery_channel_id_created_at"), ["channel_id", "created_at"])
    op.create_table(
        "media",
        sa.Column("id", BigId, nullable=False),
        sa.Column("corp_id", BigId, nullable=False),
        sa.Column("filename", sa.String(length=128), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", Blob, nullable=False),
        sa.Column("host_media_id", sa.String(length=255), nullable=True),
        sa.Column("host_expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["corp_id"], ["corp.id"], name=op.f("fk_media_corp_id_corp"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        **MYSQL,
    )
    with op.batch_alter_table("media") as batch_op:
        batch_op.create_index(batch_op.f("ix_media_corp_id_sha256"), ["corp_id", "sha256"])

    with op.batch_alter_table("timeline_entry") as batch_op:
        batch_op.add_column(sa.Column("channel_id", BigId, nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_timeline_entry_channel_id_channel"), "channel", ["channel_id"],
                                    ["id"], ondelete="SET NULL")
        batch_op.create_index(batch_op.f("ix_timeline_entry_channel_id_occurred_at"), ["channel_id", "occurred_at"])
    # entries written before: the channel of their relationship
    op.execute("UPDATE timeline_entry SET channel_id = (SELECT channel_id FROM relationship "
               "WHERE relationship.id = timeline_entry.relationship_id) "
               "WHERE kind IN ('added', 'readded', 'removed') AND relationship_id IS NOT NULL")


def downgrade():
    with op.batch_alter_table("timeline_entry") as batch_op:  # MySQL: the foreign key before its index
        batch_op.drop_constraint(batch_op.f("fk_timeline_entry_channel_id_channel"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_timeline_entry_channel_id_occurred_at"))
        batch_op.drop_column("channel_id")
    op.drop_table("media")
    op.drop_table("welcome_delivery")
    op.drop_table("channel_cost")
    op.drop_table("channel_tag")
    with op.batch_alter_table("channel_member") as batch_op:
        batch_op.drop_column("schedule")
        batch_op.drop_column("position")
    with op.batch_alter_table("channel") as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_channel_code"), type_="unique")
        for column in ("qr_content", "qr_image", "listed_user_ids", "expires_at", "temporary", "welcome_mode",
                       "remark_template", "allocation", "code"):
            batch_op.drop_column(column)
