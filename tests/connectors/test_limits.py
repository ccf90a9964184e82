"""Per-corp, per-API budgets and the concurrency gate, in memory and across processes through Redis."""
import multiprocessing
import threading
import time
import uuid

import pytest
import redis

from connectors.limits import MemoryLimiter, RedisLimiter, parse_budget
from scrm.host import HostRateLimited


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def redis_client(redis_url):
    return redis.Redis.from_url(redis_url)


@pytest.fixture(params=["memory", "redis"])
def make_limiter(request):
    def make(**kw):
        if request.param == "memory":
            return MemoryLimiter(**kw)
        client = request.getfixturevalue("redis_client")
        return RedisLimiter(client, prefix=f"test:{uuid.uuid4().hex}:", **kw)
    return make


def test_parse_budget():
    assert parse_budget(10000) == (10000, 60.0)
    assert parse_budget("20/s") == (20, 1.0)
    assert parse_budget("150000/h") == (150000, 3600.0)


def test_budgets_follow_the_documented_defaults_and_overrides():
    limiter = MemoryLimiter({"externalcontact/mark_tag": "100/min"})
    assert limiter.budget("externalcontact/get") == (10000, 60.0)
    assert limiter.budget("externalcontact/mark_tag") == (100, 60.0)
    assert limiter.budget("dingtalk:topapi/extcontact/list") == (20, 1.0)


def test_over_budget_waits_briefly_then_raises(make_limiter):
    t = FakeTime()
    limiter = make_limiter(limits={"api": "3/s"}, sleep=t.sleep, clock=lambda: t.now, max_wait=2.0)
    for _ in range(3):
        limiter.throttle("c1", "api")
    limiter.throttle("c1", "api")  # waits for the window to slide
    assert t.slept and 0.9 <= sum(t.slept) <= 1.01
    slow = make_limiter(limits={"api": "1/min"}, sleep=t.sleep, clock=lambda: t.now, max_wait=2.0)
    slow.throttle("c1", "api")
    with pytest.raises(HostRateLimited):
        slow.throttle("c1", "api")


def test_budgets_are_per_corp_and_per_api(make_limiter):
    t = FakeTime()
    limiter = make_limiter(limits={"a": "1/min", "b": "1/min"}, sleep=t.sleep, clock=lambda: t.now, max_wait=0)
    limiter.throttle("c1", "a")
    limiter.throttle("c2", "a")
    limiter.throttle("c1", "b")
    with pytest.raises(HostRateLimited):
        limiter.throttle("c1", "a")


def test_a_block_refuses_the_corps_api_until_it_ends_and_a_second_strike_lasts_longer(make_limiter):
    t = FakeTime()
    limiter = make_limiter(sleep=t.sleep, clock=lambda: t.now)
    assert limiter.block("c1", "a", 60, longer=3600) == 60
    with pytest.raises(HostRateLimited) as err:
        limiter.throttle("c1", "a")
    assert err.value.retry_after == pytest.approx(60)
    limiter.throttle("c2", "a")  # other corps and APIs go on
    limiter.throttle("c1", "b")
    t.now += 60.5
    limiter.throttle("c1", "a")
    assert limiter.block("c1", "a", 60, longer=3600) == 3600  # tripped again moments after the block ended
    t.now += 3000
    with pytest.raises(HostRateLimited):
        limiter.throttle("c1", "a")
    t.now += 601
    limiter.throttle("c1", "a")
    t.now += 1000
    assert limiter.block("c1", "a", 60, longer=3600) == 60  # long after: a fresh per-minute block
    limiter.block("*", "every", 300)  # a block of every API (DingTalk's IP ban) refuses the calls that name it
    with pytest.raises(HostRateLimited) as err:
        limiter.throttle("c2", "b", blocked_by=(("*", "every"),))
    assert err.value.retry_after == pytest.approx(300)
    limiter.throttle("c2", "b")


def test_concurrency_gate_never_exceeds_its_limit(make_limiter):
    limiter = make_limiter(max_wait=10)
    active, peak, lock = [0], [0], threading.Lock()

    def call():
        with limiter.concurrency("c1", "wecom:tag_edit", 5):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.05)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=call) for _ in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert peak[0] == 5


def test_a_full_gate_raises_after_the_wait(make_limiter):
    limiter = make_limiter(max_wait=0.1)
    with limiter.concurrency("c1", "g", 1):
        with pytest.raises(HostRateLimited):
            with limiter.concurrency("c1", "g", 1):
                pass
    with limiter.concurrency("c1", "g", 1):  # released
        pass


def test_a_crashed_holders_slot_comes_back(redis_client):
    now = [1000.0]
    limiter = RedisLimiter(redis_client, prefix=f"test:{uuid.uuid4().hex}:", clock=lambda: now[0], lease=30,
                           max_wait=0.05)
    limiter._try_acquire("c1|g", 1)  # a process took the slot and died without releasing it
    with pytest.raises(HostRateLimited):
        with limiter.concurrency("c1", "g", 1):
            pass
    now[0] += 31
    with limiter.concurrency("c1", "g", 1):
        pass


def _gate_worker(url, prefix, counter, peak_key, barrier):
    client = redis.Redis.from_url(url)
    limiter = RedisLimiter(client, prefix=prefix, max_wait=30)
    barrier.wait()  # everyone contends at once, however slowly the processes started
    for _ in range(3):
        with limiter.concurrency("c1", "wecom:tag_edit", 5):
            n = client.incr(counter)
            client.eval("if tonumber(redis.call('get', KEYS[1]) or 0) < tonumber(ARGV[1]) then "
                        "redis.call('set', KEYS[1], ARGV[1]) end", 1, peak_key, n)
            time.sleep(0.2)
            client.decr(counter)


def test_the_gate_holds_across_processes(redis_url, redis_client):
    prefix = f"test:{uuid.uuid4().hex}:"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(10)
    procs = [ctx.Process(target=_gate_worker, args=(redis_url, prefix, prefix + "n", prefix + "peak", barrier))
             for _ in range(10)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert int(redis_client.get(prefix + "peak")) == 5
