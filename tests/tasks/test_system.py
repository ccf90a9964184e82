import os
import uuid

import pytest

from tests.builders import make_corp


def test_ping_runs_in_process_without_a_broker(app):
    from tasks.system import ping

    make_corp()
    result = ping.delay("hello").get()
    assert result == {"token": "hello", "pid": os.getpid(), "corps": 1}


@pytest.mark.worker
def test_a_real_worker_executes_a_task_sent_through_redis(app, make_app, redis_url, start_worker):
    worker = start_worker()
    with make_app(REDIS_URL=redis_url, TASKS_EAGER=False).app_context():
        make_corp()
        make_corp()
        from tasks.system import ping

        token = uuid.uuid4().hex
        result = ping.apply_async(args=[token]).get(timeout=90)
        assert result["token"] == token
        assert result["pid"] not in (os.getpid(), worker.pid)  # a prefork child of the worker
        assert result["corps"] == 2
