"""Handovers line by line with their transitions, the customer pool, recorded domain events, and the link from a
transferred relationship to the one that took it over.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import DATETIME

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Moment = sa.DateTime().with_variant(DATETIME(fsp=6), "mysql", "mariadb")
MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def _fk(table, column, target, ondelete):
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"),
                                   ondelete=ondelete)


def upgrade():
    with op.batch_alter_table("relationship") as batch:
        batch.add_column(sa.Column("transferred_to_id", BigId, nullable=True))
        batch.create_foreign_key(op.f("fk_relationship_transferred_to_id_relationship"), "relationship",
                                 ["transferred_to_id"], ["id"], ondelete="SET NULL")
    op.create_table(
        "handover",
        sa.Column("id", BigId, nullable=False),
        sa.Column("corp_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("from_employee_id", BigId, nullable=False),
        sa.Column("split", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("message", sa.String(length=200), nullable=True),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("started_at", Moment, nullable=True),
        sa.Column("finished_at", Moment, nullable=True),
        sa.Column("next_poll_at", Moment, nullable=True),
        _fk("handover", "corp_id", "corp", "CASCADE"),
        _fk("handover", "from_employee_id", "employee", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover")),
        **MYSQL,
    )
    op.create_index(op.f("ix_handover_corp_id_status"), "handover", ["corp_id", "status"])
    op.create_index(op.f("ix_handover_from_employee_id"), "handover", ["from_employee_id"])
    op.create_table(
        "handover_line",
        sa.Column("id", BigId, nullable=False),
        sa.Column("handover_id", BigId, nullable=False),
        sa.Column("corp_id", BigId, nullable=False),
        sa.Column("customer_id", BigId, nullable=True),
        sa.Column("group_chat_id", BigId, nullable=True),
        sa.Column("host_id", sa.String(length=64), nullable=False),
        sa.Column("from_employee_id", BigId, nullable=False),
        sa.Column("to_employee_id", BigId, nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.Column("requested_at", Moment, nullable=True),
        sa.Column("settled_at", Moment, nullable=True),
        sa.Column("old_relationship_id", BigId, nullable=True),
        sa.Column("new_relationship_id", BigId, nullable=True),
        sa.Column("carried_over", sa.Boolean(), nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        _fk("handover_line", "handover_id", "handover", "CASCADE"),
        _fk("handover_line", "corp_id", "corp", "CASCADE"),
        _fk("handover_line", "customer_id", "customer", "CASCADE"),
        _fk("handover_line", "group_chat_id", "group_chat", "CASCADE"),
        _fk("handover_line", "from_employee_id", "employee", "CASCADE"),
        _fk("handover_line", "to_employee_id", "employee", "CASCADE"),
        _fk("handover_line", "old_relationship_id", "relationship", "SET NULL"),
        _fk("handover_line", "new_relationship_id", "relationship", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_line")),
        **MYSQL,
    )
    op.create_index(op.f("ix_handover_line_handover_id_state"), "handover_line", ["handover_id", "state"])
    op.create_index(op.f("ix_handover_line_corp_id_customer_id_state"), "handover_line",
                    ["corp_id", "customer_id", "state"])
    op.create_index(op.f("ix_handover_line_corp_id_group_chat_id_state"), "handover_line",
                    ["corp_id", "group_chat_id", "state"])
    op.create_table(
        "handover_step",
        sa.Column("id", BigId, nullable=False),
        sa.Column("line_id", BigId, nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=False),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.Column("at", Moment, nullable=False),
        _fk("handover_step", "line_id", "handover_line", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_step")),
        **MYSQL,
    )
    op.create_index(op.f("ix_handover_step_line_id"), "handover_step", ["line_id"])
    op.create_table(
        "pool_entry",
        sa.Column("id", BigId, nullable=False),
        sa.Column("corp_id", BigId, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("from_employee_id", BigId, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("entered_at", Moment, nullable=False),
        sa.Column("claimed_by", BigId, nullable=True),
        sa.Column("claimed_at", Moment, nullable=True),
        sa.Column("handover_id", BigId, nullable=True),
        sa.Column("closed_at", Moment, nullable=True),
        _fk("pool_entry", "corp_id", "corp", "CASCADE"),
        _fk("pool_entry", "customer_id", "customer", "CASCADE"),
        _fk("pool_entry", "from_employee_id", "employee", "SET NULL"),
        sa.ForeignKeyConstraint(["claimed_by"], ["employee.id"], name=op.f("fk_pool_entry_claimed_by_employee"),
                                ondelete="SET NULL"),
        _fk("pool_entry", "handover_id", "handover", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_entry")),
        **MYSQL,
    )
    op.create_index(op.f("ix_pool_entry_corp_id_status_entered_at"), "pool_entry", ["corp_id", "status", "entered_at"])
    op.create_index(op.f("ix_pool_entry_customer_id_status"), "pool_entry", ["customer_id", "status"])
    op.create_index(op.f("ix_pool_entry_claimed_by_claimed_at"), "pool_entry", ["claimed_by", "claimed_at"])
    op.create_table(
        "domain_event",
        sa.Column("id", BigId, nullable=False),
        sa.Column("corp_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("subject_id", BigId, nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        _fk("domain_event", "corp_id", "corp", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_event")),
        **MYSQL,
    )
    op.create_index(op.f("ix_domain_event_corp_id_kind_id"), "domain_event", ["corp_id", "kind", "id"])


def downgrade():
    for table in ("domain_event", "pool_entry", "handover_step", "handover_line", "handover"):
        op.drop_table(table)
    with op.batch_alter_table("relationship") as batch:
        batch.drop_constraint(op.f("fk_relationship_transferred_to_id_relationship"), type_="foreignkey")
        batch.drop_column("transferred_to_id")
