"""The inbox: store each host event once (before acknowledging it), list it, replay it."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from scrm.db import unit_of_work
from scrm.errors import NotFound
from scrm.events import ParsedCallback
from scrm.extensions import db
from scrm.models import Corp, InboxEvent, utcnow

#: How long a row may wait in `pending` before the sweeper re-enqueues it (the broker may have lost the task).
SWEEP_AFTER = timedelta(seconds=5)


def store(corp: Corp, parsed: ParsedCallback, *, handled: bool) -> tuple[int, bool]:
    """Insert the event and commit; returns (row id, created). A duplicate delivery returns the first row."""
    # one INSERT and its COMMIT, nothing else: this runs while the host waits for its acknowledgement
    dedupe_key = parsed.dedupe_key[:128]
    try:
        with unit_of_work():
            result = db.session.execute(insert(InboxEvent).values(
                platform=corp.platform, corp_id=corp.id, dedupe_key=dedupe_key,
                event_type=parsed.event_type[:96], ordering_key=parsed.event.ordering_key, payload=parsed.payload,
                status="pending" if handled else "ignored", attempts=0, received_at=utcnow()))
        return result.inserted_primary_key[0], True
    except IntegrityError:
        existing = db.session.scalar(select(InboxEvent.id).where(InboxEvent.corp_id == corp.id,
                                                                 InboxEvent.dedupe_key == dedupe_key))
        if existing is None:
            raise
        return existing, False


def get(inbox_id: int) -> InboxEvent:
    row = db.session.get(InboxEvent, inbox_id)
    if row is None:
        raise NotFound(f"no inbox event {inbox_id}")
    return row


def list_events(*, corp_id: int | None = None, status: str | None = None, event_type: str | None = None,
                limit: int = 50) -> list[InboxEvent]:
    query = select(InboxEvent).order_by(InboxEvent.id.desc()).limit(limit)
    if corp_id is not None:
        query = query.where(InboxEvent.corp_id == corp_id)
    if status:
        query = query.where(InboxEvent.status == status)
    if event_type:
        query = query.where(InboxEvent.event_type.like(f"{event_type}%"))
    return list(db.session.scalars(query))


def count_by_status() -> dict[str, int]:
    rows = db.session.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all()
    return {status: n for status, n in rows}


def replay(ids: list[int]) -> list[int]:
    """Make rows pending again (fresh attempts); processing is idempotent, so replaying a done row is safe."""
    with unit_of_work():
        rows = list(db.session.scalars(select(InboxEvent).where(InboxEvent.id.in_(ids))))
        for row in rows:
            row.status, row.attempts, row.next_attempt_at, row.locked_until = "pending", 0, None, None
            row.last_error = None
    return [r.id for r in rows]


def ids_with_status(status: str, *, corp_id: int | None = None, limit: int = 1000) -> list[int]:
    query = select(InboxEvent.id).where(InboxEvent.status == status).order_by(InboxEvent.id).limit(limit)
    if corp_id is not None:
        query = query.where(InboxEvent.corp_id == corp_id)
    return list(db.session.scalars(query))


def due_for_sweep(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Pending rows nobody picked up (lost or deferred task) and rows whose worker's lease ran out."""
    now = now or utcnow()
    query = select(InboxEvent.id).where(or_(
        (InboxEvent.status == "pending") & (InboxEvent.received_at <= now - SWEEP_AFTER)
        & (or_(InboxEvent.next_attempt_at.is_(None), InboxEvent.next_attempt_at <= now)),
        (InboxEvent.status == "processing") & (InboxEvent.locked_until < now),
    )).order_by(InboxEvent.id).limit(limit)
    ids = list(db.session.scalars(query))
    db.session.rollback()
    return ids


def claim(row: InboxEvent, lease: timedelta) -> bool:
    """Take the row for this worker until the lease ends; False when another worker holds it."""
    now = utcnow()
    result = db.session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == row.id, or_(InboxEvent.status == "pending",
                                            (InboxEvent.status == "processing") & (InboxEvent.locked_until < now)))
        .values(status="processing", attempts=InboxEvent.attempts + 1, locked_until=now + lease)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def earlier_unfinished(row: InboxEvent) -> int | None:
    """An earlier row about the same customer/chat that is not finished: this row must wait for it."""
    if row.ordering_key is None:
        return None
    return db.session.scalar(select(InboxEvent.id).where(
        InboxEvent.corp_id == row.corp_id, InboxEvent.ordering_key == row.ordering_key, InboxEvent.id < row.id,
        InboxEvent.status.in_(("pending", "processing"))).order_by(InboxEvent.id).limit(1))


def successor(row: InboxEvent) -> int | None:
    """The next pending row with the same ordering key, to start once this one is finished."""
    if row.ordering_key is None:
        return None
    return db.session.scalar(select(InboxEvent.id).where(
        InboxEvent.corp_id == row.corp_id, InboxEvent.ordering_key == row.ordering_key, InboxEvent.id > row.id,
        InboxEvent.status == "pending").order_by(InboxEvent.id).limit(1))
