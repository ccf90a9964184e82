"""Syncs and the nightly reconcile, on the bulk queue."""
from __future__ import annotations

from celery import shared_task
from sqlalchemy import select

from scrm.extensions import db
from scrm.models import Corp
from scrm.services import sync


@shared_task(name="scrm.sync.corp")
def sync_corp(corp_id: int, only: str | None = None) -> dict:
    """Run (or resume) a corp's sync; returns its counts."""
    run = sync.start(db.session.get(Corp, corp_id), only)
    return sync.run_sync(run.id).counts


@shared_task(name="scrm.sync.reconcile_all")
def reconcile_all() -> int:
    """Queue a sync of every corp: it repairs what missed callbacks left behind."""
    corp_ids = list(db.session.scalars(select(Corp.id)))
    for corp_id in corp_ids:
        sync_corp.apply_async(args=[corp_id])
    return len(corp_ids)
