"""The inbox: store each host event once (before acknowledging it), list it, replay it."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Engine, create_engine, func, or_, select, update
from sqlalchemy.exc import DBAPIError

from scrm.db import unit_of_work
from scrm.errors import NotFound
from scrm.events import ParsedCallback
from scrm.extensions import db
from scrm.models import Corp, InboxEvent, utcnow

#: How long a row may wait in `pending` before the sweeper re-enqueues it (the broker may have lost the task).
SWEEP_AFTER = timedelta(seconds=5)


_COLUMNS = ("platform", "corp_id", "dedupe_key", "event_type", "ordering_key", "payload", "status", "attempts",
            "received_at")


def _autocommit_engine() -> tuple[Engine, str]:
    """An engine whose connections commit each statement, and the INSERT an acknowledgement waits on."""
    found = current_app.extensions.get("scrm.inbox_engine")
    if found is None:
        options = {k: v for k, v in current_app.config["SQLALCHEMY_ENGINE_OPTIONS"].items() if k != "isolation_level"}
        if db.engine.url.get_backend_name() == "sqlite":
            options["connect_args"] = {"timeout": 15}
        engine = create_engine(db.engine.url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, **options)
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        sql = f"INSERT INTO inbox_event ({', '.join(_COLUMNS)}) VALUES ({', '.join([mark] * len(_COLUMNS))})"
        found = current_app.extensions["scrm.inbox_engine"] = (engine, sql)
    return found


def store(corp: Corp, parsed: ParsedCallback, *, handled: bool) -> tuple[int, bool]:
    """Insert the event, committed; returns (row id, created). A duplicate delivery returns the first row.

    This runs while the host waits for its acknowledgement, so it is one statement on a pooled autocommit DBAPI
    connection: one round trip, and none of the ORM's work per call (which halved callback throughput).
    """
    dedupe_key = parsed.dedupe_key[:128]
    engine, sql = _autocommit_engine()
    values = (corp.platform, corp.id, dedupe_key, parsed.event_type[:96], parsed.event.ordering_key, parsed.payload,
              "pending" if handled else "ignored", 0, utcnow())
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(sql, values)
        return cursor.lastrowid, True
    except engine.dialect.loaded_dbapi.IntegrityError:
        existing = db.session.scalar(select(InboxEvent.id).where(InboxEvent.corp_id == corp.id,
                                                                 InboxEvent.dedupe_key == dedupe_key))
        if existing is None:
            raise
        return existing, False
    except engine.dialect.loaded_dbapi.Error as exc:  # the callers' contract: SQLAlchemy errors mean "not stored"
        raise DBAPIError.instance(sql, values, exc, engine.dialect.loaded_dbapi.Error) from exc
    finally:
        raw.close()


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
