"""Access tokens and tickets shared by every process: cached in Redis (memory in embedded mode) and refreshed
single-flight, so twenty processes that find an expired token make one `gettoken` call between them."""
from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from typing import Callable, Iterator

Fetch = Callable[[], tuple[str, int]]

#: Refresh this long before the host's expiry (tokens may also be invalidated early; `stale=` covers that).
MARGIN = 300.0


def _ttl(expires_in: int) -> float:
    # short-lived tokens (the sandbox's, in tests) keep at least half their life
    return max(1.0, expires_in - min(MARGIN, expires_in / 2))


class TokenStore:
    """Interface: get, get_or_fetch (single-flight), and the storage primitives below."""

    lock_timeout = 30.0

    def get(self, key: str) -> str | None:
        raise NotImplementedError

    def _set(self, key: str, value: str, ttl: float) -> None:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def _lock(self, key: str) -> "contextmanager":
        raise NotImplementedError

    def get_or_fetch(self, key: str, fetch: Fetch, *, stale: str | None = None) -> str:
        """The cached value; else fetch under the key's lock. With `stale`, the caller saw that value rejected."""
        current = self.get(key)
        if current is not None and current != stale:
            return current
        with self._lock(key):
            current = self.get(key)  # another process may have refreshed while we waited
            if current is not None and current != stale:
                return current
            value, expires_in = fetch()
            self._set(key, value, _ttl(int(expires_in)))
            return value


class MemoryTokenStore(TokenStore):
    """One process (embedded mode): a dict with expiry times and a lock per key."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._values: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._clock = clock

    def get(self, key: str) -> str | None:
        item = self._values.get(key)
        if item is None or item[1] <= self._clock():
            return None
        return item[0]

    def _set(self, key: str, value: str, ttl: float) -> None:
        self._values[key] = (value, self._clock() + ttl)

    def delete(self, key: str) -> None:
        self._values.pop(key, None)

    @contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield


# Release the lock only if we still own it (it may have expired and been taken by another process).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisTokenStore(TokenStore):
    """Shared by all processes and hosts: values with EX, and a SET NX PX lock with an owner check on release."""

    def __init__(self, redis_client, prefix: str = "scrm:token:", poll: float = 0.02):
        self.redis = redis_client
        self.prefix = prefix
        self.poll = poll
        self._release = redis_client.register_script(_RELEASE)

    def get(self, key: str) -> str | None:
        value = self.redis.get(self.prefix + key)
        return value.decode() if isinstance(value, bytes) else value

    def _set(self, key: str, value: str, ttl: float) -> None:
        self.redis.set(self.prefix + key, value, px=int(ttl * 1000))

    def delete(self, key: str) -> None:
        self.redis.delete(self.prefix + key)

    @contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        name, owner = f"{self.prefix}lock:{key}", uuid.uuid4().hex
        deadline = time.monotonic() + self.lock_timeout
        while not self.redis.set(name, owner, nx=True, px=int(self.lock_timeout * 1000)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"token lock {key} held for over {self.lock_timeout}s")
            time.sleep(self.poll)
        try:
            yield
        finally:
            self._release(keys=[name], args=[owner])
