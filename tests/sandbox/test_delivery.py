"""Callback delivery: host retry policies, timeouts, per-key order, and a pool that never blocks the caller."""
from __future__ import annotations

import socket
import time

from sandbox import delivery
from sandbox.delivery import DINGTALK, WECOM, Deliverer, deliver


def _builder(counter: list[int]):
    def build():
        counter.append(1)
        return {"n": str(len(counter))}, b"<xml/>", "text/xml"
    return build


def test_retries_until_http_200(callback_receiver):
    callback_receiver.statuses = [500]
    sleeps, built = [], []
    result = deliver(callback_receiver.url, _builder(built), timeout=WECOM.timeout,
                     retry_delays=WECOM.retry_delays, sleep=sleeps.append)
    assert (result.attempts, result.status_codes, result.delivered) == (2, [500, 200], True)
    assert sleeps == [1.0] and len(built) == 2
    assert [r.args["n"] for r in callback_receiver.received] == ["1", "2"]  # rebuilt (re-signed) per attempt


def test_gives_up_after_three_retries(callback_receiver):
    callback_receiver.default_status = 503
    sleeps = []
    result = deliver(callback_receiver.url, _builder([]), timeout=5, retry_delays=WECOM.retry_delays,
                     sleep=sleeps.append)
    assert (result.attempts, result.delivered) == (4, False)
    assert result.status_codes == [503] * 4 and sleeps == [1.0, 2.0, 4.0]


def test_no_answer_within_timeout_counts_as_failure(callback_receiver):
    callback_receiver.delay = 0.3
    result = deliver(callback_receiver.url, _builder([]), timeout=0.1, retry_delays=(0.0,), sleep=lambda s: None)
    assert (result.attempts, result.status_codes, result.delivered) == (2, [None, None], False)


def test_unreachable_receiver():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = deliver(f"http://127.0.0.1:{port}/cb", _builder([]), timeout=1, retry_delays=(0.0, 0.0),
                     sleep=lambda s: None)
    assert result.status_codes == [None, None, None] and not result.delivered


def test_accept_hook_can_reject_a_200(callback_receiver):
    callback_receiver.body = b"nope"
    result = deliver(callback_receiver.url, _builder([]), timeout=1, retry_delays=(0.0,), sleep=lambda s: None,
                     accept=lambda resp: resp.content == b"success")
    assert result.status_codes == [200, 200] and not result.delivered


def test_dingtalk_policy_waits_10_then_30_seconds(callback_receiver, sandbox):
    callback_receiver.default_status = 500
    assert DINGTALK.timeout == 2.5 and WECOM.timeout == 5.0
    sleeps = []
    pool = Deliverer(sandbox.db, sleep=sleeps.append)
    try:
        result = pool.submit("dingcorp", callback_receiver.url, _builder([]), platform="dingtalk",
                             event="user_leave_org").result(5)
    finally:
        pool.shutdown()
    assert result.attempts == 3 and sleeps == [10.0, 30.0]
    logged = delivery.recent(sandbox.db, "dingcorp")
    assert logged[0]["status_codes"] == [500, 500, 500] and logged[0]["delivered"] is False


def test_pool_does_not_block_and_keeps_order_per_key(callback_receiver, sandbox):
    callback_receiver.delay = 0.05
    pool = Deliverer(sandbox.db, max_workers=4, sleep=lambda s: None)
    started = time.monotonic()
    try:
        for i in range(8):
            body = f"{i}".encode()
            pool.submit("c1", callback_receiver.url, lambda b=body: ({}, b, "text/plain"), key="customer-1")
        submitted = time.monotonic() - started
        pool.wait(10)
    finally:
        pool.shutdown()
    assert submitted < 0.05  # the caller never waited on the receiver
    assert [r.body for r in callback_receiver.received] == [str(i).encode() for i in range(8)]
    assert len(delivery.recent(sandbox.db, "c1")) == 8
