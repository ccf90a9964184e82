"""Tokens are fetched once for everyone: threads in a process, and processes sharing Redis."""
import multiprocessing
import threading
import time
import uuid

import pytest
import redis

from connectors.tokens import MemoryTokenStore, RedisTokenStore


@pytest.fixture
def redis_store(redis_url):
    client = redis.Redis.from_url(redis_url)
    store = RedisTokenStore(client, prefix=f"test:{uuid.uuid4().hex}:")
    yield store
    for key in client.scan_iter(store.prefix + "*"):
        client.delete(key)


def _stores(request):
    return request.getfixturevalue(request.param) if request.param != "memory" else MemoryTokenStore()


@pytest.fixture(params=["memory", "redis_store"])
def store(request):
    return _stores(request)


def test_twenty_threads_make_one_fetch(store):
    fetches = []

    def fetch():
        fetches.append(1)
        time.sleep(0.2)  # a slow gettoken: everyone else must wait, not fetch too
        return "tok-1", 7200

    results = []
    threads = [threading.Thread(target=lambda: results.append(store.get_or_fetch("wecom:c1:token", fetch)))
               for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fetches == [1] and results == ["tok-1"] * 20


def _worker(url, prefix, counter, barrier, out):
    client = redis.Redis.from_url(url)
    store = RedisTokenStore(client, prefix=prefix)

    def fetch():
        client.incr(counter)
        time.sleep(0.3)
        return "shared-token", 7200

    barrier.wait()
    out.put(store.get_or_fetch("wecom:c1:token", fetch))


def test_twenty_processes_make_one_fetch(redis_url, redis_store):
    counter = redis_store.prefix + "fetches"
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(20), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(redis_url, redis_store.prefix, counter, barrier, out))
             for _ in range(20)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert results == ["shared-token"] * 20
    assert int(redis_store.redis.get(counter)) == 1


def test_a_rejected_token_is_refetched_once_unless_already_replaced(store):
    tokens = iter(["t1", "t2", "t3"])
    fetch = lambda: (next(tokens), 7200)  # noqa: E731
    assert store.get_or_fetch("k", fetch) == "t1"
    assert store.get_or_fetch("k", fetch, stale="t1") == "t2"
    # a second process that also saw t1 rejected gets t2, not a third fetch
    assert store.get_or_fetch("k", fetch, stale="t1") == "t2"
    assert store.get_or_fetch("k", fetch) == "t2"


def test_tokens_expire_before_the_host_says(monkeypatch):
    now = [1000.0]
    store = MemoryTokenStore(clock=lambda: now[0])
    tokens = iter(["a", "b"])
    store.get_or_fetch("k", lambda: (next(tokens), 7200))
    now[0] += 7200 - 301
    assert store.get("k") == "a"
    now[0] += 2  # inside the 5-minute margin
    assert store.get("k") is None
    assert store.get_or_fetch("k", lambda: (next(tokens), 7200)) == "b"


def test_short_lived_tokens_keep_half_their_life():
    now = [0.0]
    store = MemoryTokenStore(clock=lambda: now[0])
    store.get_or_fetch("k", lambda: ("a", 10))
    now[0] = 4.9
    assert store.get("k") == "a"
    now[0] = 5.1
    assert store.get("k") is None


def test_redis_values_expire(redis_store):
    redis_store.get_or_fetch("k", lambda: ("v", 2))
    assert redis_store.get("k") == "v"
    assert 0 < redis_store.redis.pttl(redis_store.prefix + "k") <= 1000


def test_a_failed_fetch_releases_the_lock(store):
    def boom():
        raise RuntimeError("gettoken failed")

    with pytest.raises(RuntimeError):
        store.get_or_fetch("k", boom)
    assert store.get_or_fetch("k", lambda: ("ok", 7200)) == "ok"
