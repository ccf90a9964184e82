"""Handovers and the customer pool on the bulk queue: beat's look at handovers whose host results are due, and the
nightly pool (customers nobody follows, the corp's rules). A started handover itself runs as a follow-up."""
from __future__ import annotations

from celery import shared_task
from sqlalchemy import select

from scrm.extensions import db
from scrm.models import Corp
from scrm.services import handovers, pool


@shared_task(name="scrm.handovers.poll")
def poll() -> int:
    """Advance the running handovers that are due; how many."""
    return handovers.poll()


@shared_task(name="scrm.handovers.pool")
def pool_sweep() -> dict:
    """Every corp's pool brought up to date, and its rules applied."""
    counts: dict = {}
    for corp in list(db.session.scalars(select(Corp))):
        for key, value in {**pool.refresh(corp), **pool.apply_rules(corp)}.items():
            counts[key] = counts.get(key, 0) + value
    return counts
