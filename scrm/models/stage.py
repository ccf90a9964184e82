"""A customer's stage (new, contacted, intent, won, lost, or the corp's own list) and its history.

What the funnel reads is kept as the history is written, so that counting it never replays the history:
`stage_change.stay_seconds` (the length of the stay each change ends) and `customer.stages_reached` (the set of the
stages the customer ever moved to). Both follow from the history alone, so `refresh` works them out again for every
customer whose history a flush touched (inserted, changed or deleted rows, in any order of `changed_at`: a change
written late moves the start of the next one's stay). Rows written around the ORM (bulk SQL) need `refresh` called
for their customers.

`stages_reached` holds names, not positions, so a corp that reorders, renames or extends its stage list reads it
right at once: the funnel interprets the names in the list of the moment. Encoding: the distinct names sorted and
joined by the unit separator (U+001F); a set that does not fit the column, or a name that cannot be encoded (empty,
or holding the separator), is stored as `REACHED_UNKNOWN` and the funnel reads that customer's history instead.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import chain

from sqlalchemy import BigInteger, ForeignKey, Index, String, bindparam, event, inspect, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from scrm.models.base import BigId, Base, MYSQL_TABLE, utcnow
from scrm.models.customer import Customer

DEFAULT_STAGES = ("new", "contacted", "intent", "won", "lost")


class StageChange(Base):
    __tablename__ = "stage_change"
    # the funnel reads the stays' lengths per stage from the last two: the whole corp's by corp, a filtered set's
    # by customer
    __table_args__ = (Index(None, "customer_id", "changed_at"), Index(None, "corp_id", "from_stage", "stay_seconds"),
                      Index(None, "customer_id", "from_stage", "stay_seconds"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: whole seconds (rounded down) of the stay in `from_stage` this change ends: since the customer's previous change
    #: in (changed_at, id) order, or since the customer was created; negative when a clock was set back. Kept by
    #: `refresh` whenever stage changes are flushed; never set by hand.
    stay_seconds: Mapped[int | None] = mapped_column(BigInteger)


SEPARATOR = "\x1f"
#: `customer.stages_reached` of a customer whose set could not be stored (see the module): never a valid encoding
REACHED_UNKNOWN = SEPARATOR
REACHED_LENGTH = Customer.__table__.c.stages_reached.type.length
#: customers per statement when refreshing many
BATCH = 500


def encode_reached(stages: Iterable[str]) -> str:
    names = sorted(set(stages))
    if any(not name or SEPARATOR in name for name in names):
        return REACHED_UNKNOWN
    text = SEPARATOR.join(names)
    return text if len(text) <= REACHED_LENGTH else REACHED_UNKNOWN


def decode_reached(text: str) -> set[str] | None:
    """The set of names; None for `REACHED_UNKNOWN`."""
    if text == REACHED_UNKNOWN:
        return None
    return set(text.split(SEPARATOR)) if text else set()


def stay_seconds(ended: datetime | None, began: datetime | None) -> int | None:
    """Whole seconds from `began` to `ended`, rounded down (so a stay a fraction of a second negative stays negative)."""
    if ended is None or began is None:
        return None
    delta = ended - began
    return delta.days * 86400 + delta.seconds


def refresh(session: Session, customer_ids: Iterable[int]) -> None:
    """Work out `stay_seconds` of every stage change of these customers and their `stages_reached` from the history
    as it is now in the session's transaction, writing only what differs (and keeping loaded objects in step)."""
    ids = sorted({i for i in customer_ids if i is not None})
    conn = session.connection()
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        customers = {row.id: row for row in conn.execute(
            select(Customer.id, Customer.created_at, Customer.stages_reached).where(Customer.id.in_(batch)))}
        history = conn.execute(select(StageChange.id, StageChange.customer_id, StageChange.to_stage,
                                      StageChange.changed_at, StageChange.stay_seconds)
                               .where(StageChange.customer_id.in_(batch))
                               .order_by(StageChange.customer_id, StageChange.changed_at, StageChange.id)).all()
        stays, reached, previous, seen = {}, {}, {}, {}
        for row in history:
            if row.customer_id not in customers:
                continue
            began = previous.get(row.customer_id, customers[row.customer_id].created_at)
            seconds = stay_seconds(row.changed_at, began)
            if seconds != row.stay_seconds:
                stays[row.id] = seconds
            previous[row.customer_id] = row.changed_at
            seen.setdefault(row.customer_id, []).append(row.to_stage)
        for customer_id, row in customers.items():
            text = encode_reached(seen.get(customer_id, ()))
            if text != row.stages_reached:
                reached[customer_id] = text
        if stays:
            conn.execute(update(StageChange).where(StageChange.id == bindparam("row_id"))
                         .values(stay_seconds=bindparam("seconds")).execution_options(synchronize_session=False),
                         [{"row_id": k, "seconds": v} for k, v in stays.items()])
        if reached:  # updated_at stays: the customer's own fields did not change
            conn.execute(update(Customer).where(Customer.id == bindparam("row_id"))
                         .values(stages_reached=bindparam("reached"), updated_at=Customer.updated_at)
                         .execution_options(synchronize_session=False),
                         [{"row_id": k, "reached": v} for k, v in reached.items()])
        for obj in list(session.identity_map.values()):
            if isinstance(obj, StageChange) and obj.id in stays:
                set_committed_value(obj, "stay_seconds", stays[obj.id])
            elif isinstance(obj, Customer) and obj.id in reached:
                set_committed_value(obj, "stages_reached", reached[obj.id])


@event.listens_for(Session, "after_flush")
def _history_flushed(session: Session, _context) -> None:
    touched = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, StageChange):
            touched.add(obj.customer_id)
            touched.update(inspect(obj).attrs.customer_id.history.deleted)  # moved: the old history changed too
    if touched:
        refresh(session, touched)
