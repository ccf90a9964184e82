"""Outgoing-call limits per corp and API, shared by every process: a sliding-window budget and a concurrency gate.

Budgets default to the documented host limits (WeCom: 10,000 calls per corp per API per minute; DingTalk: 20 QPS
per app per API) and are configurable per API, as `"N/s"`, `"N/min"` or an int (per minute).

A block is the host's own verdict (WeCom 45009, DingTalk's IP ban): while it lasts, calls of that corp and API fail
here at once with the time left, so no process spends a call on the host's refusal and work is deferred past it.
A block that starts within STRIKE_SECONDS of the previous one's end means a longer window tripped (WeCom's per-hour
limit after its per-minute one): it lasts `longer` seconds.
"""
from __future__ import annotations

import collections
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Callable, Iterator

from scrm.host import HostRateLimited

DEFAULT_LIMITS: dict[str, int | str] = {"default": "10000/min", "dingtalk:default": "20/s"}
STRIKE_SECONDS = 120.0


def parse_budget(value: int | str) -> tuple[int, float]:
    """(calls, window seconds) from 10000, "10000/min" or "20/s"."""
    if isinstance(value, int):
        return value, 60.0
    count, _, unit = str(value).partition("/")
    return int(count), {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "": 60.0}[unit.strip()]


class Limiter:
    """Interface: throttle() before each call, concurrency() around calls the host caps in parallel."""

    def __init__(self, limits: dict[str, int | str] | None = None, *, max_wait: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 lease: float = 60.0):
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.max_wait = max_wait
        self.sleep = sleep
        self.clock = clock
        self.lease = lease

    def budget(self, api: str) -> tuple[int, float]:
        platform = api.split(":", 1)[0] if ":" in api else None
        value = self.limits.get(api) or (platform and self.limits.get(f"{platform}:default")) \
            or self.limits["default"]
        return parse_budget(value)

    def throttle(self, corp_key: str, api: str, *, blocked_by: tuple[tuple[str, str], ...] = ()) -> None:
        """Take one call from the budget: wait briefly for a slot, or raise HostRateLimited; at once, with the time
        left, while the host blocks this corp's API or one of the `blocked_by` (corp key, API) pairs (DingTalk's IP
        ban covers every API). The block is checked with the budget, in the same round trip."""
        count, window = self.budget(api)
        key = f"{corp_key}|{api}"
        blocks = (key, *(f"{c}|{a}" for c, a in blocked_by))
        waited = 0.0
        while True:
            wait = self._take(key, count, window, blocks)
            if wait < 0:
                raise HostRateLimited("blocked", f"the host blocks this API for {-wait:.0f}s more", api=api,
                                      retry_after=-wait)
            if wait == 0:
                return
            if waited + wait > self.max_wait:
                raise HostRateLimited("local_limit", f"over {count} calls per {window:g}s", api=api)
            self.sleep(wait)
            waited += wait

    def _take(self, key: str, count: int, window: float, blocks: tuple[str, ...]) -> float:
        """Record a call and return 0; or return the seconds until the window has room; or, while one of `blocks`
        lasts, minus the seconds it has left (no call recorded)."""
        raise NotImplementedError

    def block(self, corp_key: str, api: str, seconds: float, longer: float | None = None) -> float:
        """The host blocked the API: refuse its calls here for `seconds` (or `longer`, when the previous block ended
        moments ago); returns the block's length."""
        return self._block(f"{corp_key}|{api}", seconds, longer or seconds)

    def _block(self, key: str, seconds: float, longer: float) -> float:
        raise NotImplementedError

    @contextmanager
    def concurrency(self, corp_key: str, group: str, limit: int) -> Iterator[None]:
        """Hold one of `limit` slots while the block runs; HostRateLimited if none frees up in time."""
        token = self._acquire(f"{corp_key}|{group}", limit)
        try:
            yield
        finally:
            self._release(f"{corp_key}|{group}", token)

    def _acquire(self, key: str, limit: int) -> str:
        deadline = time.monotonic() + self.max_wait
        while True:
            token = self._try_acquire(key, limit)
            if token is not None:
                return token
            if time.monotonic() > deadline:
                raise HostRateLimited("local_concurrency", f"{limit} calls already in flight", api=key)
            time.sleep(0.01)

    def _try_acquire(self, key: str, limit: int) -> str | None:
        raise NotImplementedError

    def _release(self, key: str, token: str) -> None:
        raise NotImplementedError


