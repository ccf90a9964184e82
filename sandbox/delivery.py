"""Callback delivery the way the hosts do it: POST, wait a bounded time for HTTP 200, retry a few times.

WeCom gives up a request after 5 s and retries up to three times (intervals undocumented: 1, 2, 4 s here);
DingTalk retries after 10 s and 30 s. Deliveries run on a thread pool so that playing many actions never waits
on a slow receiver; deliveries sharing a key (one customer, one chat) keep their order. Each sandbox owns one
`Deliverer` (`sandbox.state.Sandbox.deliverer`).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import requests
from sqlalchemy import JSON, Boolean, Double, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from sandbox.core import Base, SandboxDB

Build = Callable[[], tuple[dict, bytes, str]]  # -> (query params, body, content type), called per attempt


@dataclass(frozen=True)
class Policy:
    timeout: float
    retry_delays: tuple[float, ...]


WECOM = Policy(timeout=5.0, retry_delays=(1.0, 2.0, 4.0))
DINGTALK = Policy(timeout=2.5, retry_delays=(10.0, 30.0))


@dataclass
class DeliveryResult:
    attempts: int
    status_codes: list[int | None] = field(default_factory=list)  # None: no answer (timeout, refused)
    delivered: bool = False


def deliver(url: str, build: Build, *, timeout: float, retry_delays: Sequence[float],
            sleep: Callable[[float], None] = time.sleep,
            accept: Callable[[requests.Response], bool] | None = None,
            session: requests.Session | None = None) -> DeliveryResult:
    """POST until the receiver answers HTTP 200 (and `accept` agrees), at most 1 + len(retry_delays) times."""
    post = (session or requests).post
    result = DeliveryResult(attempts=0)
    for attempt in range(1 + len(retry_delays)):
        if attempt:
            sleep(retry_delays[attempt - 1])
        params, body, content_type = build()
        result.attempts += 1
        try:
            resp = post(url, params=params, data=body, headers={"Content-Type": content_type}, timeout=timeout)
        except requests.RequestException:
            result.status_codes.append(None)
            continue
        result.status_codes.append(resp.status_code)
        if resp.status_code == 200 and (accept is None or accept(resp)):
            result.delivered = True
            break
    return result


class DeliveryLog(Base):
    """One callback the sandbox sent (after its retries), for the control API and tests."""

    __tablename__ = "sbx_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(512))
    event: Mapped[str] = mapped_column(String(128), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status_codes: Mapped[list] = mapped_column(JSON, default=list)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Double, default=0.0)


class Deliverer:
    """A thread pool that delivers callbacks, keeps per-key order and logs each outcome."""

    def __init__(self, db: SandboxDB | None = None, *, max_workers: int = 8,
                 sleep: Callable[[float], None] = time.sleep, policies: dict[str, Policy] | None = None):
        self.db = db
        self.sleep = sleep
        self.policies = {"wecom": WECOM, "dingtalk": DINGTALK, **(policies or {})}
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sbx-deliver")
        self._lock = threading.Lock()
        self._tails: dict[str, Future] = {}
        self._pending: set[Future] = set()
        self._session = requests.Session()

    def submit(self, corp_id: str, url: str, build: Build, *, platform: str = "wecom", event: str = "",
               key: str | None = None, accept: Callable[[requests.Response], bool] | None = None,
               ) -> Future[DeliveryResult]:
        policy = self.policies[platform]
        with self._lock:
            before = self._tails.get(key) if key else None
            future = self._pool.submit(self._run, corp_id, url, build, policy, event, before, accept)
            if key:
                self._tails[key] = future
            self._pending.add(future)
        future.add_done_callback(self._forget(key))
        return future

    def _forget(self, key: str | None) -> Callable[[Future], None]:
        def done(future: Future) -> None:
            with self._lock:
                self._pending.discard(future)
                if key and self._tails.get(key) is future:
                    del self._tails[key]
        return done

    def _run(self, corp_id: str, url: str, build: Build, policy: Policy, event: str,
             before: Future | None, accept: Callable[[requests.Response], bool] | None) -> DeliveryResult:
        if before is not None:  # FIFO pool: `before` was dequeued earlier, so this wait cannot deadlock
            before.exception()
        result = deliver(url, build, timeout=policy.timeout, retry_delays=policy.retry_delays, sleep=self.sleep,
                         accept=accept, session=self._session)
        if self.db is not None:
            with self.db.session() as s:
                s.add(DeliveryLog(corp_id=corp_id, url=url, event=event, attempts=result.attempts,
                                  status_codes=result.status_codes, delivered=result.delivered,
                                  created_at=self.db.clock.time()))
        return result

    def wait(self, timeout: float | None = None) -> None:
        """Block until every delivery submitted so far has finished."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            for future in pending:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                future.exception(timeout=left)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._session.close()


def recent(db: SandboxDB, corp_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """The corp's latest logged deliveries, newest first."""
    with db.session() as s:
        rows = s.scalars(select(DeliveryLog).where(DeliveryLog.corp_id == corp_id)
                         .order_by(DeliveryLog.id.desc()).limit(limit))
        return [{"url": r.url, "event": r.event, "attempts": r.attempts, "status_codes": r.status_codes,
                 "delivered": r.delivered, "at": r.created_at} for r in rows]
