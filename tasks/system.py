"""Operational tasks: a round trip through the broker, the worker and the database."""
from __future__ import annotations

import os

from celery import shared_task
from sqlalchemy import func, select

from scrm.extensions import db
from scrm.models import Corp


@shared_task(name="scrm.system.ping", ignore_result=False)
def ping(token: str) -> dict:
    """Answer with the worker's pid and the number of corps it can read, proving broker, worker and database."""
    corps = db.session.scalar(select(func.count()).select_from(Corp))
    return {"token": token, "pid": os.getpid(), "corps": corps}
