"""The inbox: store each host event once (before acknowledging it), list it, replay it."""
from __future__ import annotations

import threading
import time
import weakref
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import create_engine, exists, func, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from scrm.db import unit_of_work
from scrm.errors import NotFound
from scrm.events import ParsedCallback
from scrm.extensions import db
from scrm.models import Corp, InboxEvent, WelcomeDelivery, utcnow
from scrm.services import retries, welcome

#: How long a row nobody published a task for may wait in `pending` before the sweeper enqueues it (the broker was
#: down when it arrived, or its web process died before publishing).
SWEEP_AFTER = timedelta(seconds=5)


_COLUMNS = ("platform", "corp_id", "dedupe_key", "event_type", "ordering_key", "payload", "received_at", "status",
            "attempts")
#: A thread keeps its acknowledgement connection this long (like pool_recycle: MySQL drops idle connections).
HOLD_SECONDS = 280.0


class _Writer:
    """The INSERT an acknowledgement waits on, on an autocommit connection that each thread keeps.

    This runs while the host waits, so it is one statement and one round trip, with none of the ORM's work (which
    halved callback throughput) and no pool checkout per call. Constants are part of the statement, not escaped per
    call; MySQL stamps received_at itself (UTC).
    """

    def __init__(self, url, options: dict):
        options = {k: v for k, v in options.items() if k != "isolation_level"}
        self.stamped_here = url.get_backend_name() == "sqlite"
        if self.stamped_here:
            options["connect_args"] = {"timeout": 15}
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, **options)
        self.dbapi = self.engine.dialect.loaded_dbapi
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        received = mark if self.stamped_here else "UTC_TIMESTAMP(6)"
        self.sql = {handled: f"INSERT INTO inbox_event ({', '.join(_COLUMNS)}) VALUES "
                             f"({', '.join([mark] * 6)}, {received}, '{'pending' if handled else 'ignored'}', 0)"
                    for handled in (True, False)}
        self.held = threading.local()
        # every thread's connection, so close() reaches them all; a thread that ends returns its own to the pool
        self.open: weakref.WeakSet = weakref.WeakSet()
        self.lock = threading.Lock()

    def _connection(self):
        held = getattr(self.held, "conn", None)
        if held is not None and held[1] > time.monotonic():
            return held[0]
        if held is not None:
            self._drop(held[0])
        conn = self.engine.raw_connection()
        with self.lock:
            self.open.add(conn)
        self.held.conn = (conn, time.monotonic() + HOLD_SECONDS)
        return conn

    def _drop(self, conn, *, broken: bool = False) -> None:
        self.held.conn = None
        with self.lock:
            self.open.discard(conn)
        if broken:
            conn.invalidate()
        else:
            conn.close()

    def close(self) -> None:
        with self.lock:
            conns, self.open = list(self.open), weakref.WeakSet()
        for conn in conns:
            conn.close()
        self.engine.dispose()

    def insert(self, values: tuple, *, handled: bool) -> int:
        """The new row's id; IntegrityError for a stored dedupe key, another DBAPIError when nothing was stored."""
        sql = self.sql[handled]
        if self.stamped_here:
            values += (utcnow(),)
        conn = self._connection()
        try:
            cursor = conn.cursor()
            cursor.execute(sql, values)
            return cursor.lastrowid
        except self.dbapi.Error as exc:  # the callers' contract: SQLAlchemy errors mean "not stored"
            if not isinstance(exc, self.dbapi.IntegrityError):
                self._drop(conn, broken=True)
            raise DBAPIError.instance(sql, values, exc, self.dbapi.Error) from exc


