"""When work that failed is worth another try, and when; and noting when work went to the broker. Shared by inbox
rows and follow-ups, which are retried and swept alike."""
from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.host import HostError
from scrm.models import utcnow

#: A block the host imposes is waited out plus up to this share of it again, so deferred work does not all return
#: at the same instant.
BLOCK_JITTER = 0.1


def transient(exc: BaseException) -> bool:
    """Whether trying again later can succeed."""
    if isinstance(exc, HostError):
        return exc.transient
    if isinstance(exc, (OperationalError, IntegrityError)):
        # deadlock, lock wait timeout, lost connection; or a concurrent worker inserted the same employee,
        # department or tag first: the retry finds that row
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated
    return isinstance(exc, (TimeoutError, ConnectionError))


def blocked_for(exc: BaseException) -> float | None:
    """Seconds the host blocks the call that failed (45009, an IP ban), or None."""
    return getattr(exc, "retry_after", None)


def backoff(attempt: int) -> float:
    """Seconds before attempt `attempt + 1`: exponential with jitter, capped at five minutes."""
    base = min(2 ** attempt, 300)
    return base / 2 + random.uniform(0, base / 2)


def delay(exc: BaseException, attempt: int) -> float:
    """Seconds before the next try: past the host's block when there is one, else the backoff."""
    blocked = blocked_for(exc)
    if blocked:
        return blocked * (1 + random.uniform(0, BLOCK_JITTER))
    return backoff(attempt)


def next_try(exc: BaseException, attempts: int, max_attempts: int) -> tuple[int, float | None]:
    """(the attempts to record, seconds until the next try or None when there is none). Waiting out a host's
    block is a deferral, not a failed attempt: it gives its attempt back."""
    if blocked_for(exc):
        attempts = max(attempts - 1, 0)
    if transient(exc) and attempts < max_attempts:
        return attempts, delay(exc, attempts)
    return attempts, None


def mark_enqueued(model, ids: list[int], at: datetime | None = None) -> None:
    """Note that tasks for these rows (inbox rows, follow-ups) are with the broker, from `at` for a delayed retry:
    the sweeper leaves them alone meanwhile."""
    if not ids:
        return
    with unit_of_work():
        db.session.execute(update(model).where(model.id.in_(ids)).values(enqueued_at=at or utcnow())
                           .execution_options(synchronize_session=False))
