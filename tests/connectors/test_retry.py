import random

import pytest

from connectors.retry import call_with_backoff, delays
from scrm.host import HostCredentialsError, HostRateLimited, HostUnavailable


def test_transient_errors_are_retried_with_growing_jittered_waits():
    sleeps, calls = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise HostRateLimited(45009, "limit")
        return "ok"

    assert call_with_backoff(flaky, attempts=4, sleep=sleeps.append, base=0.5, cap=8) == "ok"
    assert len(calls) == 3 and len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0


def test_retries_are_bounded_and_the_last_error_raised():
    sleeps = []

    def always():
        raise HostUnavailable(-1, "system busy")

    with pytest.raises(HostUnavailable):
        call_with_backoff(always, attempts=4, sleep=sleeps.append)
    assert len(sleeps) == 3


def test_permanent_errors_are_not_retried():
    sleeps = []

    def wrong_secret():
        raise HostCredentialsError(40001, "invalid secret")

    with pytest.raises(HostCredentialsError):
        call_with_backoff(wrong_secret, attempts=4, sleep=sleeps.append)
    assert sleeps == []


def test_delays_are_capped_full_jitter():
    waits = delays(8, base=0.5, cap=4, rng=random.Random(1))
    assert len(waits) == 7 and all(0 <= w <= 4 for w in waits)
    assert max(delays(20, base=1, cap=2, rng=random.Random(2))) <= 2
