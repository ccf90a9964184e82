"""Bounded retries with exponential backoff and full jitter, for errors the host marks transient.

A block (a rate limit with `retry_after`) is not retried here: the host refuses the API for a minute or more, so
the caller defers the work past it (the inbox and follow-ups schedule their next attempt after the block)."""
from __future__ import annotations

import logging
import random
from typing import Callable, TypeVar

from scrm.host import HostError

T = TypeVar("T")
log = logging.getLogger(__name__)


def delays(attempts: int, base: float = 0.5, cap: float = 8.0, rng: random.Random | None = None) -> list[float]:
    """The sleeps between `attempts` tries: uniform in [0, min(cap, base * 2**n)] ("full jitter")."""
    rng = rng or random
    return [rng.uniform(0, min(cap, base * 2 ** n)) for n in range(max(attempts - 1, 0))]


def call_with_backoff(call: Callable[[], T], *, attempts: int, sleep: Callable[[float], None],
                      base: float = 0.5, cap: float = 8.0) -> T:
    """Run `call`; retry transient HostErrors up to `attempts` tries in all; re-raise the last error."""
    waits = delays(attempts, base, cap)
    for n in range(attempts):
        try:
            return call()
        except HostError as exc:
            if not exc.transient or n == attempts - 1 or getattr(exc, "retry_after", None):
                raise
            log.info("%s: transient %s, retry %d/%d in %.2fs", exc.api, exc.errcode, n + 1, attempts - 1, waits[n])
            sleep(waits[n])
    raise AssertionError("unreachable")
