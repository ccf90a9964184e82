"""Store a parsed host event in the inbox and queue its processing: shared by HTTP callbacks and Stream mode."""
from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from scrm import metrics
from scrm.events import ParsedCallback
from scrm.models import Corp
from scrm.services import inbox, processing
from tasks.publisher import publish_soon


class NotStored(Exception):
    """The database refused the row: the event must not be acknowledged."""


def ingest(corp: Corp, parsed: ParsedCallback) -> bool:
    """Store the event, then enqueue it; True when it is new. A broker outage does not fail it."""
    handled = processing.is_handled(parsed.event)
    try:
        inbox_id, created = inbox.store(corp, parsed, handled=handled)
    except SQLAlchemyError as exc:
        raise NotStored(type(exc).__name__) from exc
    if not created:
        metrics.CALLBACKS_DUPLICATE.labels(corp.platform).inc()
        return False
    if handled:
        publish_soon(inbox_id)
    return True
