"""End to end on MySQL + Redis + real Celery workers: the sandbox plays a customer scanning a code, delivers the
signed callback over HTTP, the product stores and acknowledges it, a worker process handles it."""
import time

import pytest
from sqlalchemy import func, select

from scrm.extensions import db
from scrm.host import platforms
from scrm.models import Employee, InboxEvent, Relationship, TimelineEntry
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


def test_welcomes_go_ahead_of_a_processing_backlog(connected, sandbox, start_worker):
    """Dispatch tasks (which send welcomes) are published at high priority: a welcome code lives 20 seconds."""
    from scrm.models import WelcomeDelivery
    from scrm.services import channels, inbox, sync
    from scrm.services.corps import get_corp
    from tasks.events import enqueue
    from tests import wecom_payloads as wx

    product, sbx = connected
    with product.app_context():
        corp = get_corp(_only_corp_key())
        sync.run_sync(sync.start(corp, "employees").id)
        staff = db.session.scalar(select(Employee))
        config_id = channels.create_channel(corp, {"name": "直播", "members": [{"employee_id": staff.id}],
                                                   "welcome": {"text": "欢迎！"}}).config_id
        backlog = []
        for n in range(15):  # console tag edits, each a slow host read: a few seconds of work queued first
            parsed = platforms().parse("wecom", wx.tag("update", f"tag{n}"))
            backlog.append(inbox.store(corp, parsed, handled=True)[0])
            enqueue(backlog[-1])
    sandbox.control.set_limits(sbx.corp_id, {"latency": {"externalcontact/get_corp_tag_list": 0.25}})
    scan = sandbox.play(sbx, "scan_one", config_id=config_id, wait=True)["result"]
    time.sleep(0.5)  # the web process publishes its batch
    start_worker()
    delivery = wait_for(lambda: db.session.scalar(select(WelcomeDelivery)), timeout=30)
    finished = db.session.scalar(select(func.count()).select_from(InboxEvent).where(
        InboxEvent.id.in_(backlog), InboxEvent.status == "done"))
    assert delivery.status == "sent" and delivery.customer_host_id == scan["external_userid"]
    assert finished <= 1, f"{finished} backlog rows were processed before the welcome"
    wait_for(lambda: db.session.scalar(select(func.count()).select_from(InboxEvent).where(
        InboxEvent.status == "done")) == 16, timeout=60)


def _only_corp_key() -> str:
    from scrm.models import Corp

    return db.session.scalar(select(Corp.corp_key))
