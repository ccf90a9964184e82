"""Times to the microsecond on MySQL where order within a second matters: when an inbox row arrived and was
processed, a welcome's window, when a sync run began and when a relationship last changed.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import DATETIME

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = [("inbox_event", "received_at", False), ("inbox_event", "processed_at", True),
           ("welcome_delivery", "received_at", False), ("welcome_delivery", "sent_at", True),
           ("sync_run", "started_at", False), ("relationship", "updated_at", False)]


def _retype(precise: bool) -> None:
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return  # SQLite keeps microseconds in its text anyway
    for table, column, nullable in COLUMNS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(column, existing_type=sa.DateTime(), existing_nullable=nullable,
                                  type_=DATETIME(fsp=6) if precise else sa.DateTime())


def upgrade():
    _retype(True)


def downgrade():
    _retype(False)