class MemoryLimiter(Limiter):
    """One process (embedded mode)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._calls: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._holders: dict[str, set[str]] = collections.defaultdict(set)
        self._blocks: dict[str, float] = {}  # key -> when its block ends
        self._lock = threading.Lock()

    def _block(self, key: str, seconds: float, longer: float) -> float:
        now = self.clock()
        with self._lock:
            ended = self._blocks.get(key)
            if ended is not None and now - ended <= STRIKE_SECONDS:
                seconds = longer
            self._blocks[key] = max(now + seconds, ended or 0.0)
        return seconds

    def _take(self, key: str, count: int, window: float, blocks: tuple[str, ...]) -> float:
        now = self.clock()
        with self._lock:
            left = max((self._blocks.get(b, 0.0) - now for b in blocks), default=0.0)
            if left > 0:
                return -left
            calls = self._calls[key]
            while calls and calls[0] <= now - window:
                calls.popleft()
            if len(calls) < count:
                calls.append(now)
                return 0.0
            return calls[0] + window - now

    def _try_acquire(self, key: str, limit: int) -> str | None:
        with self._lock:
            if len(self._holders[key]) >= limit:
                return None
            token = uuid.uuid4().hex
            self._holders[key].add(token)
            return token

    def _release(self, key: str, token: str) -> None:
        with self._lock:
            self._holders[key].discard(token)


# KEYS[1] window zset, KEYS[2..] block keys; ARGV: now, window, count, member. Returns 0 when taken, else ms to
# wait, or minus the ms a block has left (nothing taken).
_TAKE = """
local now, window, count = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local left = 0
for n = 2, #KEYS do
  left = math.max(left, tonumber(redis.call('get', KEYS[n]) or '0') - now)
end
if left > 0 then return -math.ceil(left * 1000) end
redis.call('zremrangebyscore', KEYS[1], '-inf', now - window)
if redis.call('zcard', KEYS[1]) < count then
  redis.call('zadd', KEYS[1], now, ARGV[4])
  redis.call('pexpire', KEYS[1], math.ceil(window * 1000))
  return 0
end
local oldest = redis.call('zrange', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, math.ceil((tonumber(oldest[2]) + window - now) * 1000))
"""

# KEYS[1] holders zset (score = lease end); ARGV: now, lease, limit, token. A crashed holder's lease runs out.
_ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
if redis.call('zcard', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('zadd', KEYS[1], now + tonumber(ARGV[2]), ARGV[4])
  redis.call('pexpire', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000))
  return 1
end
return 0
"""


# KEYS[1] block key (its value: when the block ends); ARGV: now, seconds, longer, strike. Returns the length set.
_BLOCK = """
local now, seconds = tonumber(ARGV[1]), tonumber(ARGV[2])
local ended = tonumber(redis.call('get', KEYS[1]) or '-1')
if ended >= 0 and now - ended <= tonumber(ARGV[4]) then seconds = tonumber(ARGV[3]) end
local ends = math.max(now + seconds, ended)
redis.call('set', KEYS[1], tostring(ends), 'PX', math.ceil((ends - now + tonumber(ARGV[4])) * 1000))
return tostring(seconds)
"""


class RedisLimiter(Limiter):
    """Shared by every process and host through Redis (atomic Lua scripts)."""

    def __init__(self, redis_client, *args, prefix: str = "scrm:limit:", **kwargs):
        super().__init__(*args, **kwargs)
        self.redis = redis_client
        self.prefix = prefix
        self._take_script = redis_client.register_script(_TAKE)
        self._acquire_script = redis_client.register_script(_ACQUIRE)
        self._block_script = redis_client.register_script(_BLOCK)

    def _block(self, key: str, seconds: float, longer: float) -> float:
        return float(self._block_script(keys=[self.prefix + "block:" + key],
                                        args=[self.clock(), seconds, longer, STRIKE_SECONDS]))

    def _take(self, key: str, count: int, window: float, blocks: tuple[str, ...]) -> float:
        wait_ms = self._take_script(keys=[self.prefix + "rate:" + key, *(self.prefix + "block:" + b for b in blocks)],
                                    args=[self.clock(), window, count, uuid.uuid4().hex])
        return int(wait_ms) / 1000.0

    def _try_acquire(self, key: str, limit: int) -> str | None:
        token = uuid.uuid4().hex
        got = self._acquire_script(keys=[self.prefix + "gate:" + key], args=[self.clock(), self.lease, limit, token])
        return token if int(got) == 1 else None

    def _release(self, key: str, token: str) -> None:
        self.redis.zrem(self.prefix + "gate:" + key, token)
