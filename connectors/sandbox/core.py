"""Sandbox core: its own tables (never the product's), a controllable clock, and a session per request.

The sandbox persists in its own database (`SCRM_SANDBOX_DATABASE_URL`, an SQLite file under `instance/` by
default), so it behaves like a remote host whose state outlives the product's processes.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import Double, String, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    """Declarative base of the sandbox's own tables (prefix `sbx_`)."""


class Setting(Base):
    __tablename__ = "sbx_setting"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Double, default=0.0)


class SandboxDB:
    """Engine + session factory of one sandbox database."""

    def __init__(self, url: str):
        kwargs = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.url = url
        self.engine = create_engine(url, pool_pre_ping=True, **kwargs)
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(dbapi_conn, _):  # concurrent readers while the product writes
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                # an emulator survives a crash of its process in WAL mode without an fsync per commit
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        Base.metadata.create_all(self.engine)
        self.clock = Clock(self)
        # bumped when corps or tokens change behind the endpoints' backs (control API, actions): their caches
        self.generation = SharedValue(self, "generation")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on error."""
        s = self.sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()


class SharedValue:
    """A number kept in the sandbox database for every process of the sandbox, read at most every 0.2 s."""

    FRESH = 0.2

    def __init__(self, db: SandboxDB, name: str):
        self._db, self._name = db, name
        self._lock = threading.Lock()
        self._cache: tuple[float, float] | None = None  # (value, read_at)

    def get(self) -> float:
        with self._lock:
            if self._cache and time.monotonic() - self._cache[1] < self.FRESH:
                return self._cache[0]
        with self._db.session() as s:
            row = s.get(Setting, self._name)
            value = row.value if row else 0.0
        with self._lock:
            self._cache = (value, time.monotonic())
        return value

    def set(self, value: float | None = None, *, add: float = 0.0) -> None:
        with self._db.session() as s:
            row = s.get(Setting, self._name) or Setting(name=self._name, value=0.0)
            row.value = (row.value or 0.0) + add if value is None else value
            s.add(row)
        with self._lock:
            self._cache = None


class Clock:
    """Wall time plus an offset kept in the sandbox database, so tests and a standalone sandbox agree."""

    def __init__(self, db: SandboxDB):
        self._offset = SharedValue(db, "clock_offset")

    def offset(self) -> float:
        return self._offset.get()

    def time(self) -> float:
        return time.time() + self.offset()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=timezone.utc).replace(tzinfo=None)

    def advance(self, seconds: float) -> None:
        self._offset.set(add=seconds)

    def reset(self) -> None:
        self._offset.set(0.0)
