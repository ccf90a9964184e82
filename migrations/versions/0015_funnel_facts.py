"""What the funnel reads, kept as the stage history is written: `stage_change.stay_seconds` (the length of the stay
each change ends) and `customer.stages_reached` (the set of stages the customer ever moved to), with the indexes the
funnel's grouped counts and medians read. Existing histories are worked out in batches of customers, by the rules of
`scrm.models.stage` (repeated here so that this migration keeps meaning what it means when the models move on).

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}
REACHED_LENGTH = 600
SEPARATOR = "\x1f"
REACHED_UNKNOWN = SEPARATOR
BATCH = 5000  # customers per round

customer = sa.table("customer", sa.column("id", BigId), sa.column("created_at", sa.DateTime()))
stage_change = sa.table("stage_change", sa.column("id", BigId), sa.column("customer_id", BigId),
                        sa.column("to_stage", sa.String()), sa.column("changed_at", sa.DateTime()))
# the rows a batch works out, written here and applied in one joined UPDATE per batch (a row-by-row UPDATE of a
# million changes is a million round trips)
helpers = sa.MetaData()
stay_fill = sa.Table("funnel_stay_fill", helpers, sa.Column("id", BigId, primary_key=True, autoincrement=False),
                     sa.Column("seconds", sa.BigInteger()), **MYSQL)
reached_fill = sa.Table("funnel_reached_fill", helpers, sa.Column("id", BigId, primary_key=True, autoincrement=False),
                        sa.Column("reached", sa.String(REACHED_LENGTH), nullable=False), **MYSQL)


def _encode(stages) -> str:
    names = sorted(set(stages))
    if any(not name or SEPARATOR in name for name in names):
        return REACHED_UNKNOWN
    text = SEPARATOR.join(names)
    return text if len(text) <= REACHED_LENGTH else REACHED_UNKNOWN


def _seconds(ended, began):
    if ended is None or began is None:
        return None
    delta = ended - began
    return delta.days * 86400 + delta.seconds


def _apply(conn, target: str, column: str, helper: str, value: str) -> None:
    """target.column = helper.value for the helper's rows (one statement: an UPDATE joined to the helper table)."""
    if conn.dialect.name in ("mysql", "mariadb"):
        conn.execute(sa.text(f"UPDATE {target} JOIN {helper} ON {helper}.id = {target}.id "
                             f"SET {target}.{column} = {helper}.{value}"))
    else:  # SQLite (3.33+) and PostgreSQL
        conn.execute(sa.text(f"UPDATE {target} SET {column} = {helper}.{value} FROM {helper} "
                             f"WHERE {helper}.id = {target}.id"))
    conn.execute(sa.text(f"DELETE FROM {helper}"))


def backfill(conn, batch: int = BATCH) -> None:
    """Every customer's stays and reached set from its history, a batch of customers (by id) at a time."""
    helpers.create_all(conn)
    try:
        _backfill(conn, batch)
    finally:
        helpers.drop_all(conn)


def _backfill(conn, batch: int) -> None:
    last = 0
    while True:
        created = conn.execute(sa.select(customer.c.id, customer.c.created_at).where(customer.c.id > last)
                               .order_by(customer.c.id).limit(batch)).all()
        if not created:
            return
        low, last = created[0].id, created[-1].id
        began = dict(created)
        seen, stays = {}, []
        for row in conn.execute(sa.select(stage_change.c.id, stage_change.c.customer_id, stage_change.c.to_stage,
                                          stage_change.c.changed_at)
                                .where(stage_change.c.customer_id.between(low, last))
                                .order_by(stage_change.c.customer_id, stage_change.c.changed_at, stage_change.c.id)):
            if row.customer_id not in began:
                continue
            stays.append({"id": row.id, "seconds": _seconds(row.changed_at, began[row.customer_id])})
            began[row.customer_id] = row.changed_at
            seen.setdefault(row.customer_id, []).append(row.to_stage)
        if stays:
            conn.execute(sa.insert(stay_fill), stays)
            _apply(conn, "stage_change", "stay_seconds", "funnel_stay_fill", "seconds")
        if seen:
            conn.execute(sa.insert(reached_fill), [{"id": k, "reached": _encode(v)} for k, v in seen.items()])
            _apply(conn, "customer", "stages_reached", "funnel_reached_fill", "reached")


def upgrade():
    with op.batch_alter_table("stage_change") as batch_op:
        batch_op.add_column(sa.Column("stay_seconds", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("customer") as batch_op:
        batch_op.add_column(sa.Column("stages_reached", sa.String(length=REACHED_LENGTH), nullable=False,
                                      server_default=""))
    backfill(op.get_bind())
    with op.batch_alter_table("stage_change") as batch_op:
        batch_op.create_index(batch_op.f("ix_stage_change_corp_id_from_stage_stay_seconds"),
                              ["corp_id", "from_stage", "stay_seconds"])
        batch_op.create_index(batch_op.f("ix_stage_change_customer_id_from_stage_stay_seconds"),
                              ["customer_id", "from_stage", "stay_seconds"])
    with op.batch_alter_table("customer") as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_corp_id_stage_stages_reached"),
                              ["corp_id", "stage", "stages_reached"])
        batch_op.drop_index(batch_op.f("ix_customer_corp_id_stage"))


def downgrade():
    with op.batch_alter_table("customer") as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_corp_id_stage"), ["corp_id", "stage"])
        batch_op.drop_index(batch_op.f("ix_customer_corp_id_stage_stages_reached"))
        batch_op.drop_column("stages_reached")
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        # the new (corp_id, ...) index replaced the one InnoDB made for the corp_id foreign key, which needs one
        op.create_index("fk_stage_change_corp_id_corp", "stage_change", ["corp_id"])
    with op.batch_alter_table("stage_change") as batch_op:
        batch_op.drop_index(batch_op.f("ix_stage_change_customer_id_from_stage_stay_seconds"))
        batch_op.drop_index(batch_op.f("ix_stage_change_corp_id_from_stage_stay_seconds"))
        batch_op.drop_column("stay_seconds")
