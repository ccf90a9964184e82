"""The customer's timeline: every interaction leaves an entry, written once even when an event is handled twice."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from scrm.extensions import db
from scrm.models import TimelineEntry, utcnow


def record(*, corp_id: int, customer_id: int, kind: str, employee_id: int | None = None,
           relationship_id: int | None = None, payload: dict | None = None, occurred_at: datetime | None = None,
           dedupe_key: str | None = None, channel_id: int | None = None) -> TimelineEntry | None:
    """Append an entry (inside the caller's unit of work); with a dedupe key, an existing entry wins."""
    if dedupe_key is not None:
        existing = db.session.scalar(select(TimelineEntry).where(TimelineEntry.dedupe_key == dedupe_key))
        if existing is not None:
            return None
    entry = TimelineEntry(corp_id=corp_id, customer_id=customer_id, kind=kind, employee_id=employee_id,
                          relationship_id=relationship_id, channel_id=channel_id, payload=payload or {},
                          occurred_at=occurred_at or utcnow(), dedupe_key=dedupe_key)
    db.session.add(entry)
    return entry
