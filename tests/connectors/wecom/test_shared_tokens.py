"""Processes sharing a Redis token store make one gettoken call between them, even after the host expired it."""
from __future__ import annotations

import multiprocessing

import pytest

from connectors.runtime import make_runtime
from connectors.wecom.client import WeComClient
from scrm.host import CorpAccess

pytestmark = pytest.mark.redis
WORKERS = 6


def _worker(redis_url: str, access: CorpAccess, start, results) -> None:
    client = WeComClient(access, make_runtime(redis_url, sleep=lambda s: None))
    start.wait(10)
    try:
        results.put(len(client.department.get()))
    except Exception as exc:  # reported to the parent, which fails the test
        results.put(repr(exc))


def _run_workers(redis_url: str, access: CorpAccess) -> list:
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(redis_url, access, start, results)) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    start.set()
    out = [results.get(timeout=20) for _ in procs]
    for p in procs:
        p.join(10)
    return out


def test_processes_share_one_token_and_one_refresh(sandbox, redis_url):
    corp = sandbox.create_corp("wecom")
    sandbox.seed(corp, employees=3, customers=0, rng=1)
    access = CorpAccess(corp_key=f"shared-{corp.corp_id}", platform="wecom", corp_id=corp.corp_id,
                        agent_id=corp.agent_id, secret=corp.secret, api_base=sandbox.wecom_base)
    first = _run_workers(redis_url, access)
    assert all(isinstance(n, int) and n >= 1 for n in first), first
    assert sandbox.control.calls(corp.corp_id)["gettoken"] == 1

    # the host expires the token early; every worker sees 42001, and one of them refreshes it
    sandbox.play(corp, "expire_tokens")
    again = _run_workers(redis_url, access)
    assert all(isinstance(n, int) for n in again), again
    assert sandbox.control.calls(corp.corp_id)["gettoken"] == 2
    assert sandbox.control.calls(corp.corp_id)["department/list"] >= 2 * WORKERS
