"""Welcome deliveries indexed by (customer host id, corp): the customer 360 and the chat sidebar read the latest
delivery of each follower of one customer, which without it scanned every delivery of the corp. The customer
leads: an index led by corp_id would stand in for the corp foreign key's own on MySQL, which then refuses to drop
it on downgrade.

Revision ID: 0014
Revises: 0013
"""
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(op.f("ix_welcome_delivery_customer_host_id_corp_id"), "welcome_delivery",
                    ["customer_host_id", "corp_id"])


def downgrade():
    op.drop_index(op.f("ix_welcome_delivery_customer_host_id_corp_id"), table_name="welcome_delivery")
