"""Inbox processing on the urgent queue, and the sweeper that re-enqueues what a broker or worker lost.

The web tier hands acknowledged rows to `tasks.publisher`; these are the tasks it and the sweeper publish."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from celery.signals import worker_ready
from flask import current_app

from scrm.models import utcnow
from scrm.services import followups, inbox, processing, welcome
from tasks.queues import high_priority

log = logging.getLogger(__name__)
#: The sweeps beat runs every few seconds: Celery's "Task ... succeeded" (and beat's "Sending due task") lines for
#: them are logged at DEBUG when they found nothing, so the request log is not buried under them.
QUIET_TASKS = frozenset({"scrm.events.sweep", "scrm.followups.sweep"})
QUIET_ENTRIES = frozenset({"sweep-inbox", "sweep-followups"})


class QuietSweeps(logging.Filter):
    """Lower an idle sweep's routine lines to DEBUG: dropped unless the logger is enabled for DEBUG (the root handler
    of `logging.basicConfig` has no level of its own, so a relabelled record would still be printed)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        idle = (isinstance(args, dict) and args.get("name") in QUIET_TASKS and str(args.get("return_value")) == "0"
                ) or (record.name == "celery.beat" and isinstance(args, tuple) and args[:1]
                      and args[0] in QUIET_ENTRIES)
        if idle and record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def quiet_sweeps() -> None:
    """Install the filter on Celery's task-trace and beat loggers (idempotent)."""
    for name in ("celery.app.trace", "celery.beat"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuietSweeps) for f in logger.filters):
            logger.addFilter(QuietSweeps())


quiet_sweeps()


@shared_task(name="scrm.events.process")
def process_event(inbox_id: int) -> str:
    """Handle one inbox row; start its follow-ups and its successor; schedule its retry."""
    outcome = processing.process(inbox_id)
    followups.start(outcome.followups)  # stored with the row's commit: what fails to start, the sweeper starts
    if outcome.successor:
        _enqueue_all([outcome.successor])
    if outcome.retry_in is not None:
        _enqueue_all([inbox_id], countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="scrm.events.dispatch")
def dispatch(inbox_ids: list[int]) -> int:
    """Send the batch's welcome messages, then leave the rows to fan_out.

    Dispatch tasks are published ahead of every other task (high priority): a welcome code lives 20 seconds,
    whatever the backlog of slower work. The rows' own tasks are published by fan_out, at normal priority, so a
    campaign burst spends its first seconds on welcomes rather than on publishing thousands of tasks."""
    try:
        welcome.send_for_inbox(inbox_ids)
    except Exception:  # processing sends what is still due
        log.exception("welcome messages of inbox %s", inbox_ids)
    fan_out.apply_async(args=[inbox_ids])
    return len(inbox_ids)


@shared_task(name="scrm.events.recover_welcomes")
def recover_welcomes(started_at: str) -> int:
    """A worker started, perhaps in place of one that was killed: send the welcomes that were due in the dispatch
    tasks it held (adds published before `started_at`, still in their window, with no welcome recorded)."""
    owed = inbox.welcomes_owed(datetime.fromisoformat(started_at))
    if owed:
        dispatch(owed)
    return len(owed)


@worker_ready.connect
def _worker_ready(sender=None, **_) -> None:
    """Late acknowledgement gives a killed worker's tasks back only after the broker's visibility timeout: on every
    worker start, the welcomes they owed are recovered at once (ahead of any backlog)."""
    celery = sender.app
    celery.tasks[recover_welcomes.name].apply_async(args=[utcnow().isoformat()],
                                                    priority=high_priority(celery.conf.broker_url))


@shared_task(name="scrm.events.fan_out")
def fan_out(inbox_ids: list[int]) -> int:
    """One processing task per row (workers run them in parallel)."""
    _enqueue_all(inbox_ids)
    return len(inbox_ids)


@shared_task(name="scrm.events.sweep")
def sweep() -> int:
    """Re-enqueue pending rows nobody picked up and rows whose worker's lease ran out (and note that beat ran)."""
    from scrm.services.doctor import record_beat

    record_beat()
    due = inbox.due_for_sweep()
    if due:
        log.info("sweep: enqueueing %d inbox row(s) nobody picked up: %s", len(due), due[:20])
    _enqueue_all(due)
    return len(due)


def _enqueue_all(inbox_ids: list[int], countdown: float = 0) -> None:
    """Enqueue rows and note when their tasks are due, so the sweeper leaves them to the broker (in-process mode
    runs them at once, and its retries wait for the sweeper)."""
    published = [i for i in inbox_ids if enqueue(i, countdown=countdown)]
    if not current_app.config["TASKS_EAGER"]:
        inbox.mark_enqueued(published, at=utcnow() + timedelta(seconds=countdown))


def enqueue(inbox_id: int, countdown: float = 0) -> bool:
    """Queue processing of a row; False when the broker is unreachable (the row waits for the sweeper)."""
    # the Celery app of *this* Flask app (several may live in one process: tests, the sandbox)
    task = current_app.extensions["celery"].tasks[process_event.name]
    if current_app.config["TASKS_EAGER"]:
        if countdown:
            return True  # in-process mode has no delayed queue: the sweeper runs it when due
        task.apply(args=[inbox_id], throw=True)
        return True
    try:
        task.apply_async(args=[inbox_id], countdown=countdown or None, retry=False)
        return True
    except Exception as exc:  # broker down: the row is stored; the sweeper will enqueue it later
        log.warning("could not enqueue inbox %s: %s", inbox_id, exc)
        return False
