"""Inbox lease: a worker claims a row until `locked_until`, so a row whose worker died is picked up again.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("inbox_event") as batch_op:
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("inbox_event") as batch_op:
        batch_op.drop_column("locked_until")
