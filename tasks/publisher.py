"""The web tier's publisher: acknowledged inbox rows go to the broker from a background thread, in batches."""
from __future__ import annotations

import logging
import os
import queue
import threading
import time

from flask import current_app

from scrm.services import inbox
from tasks.events import dispatch, enqueue
from tasks.queues import high_priority

log = logging.getLogger(__name__)


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