def _writer() -> _Writer:
    found = current_app.extensions.get("scrm.inbox_writer")
    if found is None:
        found = current_app.extensions["scrm.inbox_writer"] = _Writer(
            db.engine.url, current_app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    return found


def close_writer() -> None:
    """Close the acknowledgement connections of this app (every thread's)."""
    writer = current_app.extensions.pop("scrm.inbox_writer", None)
    if writer is not None:
        writer.close()


def store(corp: Corp, parsed: ParsedCallback, *, handled: bool) -> tuple[int, bool]:
    """Insert the event, committed; returns (row id, created). A duplicate delivery returns the first row."""
    dedupe_key = parsed.dedupe_key[:128]
    try:
        return _writer().insert((corp.platform, corp.id, dedupe_key, parsed.event_type[:96],
                                 parsed.event.ordering_key, parsed.payload), handled=handled), True
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
                limit: int = 50, before_id: int | None = None) -> list[InboxEvent]:
    query = select(InboxEvent).order_by(InboxEvent.id.desc()).limit(limit)
    if before_id is not None:  # the next page of a newest-first listing
        query = query.where(InboxEvent.id < before_id)
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
    """Rows to enqueue again: pending rows no task was published for, or whose task was published so long ago that
    the broker must have lost it (INBOX_REQUEUE_SECONDS), and rows whose worker's lease ran out. A row waiting in
    a busy queue behind a burst is left alone: enqueueing it again would only add to the burst."""
    now = now or utcnow()
    requeue = timedelta(seconds=current_app.config.get("INBOX_REQUEUE_SECONDS", 120))
    query = select(InboxEvent.id).where(or_(
        (InboxEvent.status == "pending")
        & or_(InboxEvent.enqueued_at.is_(None) & (InboxEvent.received_at <= now - SWEEP_AFTER),
              InboxEvent.enqueued_at <= now - requeue)
        & (or_(InboxEvent.next_attempt_at.is_(None), InboxEvent.next_attempt_at <= now)),
        (InboxEvent.status == "processing") & (InboxEvent.locked_until < now),
    )).order_by(InboxEvent.id).limit(limit)
    ids = list(db.session.scalars(query))
    db.session.rollback()
    return ids


def welcomes_owed(published_before: datetime, now: datetime | None = None) -> list[int]:
    """Adds still inside their welcome window, published before `published_before`, whose welcome is not recorded
    and that no worker holds: the tasks of a worker that was killed (the broker gives them back only after its
    visibility timeout, long after the welcome code died)."""
    now = now or utcnow()
    ids = list(db.session.scalars(select(InboxEvent.id).where(
        InboxEvent.status == "pending", InboxEvent.event_type.in_(welcome.ADD_EVENTS),
        InboxEvent.received_at > now - welcome.WINDOW, InboxEvent.enqueued_at < published_before,
        ~exists().where(WelcomeDelivery.inbox_id == InboxEvent.id)).order_by(InboxEvent.id)))
    db.session.rollback()
    return ids


def mark_enqueued(ids: list[int], at: datetime | None = None) -> None:
    """Note that processing tasks for these rows are with the broker (from `at`, for a delayed retry)."""
    retries.mark_enqueued(InboxEvent, ids, at)


def claim(row: InboxEvent, lease: timedelta) -> bool:
    """Take the row for this worker until the lease ends; False when another worker holds it."""
    now = utcnow()
    with unit_of_work():  # its own unit: other workers must see the lease at once
        result = db.session.execute(
            update(InboxEvent)
            .where(InboxEvent.id == row.id, or_(InboxEvent.status == "pending",
                                                (InboxEvent.status == "processing") & (InboxEvent.locked_until < now)))
            .values(status="processing", attempts=InboxEvent.attempts + 1, locked_until=now + lease)
            .execution_options(synchronize_session=False))
    return result.rowcount == 1


def extend_lease(inbox_id: int, lease: timedelta) -> None:
    """The worker still holds the row: its lease now ends `lease` from now."""
    with unit_of_work():
        db.session.execute(update(InboxEvent).where(InboxEvent.id == inbox_id, InboxEvent.status == "processing")
                           .values(locked_until=utcnow() + lease).execution_options(synchronize_session=False))


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
