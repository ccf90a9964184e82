"""The one commit point: services run their writes inside `unit_of_work()` (or `@transactional`).

The outermost unit commits, or rolls back everything when any part raises. A nested unit is a savepoint on
databases that keep them reliably (MySQL, PostgreSQL): when it raises, its own writes are undone and the outer
unit may catch the error and go on. On SQLite a nested unit joins the outer one: pysqlite's own transaction
handling makes SAVEPOINTs unreliable, and the usual workaround (BEGIN on every read) would change how the
embedded server's threads lock the file; there an error inside a nested unit should end the outer one too.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scrm.extensions import db

F = TypeVar("F", bound=Callable)
M = TypeVar("M")
_depth: ContextVar[int] = ContextVar("scrm_uow_depth", default=0)


def _savepoints() -> bool:
    return db.session.get_bind().dialect.name != "sqlite"


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """Commit once when the outermost unit ends, roll back everything if any part raises; a nested unit is a
    savepoint (see above)."""
    depth = _depth.get()
    if depth and _savepoints():
        token = _depth.set(depth + 1)
        try:
            with db.session.begin_nested():
                yield db.session
        finally:
            _depth.reset(token)
        return
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


def in_unit() -> bool:
    """True inside a unit of work (a host write must not happen there: see docs/architecture.md)."""
    return _depth.get() > 0


def transactional(fn: F) -> F:
    """Run a service function as one unit of work."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with unit_of_work():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def get_or_create(model: type[M], create: Callable[[], M], **lookup) -> M:
    """The row matching `lookup`, inserting `create()` if there is none; safe when workers race to insert it."""
    found = db.session.scalar(select(model).filter_by(**lookup))
    if found is not None:
        return found
    if db.session.get_bind().dialect.name == "sqlite":
        # one writer at a time, and event processing is serialized there (see services.processing);
        # pysqlite's own transaction handling also makes SAVEPOINTs unreliable
        row = create()
        db.session.add(row)
        db.session.flush()
        return row
    try:
        with db.session.begin_nested():
            row = create()
            db.session.add(row)
        return row
    except IntegrityError:  # another worker inserted it first: use theirs
        return db.session.scalar(select(model).filter_by(**lookup))
