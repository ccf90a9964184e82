"""The per-process runtime every connector shares: token store, limiter, HTTP session, sleep, timeout and retry
bound."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

import requests

from connectors.limits import Limiter, MemoryLimiter, RedisLimiter
from connectors.tokens import MemoryTokenStore, RedisTokenStore, TokenStore


class HostSession(requests.Session):
    """One HTTP session for every client of a process: connections (and TLS sessions) to the hosts stay open from
    one task to the next. The environment's settings (proxies, NO_PROXY, CA bundle) are read once per host rather
    than on every request, where requests' scan of os.environ cost more than the rest of a call."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple, dict] = {}
        self._lock = threading.Lock()

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if proxies or verify is not None or cert is not None:  # explicit settings: nothing to remember
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        key = (*urlsplit(url)[:2], bool(stream))
        with self._lock:
            found = self._environment.get(key)
        if found is None:
            found = super().merge_environment_settings(url, proxies, stream, verify, cert)
            with self._lock:
                self._environment[key] = found
        return dict(found, proxies=dict(found["proxies"]))


@dataclass
class Runtime:
    tokens: TokenStore
    limiter: Limiter
    sleep: Callable[[float], None] = time.sleep
    timeout: float = 10.0  # HTTP timeout, seconds
    attempts: int = 4  # bounded tries for transient errors
    extras: dict = field(default_factory=dict)
    _session: tuple[int, HostSession] | None = field(default=None, repr=False)
    _session_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def http(self) -> HostSession:
        """This process's session (a forked worker must not share its parent's sockets)."""
        with self._session_lock:
            if self._session is None or self._session[0] != os.getpid():
                self._session = (os.getpid(), HostSession())
            return self._session[1]


def make_runtime(redis_url: str | None = None, limits: dict[str, int | str] | None = None, *,
                 sleep: Callable[[float], None] = time.sleep, timeout: float = 10.0, attempts: int = 4,
                 max_wait: float = 2.0) -> Runtime:
    """Memory stores in embedded mode; with a Redis URL, stores shared by every process."""
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5,
                                      health_check_interval=30)
        tokens: TokenStore = RedisTokenStore(client)
        limiter: Limiter = RedisLimiter(client, limits, max_wait=max_wait, sleep=sleep)
    else:
        tokens = MemoryTokenStore()
        limiter = MemoryLimiter(limits, max_wait=max_wait, sleep=sleep)
    return Runtime(tokens=tokens, limiter=limiter, sleep=sleep, timeout=timeout, attempts=attempts)
