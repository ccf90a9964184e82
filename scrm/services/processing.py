"""Process one inbox row: claim it, run its handler and mark it done in one transaction, or schedule a retry.

Exactly-once effects come from the row itself: the handler's writes and `status = done` commit together, and a
row that is done is never handled again. Rows with the same ordering key (one customer, one chat) are handled in
arrival order: a row waits while an earlier one is unfinished, and finishing a row names its successor.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app

from scrm import metrics
from scrm.db import unit_of_work
from scrm.events import (
    ChatAuthorized,
    CustomerAdded,
    CustomerEdited,
    CustomerRemovedByCustomer,
    CustomerRemovedByEmployee,
    DepartmentChanged,
    EmployeeChanged,
    GroupChatChanged,
    HostEvent,
    TagChanged,
    TransferFailed,
)
from scrm.extensions import db
from scrm.host import platforms
from scrm.models import Corp, InboxEvent, utcnow
from scrm.services import channels, group_chats, inbox, org, relations, retries, tags, welcome
from scrm.services.corps import host_for
from scrm.services.event_context import EventContext

log = logging.getLogger(__name__)

HANDLERS = {
    CustomerAdded: channels.on_channel_customer_added,
    CustomerEdited: relations.on_customer_edited,
    CustomerRemovedByEmployee: relations.on_removed_by_employee,
    CustomerRemovedByCustomer: relations.on_removed_by_customer,
    TransferFailed: relations.on_transfer_failed,
    ChatAuthorized: relations.on_chat_authorized,
    EmployeeChanged: org.on_employee_changed,
    DepartmentChanged: org.on_department_changed,
    TagChanged: tags.on_tag_changed,
    GroupChatChanged: group_chats.on_group_chat_changed,
}


def is_handled(event: HostEvent) -> bool:
    return type(event) in HANDLERS


#: What must happen before anything slower for an event, in its own transaction: the welcome code lives 20 s.
FIRST = {CustomerAdded: welcome.ensure_sent}


@dataclass
class Outcome:
    status: str  # done | retry | dead | blocked | busy | finished | missing
    retry_in: float | None = None  # seconds until the row should be tried again
    successor: int | None = None  # the next row of the same ordering key, ready to start
    followups: list[int] = field(default_factory=list)  # follow-ups the row's commit stored, to start now


#: SQLite (the embedded mode) has one writer at a time: handle one row at a time per process, so that two
#: callbacks meeting the same new employee never race to insert them.
_sqlite_serial = threading.Lock()


def process(inbox_id: int) -> Outcome:
    """Handle one inbox row (see the module docstring)."""
    if db.session.get_bind().dialect.name == "sqlite":
        with _sqlite_serial:
            return _process(inbox_id)
    return _process(inbox_id)


def _process(inbox_id: int) -> Outcome:
    row = db.session.get(InboxEvent, inbox_id)
    if row is None:
        return Outcome("missing")
    if row.status not in ("pending", "processing"):
        return Outcome("finished")
    now = utcnow()
    if row.status == "pending" and row.next_attempt_at and row.next_attempt_at > now:
        return Outcome("busy", retry_in=(row.next_attempt_at - now).total_seconds())
    if inbox.earlier_unfinished(row) is not None:
        db.session.rollback()
        return Outcome("blocked")
    lease = timedelta(seconds=current_app.config["INBOX_LEASE_SECONDS"])
    # an add's welcome code lives 20 s: until its welcome is recorded, a dead worker's row is taken over in seconds
    welcome_first = row.event_type in welcome.ADD_EVENTS
    short = timedelta(seconds=min(current_app.config["INBOX_WELCOME_LEASE_SECONDS"], lease.total_seconds()))
    if not inbox.claim(row, short if welcome_first else lease):
        return Outcome("busy")
    db.session.refresh(row)
    corp = db.session.get(Corp, row.corp_id)
    ctx = EventContext(row.id, row.corp_id)
    try:
        parsed = platforms().parse(row.platform, row.payload)
        host = host_for(corp)
        first = FIRST.get(type(parsed.event))
        if first is not None:
            first(corp, row, parsed.event, host)
        if welcome_first:
            inbox.extend_lease(row.id, lease)
        with unit_of_work():
            HANDLERS[type(parsed.event)](corp, parsed.event, host, ctx)
            row.status, row.processed_at, row.locked_until, row.last_error = "done", utcnow(), None, None
            row.next_attempt_at = None
    except Exception as exc:  # every failure is recorded on the row; none is lost
        return _failed(inbox_id, exc)
    metrics.EVENTS_PROCESSED.labels(row.platform, "done").inc()
    metrics.EVENT_LATENCY.labels(row.platform).observe((row.processed_at - row.received_at).total_seconds())
    return Outcome("done", successor=inbox.successor(row), followups=ctx.followups)


def _failed(inbox_id: int, exc: Exception) -> Outcome:
    max_attempts = current_app.config.get("INBOX_MAX_ATTEMPTS", 8)
    error = f"{type(exc).__name__}: {exc}"[:2000]
    with unit_of_work():
        row = db.session.get(InboxEvent, inbox_id)
        row.last_error, row.locked_until = error, None
        row.attempts, delay = retries.next_try(exc, row.attempts, max_attempts)
        if delay is not None:
            row.status, row.next_attempt_at = "pending", utcnow() + timedelta(seconds=delay)
            outcome = Outcome("retry", retry_in=delay)
        else:
            row.status, row.processed_at = "dead", utcnow()
            outcome = Outcome("dead")
        platform = row.platform
    log.warning("inbox %s %s after attempt %s: %s", inbox_id, outcome.status, row.attempts, error,
                exc_info=not retries.transient(exc))
    metrics.EVENTS_PROCESSED.labels(platform, outcome.status).inc()
    if outcome.status == "dead":
        outcome.successor = inbox.successor(row)
    return outcome
