"""Sandbox core: the declarative base of its own tables (never the product's), its database with a session per
unit of work, a controllable clock, the corps (tenants of both hosts), and the gate that meters their API calls.

The sandbox persists in its own database (`SCRM_SANDBOX_DATABASE_URL`, an SQLite file under `instance/` by
default), so it behaves like a remote host whose state outlives the product's processes. Everything else in the
sandbox builds on this module; it imports no other sandbox module.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator

from sqlalchemy import JSON, Double, Integer, String, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

PLATFORMS = ("wecom", "dingtalk")
DEFAULT_PER_MINUTE = 10000
CORP_FIELDS = ("name", "secret", "agent_id", "app_key", "callback_url", "callback_token", "callback_aes_key",
               "token_ttl", "limits")


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


class Corp(Base):
    """A sandbox tenant: a WeCom corp with one self-built app, or a DingTalk org with one app."""

    __tablename__ = "sbx_corp"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    corp_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    secret: Mapped[str] = mapped_column(String(128))
    agent_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    app_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    callback_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    callback_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    callback_aes_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    token_ttl: Mapped[int] = mapped_column(Integer, default=7200)
    limits: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Double, default=0.0)

    def __repr__(self) -> str:  # secrets stay out of logs
        return f"Corp({self.platform}:{self.corp_id})"

    def limit(self, key: str, default: Any) -> Any:
        return (self.limits or {}).get(key, default)

    def per_minute(self, api: str) -> int:
        """The per-minute budget of one API: a per-API override, else the corp's default, else 10000."""
        limits = self.limits or {}
        return int(limits.get(api, limits.get("per_minute", DEFAULT_PER_MINUTE)))

    def as_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "corp_id": self.corp_id, "id": self.id,
                **{f: getattr(self, f) for f in CORP_FIELDS}}


BLOCK_SECONDS = 60.0  # how long a per-minute budget's trip blocks the API


class Gate:
    """Per-corp API budgets per sandbox-clock minute, in-flight slots, and call counts (one server process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}
        self._blocked: dict[tuple[str, str], float] = {}  # (corp, api) -> when its block ends
        self._inflight: Counter[tuple[str, str]] = Counter()
        self.calls: Counter[tuple[str, str]] = Counter()

    def hit(self, corp_id: str, api: str, budget: int, now: float) -> bool:
        """Count one call; False when the corp already spent this minute's budget for the API, and for BLOCK_SECONDS
        after that (WeCom blocks the API for the window that tripped, doc 90312: a new minute does not lift it)."""
        window = int(now // 60)
        with self._lock:
            self.calls[(corp_id, api)] += 1
            if self._blocked.get((corp_id, api), 0.0) > now:
                return False
            seen, count = self._windows.get((corp_id, api), (window, 0))
            if seen != window:
                count = 0
            if count >= budget:
                self._windows[(corp_id, api)] = (window, count)
                self._blocked[(corp_id, api)] = now + BLOCK_SECONDS
                return False
            self._windows[(corp_id, api)] = (window, count + 1)
            return True

    @contextmanager
    def slot(self, corp_id: str, group: str, limit: int) -> Iterator[bool]:
        """Yield True while holding one of `limit` in-flight slots, False when all are taken."""
        key = (corp_id, group)
        with self._lock:
            granted = self._inflight[key] < limit
            if granted:
                self._inflight[key] += 1
        try:
            yield granted
        finally:
            if granted:
                with self._lock:
                    self._inflight[key] -= 1

    def counts(self, corp_id: str) -> dict[str, int]:
        with self._lock:
            return {api: n for (cid, api), n in self.calls.items() if cid == corp_id}

    def reset(self, corp_id: str | None = None, *, calls: bool = False) -> None:
        """Start the corp's budgets and blocks afresh (and its call counts when asked)."""
        with self._lock:
            for store in (self._windows, self._blocked, self.calls) if calls else (self._windows, self._blocked):
                for key in [k for k in store if corp_id is None or k[0] == corp_id]:
                    del store[key]
