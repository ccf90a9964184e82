"""End to end on MySQL + Redis + real Celery workers: the sandbox plays a customer scanning a code, delivers the
signed callback over HTTP, the product stores and acknowledges it, a worker process handles it."""
import time

import pytest
from sqlalchemy import select

from scrm.extensions import db
from scrm.models import InboxEvent, Relationship, TimelineEntry
from scrm.services.corps import register_corp

pytestmark = pytest.mark.worker


@pytest.fixture
def connected(app, make_app, redis_url, sandbox, serve):
    """A sandbox WeCom corp connected to a product server that enqueues through Redis."""
    product = make_app(REDIS_URL=redis_url, TASKS_EAGER=False)
    url = serve(product)
    sbx = sandbox.create_corp("wecom")
    sandbox.seed(sbx, employees=3, customers=5)
    with product.app_context():
        corp = register_corp(platform="wecom", name="沙箱", corp_id=sbx.corp_id, agent_id=sbx.agent_id,
                             secret=sbx.secret, callback_token=sbx.callback_token,
                             callback_aes_key=sbx.callback_aes_key, api_base=sandbox.wecom_base)
        sandbox.control.update_corp(sbx.corp_id, callback_url=f"{url}/callbacks/wecom/{corp.corp_key}")
    return product, sbx


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        value = predicate()
        if value:
            return value
        db.session.rollback()
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def inbox_row():
    return db.session.scalar(select(InboxEvent).order_by(InboxEvent.id.desc()))


def test_a_scan_becomes_a_relationship(connected, sandbox, start_worker):
    product, sbx = connected
    start_worker()
    played = sandbox.play(sbx, "scan", customers=1, codes=1, over=0, wait=True)
    assert played
    row = wait_for(lambda: (r := inbox_row()) is not None and r.status == "done" and r)
    assert row.event_type == "change_external_contact/add_external_contact"
    rel = db.session.scalar(select(Relationship).where(Relationship.status == "active", Relationship.state.is_not(None)))
    assert rel is not None
    assert db.session.scalar(select(TimelineEntry.kind).where(TimelineEntry.relationship_id == rel.id)) == "added"


def test_a_worker_killed_mid_task_loses_nothing(connected, sandbox, start_worker):
    product, sbx = connected
    sandbox.control.set_limits(sbx.corp_id, {"latency": {"externalcontact/get": 5}})
    worker = start_worker(SCRM_INBOX_LEASE_SECONDS=3)
    sandbox.play(sbx, "scan", customers=1, codes=1, over=0, wait=True)
    wait_for(lambda: (r := inbox_row()) is not None and r.status == "processing")
    worker.kill()  # SIGKILL the whole worker, mid host call
    assert inbox_row().status == "processing"
    sandbox.control.set_limits(sbx.corp_id, {"latency": {}})
    start_worker(SCRM_INBOX_LEASE_SECONDS=3)
    time.sleep(3.5)  # the dead worker's lease runs out
    with product.app_context():
        from tasks.events import sweep

        assert sweep() == 1
    row = wait_for(lambda: (r := inbox_row()).status == "done" and r)
    assert row.attempts == 2
    assert db.session.scalar(select(Relationship).where(Relationship.status == "active")) is not None
