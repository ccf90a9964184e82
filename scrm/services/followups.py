"""Follow-up work, kept like the inbox keeps host events: stored with the commit that calls for it, run by a task,
retried after transient failures (past the host's blocks), and found again by the sweeper when a task was lost
(a broker down, a web process or worker killed). A follow-up that cannot succeed ends `dead` with its error, where
an admin sees it (`scrm followups`, `/healthz`'s counts) and can run it again.

Each kind of work is a function of the service that owns it; the task module names them (tasks.followups.WORK).
Running one twice is harmless: every kind reads what is still owed before telling the host.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from flask import current_app
from sqlalchemy import func, or_, select, update

from scrm import metrics
from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.models import Followup, utcnow
from scrm.services import retries

log = logging.getLogger(__name__)

#: A follow-up nobody published a task for is swept after this long (its publisher died first).
SWEEP_AFTER = timedelta(seconds=5)
RUN_TASK = "scrm.followups.run"
#: Kinds of follow-up that go to the bulk queue (long host work: handovers), not the urgent one.
BULK_KINDS: set[str] = set()
BULK_QUEUE = "bulk"


def add(corp_id: int, kind: str, *args, inbox_id: int | None = None) -> Followup:
    """Store work for later, inside the caller's unit of work: it commits (or not) with the caller's writes."""
    row = Followup(corp_id=corp_id, kind=kind, args=json.dumps(list(args)), inbox_id=inbox_id, status="pending",
                   attempts=0, due_at=utcnow())
    db.session.add(row)
    db.session.flush()
    return row


def start(ids: list[int], countdown: float = 0) -> None:
    """Publish the tasks of stored follow-ups, after the commit that stored them. In-process tasks run them now
    (a retry, later: the embedded beat sweeps it when due). Whatever fails to publish waits for the sweeper."""
    if not ids:
        return
    task = current_app.extensions["celery"].tasks[RUN_TASK]
    if current_app.config["TASKS_EAGER"]:
        for followup_id in ids if not countdown else ():
            try:
                task.apply(args=[followup_id], throw=True)
            except Exception:  # stored: the sweeper runs it again
                log.exception("follow-up %s", followup_id)
        return
    published = []
    bulk = set(db.session.scalars(select(Followup.id).where(Followup.id.in_(ids), Followup.kind.in_(BULK_KINDS)))
               ) if BULK_KINDS else set()
    for followup_id in ids:
        try:
            task.apply_async(args=[followup_id], countdown=countdown or None, retry=False,
                             **({"queue": BULK_QUEUE} if followup_id in bulk else {}))
            published.append(followup_id)
        except Exception as exc:  # broker down: the row is stored; the sweeper publishes it later
            log.warning("could not publish follow-up %s: %s", followup_id, exc)
    mark_enqueued(published, at=utcnow() + timedelta(seconds=countdown))


@dataclass
class Outcome:
    status: str  # done | retry | dead | busy | finished | missing
    retry_in: float | None = None


def run(followup_id: int, work: dict[str, Callable]) -> Outcome:
    """Claim the follow-up, do it, and record how it went."""
    row = db.session.get(Followup, followup_id)
    if row is None:
        return Outcome("missing")
    if row.status in ("done", "dead"):
        return Outcome("finished")
    now = utcnow()
    if row.status == "pending" and row.due_at > now:
        db.session.rollback()
        return Outcome("busy", retry_in=(row.due_at - now).total_seconds())
    kind, args = row.kind, json.loads(row.args)
    db.session.rollback()
    if not _claim(followup_id):
        return Outcome("busy")
    try:
        work[kind](*args)
    except Exception as exc:  # recorded on the row: retried later or dead, never lost
        db.session.rollback()
        return _failed(followup_id, exc)
    with unit_of_work():
        db.session.execute(update(Followup).where(Followup.id == followup_id).values(
            status="done", done_at=utcnow(), locked_until=None, last_error=None)
            .execution_options(synchronize_session=False))
    metrics.FOLLOWUPS.labels(kind, "done").inc()
    return Outcome("done")


def _claim(followup_id: int) -> bool:
    now = utcnow()
    lease = timedelta(seconds=current_app.config["FOLLOWUP_LEASE_SECONDS"])
    with unit_of_work():  # its own unit: other workers see the lease at once
        result = db.session.execute(
            update(Followup).where(Followup.id == followup_id, or_(
                (Followup.status == "pending") & (Followup.due_at <= now),
                (Followup.status == "running") & (Followup.locked_until < now)))
            .values(status="running", attempts=Followup.attempts + 1, locked_until=now + lease)
            .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _failed(followup_id: int, exc: Exception) -> Outcome:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    with unit_of_work():
        row = db.session.get(Followup, followup_id, populate_existing=True)
        row.last_error, row.locked_until = error, None
        row.attempts, wait = retries.next_try(exc, row.attempts, current_app.config["FOLLOWUP_MAX_ATTEMPTS"])
        if wait is not None:
            row.status, row.due_at = "pending", utcnow() + timedelta(seconds=wait)
            outcome = Outcome("retry", retry_in=wait)
        else:
            row.status, row.done_at = "dead", utcnow()
            outcome = Outcome("dead")
        kind, attempts = row.kind, row.attempts
    log.log(logging.WARNING if outcome.status == "dead" else logging.INFO, "follow-up %s (%s) %s after attempt %s: %s",
            followup_id, kind, outcome.status, attempts, error, exc_info=outcome.status == "dead")
    metrics.FOLLOWUPS.labels(kind, outcome.status).inc()
    return outcome


def due_for_sweep(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Follow-ups to publish again: due ones no task was published for (or so long ago that the broker lost it),
    and those whose worker's lease ran out."""
    now = now or utcnow()
    requeue = timedelta(seconds=current_app.config["INBOX_REQUEUE_SECONDS"])
    query = select(Followup.id).where(or_(
        (Followup.status == "pending") & (Followup.due_at <= now)
        & or_(Followup.enqueued_at.is_(None) & (Followup.created_at <= now - SWEEP_AFTER),
              Followup.enqueued_at <= now - requeue,
              Followup.enqueued_at < Followup.due_at),  # a retry nobody scheduled (in-process tasks)
        (Followup.status == "running") & (Followup.locked_until < now),
    )).order_by(Followup.id).limit(limit)
    ids = list(db.session.scalars(query))
    db.session.rollback()
    return ids


def mark_enqueued(ids: list[int], at: datetime | None = None) -> None:
    retries.mark_enqueued(Followup, ids, at)


def list_followups(*, status: str | None = None, corp_id: int | None = None, limit: int = 50,
                   before_id: int | None = None) -> list[Followup]:
    query = select(Followup).order_by(Followup.id.desc()).limit(limit)
    if before_id is not None:  # the next page of a newest-first listing
        query = query.where(Followup.id < before_id)
    if status:
        query = query.where(Followup.status == status)
    if corp_id is not None:
        query = query.where(Followup.corp_id == corp_id)
    return list(db.session.scalars(query))


def count_by_status() -> dict[str, int]:
    rows = db.session.execute(select(Followup.status, func.count()).group_by(Followup.status)).all()
    return {status: n for status, n in rows}


def retry(ids: list[int]) -> list[int]:
    """Make dead (or any unfinished) follow-ups due again, with fresh attempts."""
    with unit_of_work():
        rows = list(db.session.scalars(select(Followup).where(Followup.id.in_(ids), Followup.status != "done")))
        for row in rows:
            row.status, row.attempts, row.due_at, row.locked_until, row.done_at = "pending", 0, utcnow(), None, None
            row.enqueued_at = None
    return [r.id for r in rows]
