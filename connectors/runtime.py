"""The per-process runtime every connector shares: token store, limiter, sleep, timeout and retry bound."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from connectors.limits import Limiter, MemoryLimiter, RedisLimiter
from connectors.tokens import MemoryTokenStore, RedisTokenStore, TokenStore


@dataclass
class Runtime:
    tokens: TokenStore
    limiter: Limiter
    sleep: Callable[[float], None] = time.sleep
    timeout: float = 10.0  # HTTP timeout, seconds
    attempts: int = 4  # bounded tries for transient errors
    extras: dict = field(default_factory=dict)


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
