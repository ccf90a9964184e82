"""Inbox processing on the urgent queue, and the sweeper that re-enqueues what a broker or worker lost."""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from datetime import timedelta

from celery import shared_task
from flask import current_app

from scrm.models import utcnow
from scrm.services import inbox, processing, welcome
from tasks.celery_app import high_priority

log = logging.getLogger(__name__)


@shared_task(name="scrm.events.process")
def process_event(inbox_id: int) -> str:
    """Handle one inbox row; start its follow-up tasks and its successor; schedule its retry."""
    outcome = processing.process(inbox_id)
    tasks = current_app.extensions["celery"].tasks
    for name, args in outcome.followups:
        try:
            tasks[name].apply_async(args=list(args))
        except Exception:  # the event is done; its follow-up failed to start (or, in-process, ran out of retries)
            log.exception("follow-up %s%s of inbox %s", name, args, inbox_id)
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


@shared_task(name="scrm.events.fan_out")
def fan_out(inbox_ids: list[int]) -> int:
    """One processing task per row (workers run them in parallel)."""
    _enqueue_all(inbox_ids)
    return len(inbox_ids)


@shared_task(name="scrm.events.sweep")
def sweep() -> int:
    """Re-enqueue pending rows nobody picked up and rows whose worker's lease ran out."""
    due = inbox.due_for_sweep()
    _enqueue_all(due)
    return len(due)


#: A publication gathers the rows acknowledged meanwhile: it looks again every BATCH_IDLE seconds and closes when
#: nothing new came, when it is BATCH_WINDOW old (so processing starts that much later at most) or at BATCH_ROWS
#: rows. Under load one publish (about 1 ms of CPU with Celery and kombu) then carries dozens of rows, and the
#: thread wakes a few times per batch instead of once per row.
BATCH_IDLE = 0.02
BATCH_WINDOW = 0.1
BATCH_ROWS = 100


class Publisher:
    """Publishes from one background thread per process, so an acknowledgement never waits on the broker.

    Rows acknowledged meanwhile travel in one message and a worker fans them out: the web tier pays one publish
    per batch. A row whose publication is lost (the process dies first, the broker is down) is found by the sweeper.
    """

    def __init__(self, app):
        self.app = app
        self.queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.pid = os.getpid()
        threading.Thread(target=self._run, name="inbox-publisher", daemon=True).start()

    def _gather(self) -> list[int]:
        ids = [self.queue.get()]
        closes = time.monotonic() + BATCH_WINDOW
        while len(ids) < BATCH_ROWS and time.monotonic() < closes:
            time.sleep(BATCH_IDLE)
            before = len(ids)
            while len(ids) < BATCH_ROWS and not self.queue.empty():
                ids.append(self.queue.get_nowait())
            if len(ids) == before:
                break
        return ids

    def _run(self) -> None:
        with self.app.app_context():
            task = self.app.extensions["celery"].tasks[dispatch.name]
            while True:
                ids = self._gather()
                try:
                    task.apply_async(args=[ids], retry=False, priority=high_priority(self.app.config["BROKER_URL"]))
                except Exception as exc:  # broker down: the rows wait for the sweeper
                    log.warning("could not enqueue inbox %s: %s", ids, exc)
                    continue
                try:  # the broker has them: the sweeper must not enqueue them again while the queue is busy
                    inbox.mark_enqueued(ids)
                except Exception as exc:  # the sweeper enqueues them again; processing twice is harmless
                    log.warning("could not note inbox %s as enqueued: %s", ids, exc)


_publishers: dict[int, Publisher] = {}
_publishers_lock = threading.Lock()


def _current(publisher: Publisher | None, app) -> bool:
    # threads do not survive a fork, and an app id may be reused once its app is gone
    return publisher is not None and publisher.pid == os.getpid() and publisher.app is app


def publish_soon(inbox_id: int) -> None:
    """Queue a row for processing without waiting for the broker (in-process tasks run it now)."""
    app = current_app._get_current_object()
    if app.config["TASKS_EAGER"]:
        enqueue(inbox_id)
        return
    publisher = _publishers.get(id(app))
    if not _current(publisher, app):
        with _publishers_lock:
            publisher = _publishers.get(id(app))
            if not _current(publisher, app):
                publisher = _publishers[id(app)] = Publisher(app)
    publisher.queue.put(inbox_id)


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
