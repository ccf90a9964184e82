"""The one commit point: services run their writes inside `unit_of_work()` (or `@transactional`)."""
from __future__ import annotations

import functools
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator, TypeVar

from sqlalchemy.orm import Session

from scrm.extensions import db

F = TypeVar("F", bound=Callable)
_depth: ContextVar[int] = ContextVar("scrm_uow_depth", default=0)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """Commit once when the outermost unit ends, roll back everything if any part raises."""
    depth = _depth.get()
    token = _depth.set(depth + 1)
    try:
        yield db.session
        if depth == 0:
            db.session.commit()
    except BaseException:
        if depth == 0:
            db.session.rollback()
        raise
    finally:
        _depth.reset(token)


def transactional(fn: F) -> F:
    """Run a service function as one unit of work."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with unit_of_work():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
