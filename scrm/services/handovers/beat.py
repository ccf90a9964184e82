"""Beat's round over handovers (on the bulk queue): the corps' handover rules applied, then every running handover
whose host results are due advanced."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from scrm.extensions import db
from scrm.host import HostError
from scrm.models import Handover, utcnow
from scrm.services.handovers import rules
from scrm.services.handovers.execution import advance

log = logging.getLogger(__name__)


def due(now: datetime | None = None) -> list[int]:
    """Running handovers whose next look is due."""
    now = now or utcnow()
    ids = list(db.session.scalars(select(Handover.id).where(Handover.status == "running",
                                                          Handover.next_poll_at <= now).order_by(Handover.id)))
    db.session.rollback()
    return ids


def poll(now: datetime | None = None) -> int:
    """Advance every handover that is due (beat, on the bulk queue); a host error leaves it for the next round."""
    rules.apply(now)
    ids = due(now)
    for handover_id in ids:
        try:
            advance(handover_id, now=now)
        except HostError as exc:
            db.session.rollback()
            log.warning("handover %s: %s; trying again on the next round", handover_id, exc)
    return len(ids)
