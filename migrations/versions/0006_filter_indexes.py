"""Covering indexes for customer filters: relationship_tag carries the customer, and relationships are indexed by
(channel, customer) and (employee, customer).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("relationship_tag") as batch_op:
        batch_op.add_column(sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                      nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_relationship_tag_customer_id_customer"), "customer",
                                    ["customer_id"], ["id"], ondelete="CASCADE")
        batch_op.create_index(batch_op.f("ix_relationship_tag_tag_id_customer_id"), ["tag_id", "customer_id"])
    op.execute("UPDATE relationship_tag SET customer_id = (SELECT customer_id FROM relationship "
               "WHERE relationship.id = relationship_tag.relationship_id)")
    with op.batch_alter_table("relationship") as batch_op:
        batch_op.create_index(batch_op.f("ix_relationship_channel_id_customer_id"), ["channel_id", "customer_id"])
        batch_op.create_index(batch_op.f("ix_relationship_employee_id_customer_id"), ["employee_id", "customer_id"])


def downgrade():
    with op.batch_alter_table("relationship") as batch_op:
        batch_op.drop_index(batch_op.f("ix_relationship_employee_id_customer_id"))
        batch_op.drop_index(batch_op.f("ix_relationship_channel_id_customer_id"))
    with op.batch_alter_table("relationship_tag") as batch_op:
        batch_op.drop_index(batch_op.f("ix_relationship_tag_tag_id_customer_id"))
        batch_op.drop_constraint(batch_op.f("fk_relationship_tag_customer_id_customer"), type_="foreignkey")
        batch_op.drop_column("customer_id")
