"""Celery built from the Flask app: in-process (eager) without a broker, on Redis/RabbitMQ otherwise."""
from __future__ import annotations

from celery import Celery, Task
from celery.schedules import crontab
from flask import Flask, has_app_context
from kombu import Exchange, Queue

from tasks.queues import BULK, DEFAULT_PRIORITY, ROUTES, URGENT

#: The modules whose tasks this Celery app runs (imported when the app is built, and by every worker).
TASK_MODULES = ["tasks.channels", "tasks.events", "tasks.followups", "tasks.handovers", "tasks.sync", "tasks.system"]


def init_celery(app: Flask) -> Celery:
    """Create the Celery app for this Flask app and make it the default for `shared_task`."""

    class AppTask(Task):
        # Push an app context only when none is active, so eager tasks reuse the caller's session.
        def __call__(self, *args, **kwargs):
            if has_app_context():
                return self.run(*args, **kwargs)
            with app.app_context():
                return self.run(*args, **kwargs)

    broker = app.config["BROKER_URL"]
    eager = app.config["TASKS_EAGER"]
    celery = Celery(app.import_name, task_cls=AppTask, include=TASK_MODULES)
    celery.conf.update(
        broker_url=broker or "memory://",
        result_backend=app.config["REDIS_URL"] if (app.config["REDIS_URL"] and not eager) else None,
        task_always_eager=eager,
        task_eager_propagates=True,
        task_store_eager_result=False,
        # results nobody reads cost a Redis write per task on the worker and a subscription per publish
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # each queue its own exchange and key: without them both take the default (urgent's), and a bulk task
        # lands in both queues
        task_queues=tuple(Queue(q, Exchange(q, type="direct"), routing_key=q) for q in (URGENT, BULK)),
        task_default_priority=DEFAULT_PRIORITY,
        task_queue_max_priority=10,
        task_default_queue=URGENT,
        task_routes=ROUTES,
        task_serializer="json",
        accept_content=["json"],
        result_expires=3600,
        broker_connection_retry_on_startup=True,
        # A callback must answer even when the broker is down: fail fast, the sweeper re-enqueues later.
        broker_connection_timeout=2,
        task_publish_retry=False,
        broker_transport_options={"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 5,
                                  "max_retries": 0, "priority_steps": list(range(10))},
        timezone="UTC",
        enable_utc=True,
        beat_schedule={
            "sweep-inbox": {"task": "scrm.events.sweep", "schedule": app.config.get("INBOX_SWEEP_SECONDS", 5.0)},
            "sweep-followups": {"task": "scrm.followups.sweep",
                                "schedule": app.config.get("INBOX_SWEEP_SECONDS", 5.0)},
            "reconcile-nightly": {"task": "scrm.sync.reconcile_all", "schedule": crontab(hour=3, minute=17)},
            "channels-minutely": {"task": "scrm.channels.sweep", "schedule": 60.0},
            "handovers": {"task": "scrm.handovers.poll", "schedule": app.config.get("HANDOVER_POLL_SECONDS", 300)},
            "pool-nightly": {"task": "scrm.handovers.pool", "schedule": crontab(hour=3, minute=47)},
        },
    )
    celery.set_default()
    app.extensions["celery"] = celery
    celery.loader.import_default_modules()  # the `include` modules: their shared tasks join this app
    return celery
