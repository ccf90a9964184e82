"""When a processing task was last published for an inbox row, so the sweeper tells a lost task from a busy queue.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import DATETIME

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("inbox_event") as batch_op:
        batch_op.add_column(sa.Column("enqueued_at", sa.DateTime().with_variant(DATETIME(fsp=6), "mysql", "mariadb"),
                                      nullable=True))


def downgrade():
    with op.batch_alter_table("inbox_event") as batch_op:
        batch_op.drop_column("enqueued_at")
