"""A handover on MySQL + Redis + real Celery workers: the run goes to the bulk queue, and a worker SIGKILLed while
the host answers a batch leaves lines that the next run looks up instead of asking the host for them again."""
import time

import pytest
from sqlalchemy import func, select

from scrm.extensions import db
from scrm.models import Employee, HandoverLine, HandoverStep
from scrm.services import corps, followups, handovers, sync
from tests.callbacks.conftest import serve  # noqa: F401  (a product app on a loopback server)
from tests.callbacks.test_pipeline_worker import connected, wait_for  # noqa: F401  (product on Redis + sandbox)
from tests.connectors.conftest import sandbox  # noqa: F401  (the host emulator on a loopback server)

pytestmark = pytest.mark.worker
TRANSFER = "externalcontact/resigned/transfer_customer"


def _count(state):
    return db.session.scalar(select(func.count()).select_from(HandoverLine).where(HandoverLine.state == state))


def test_a_worker_killed_mid_handover_asks_nobody_twice(connected, sandbox, start_worker):
    product, sbx = connected
    sandbox.play(sbx, "give_customers", userid="E00001", count=250)
    with product.app_context():
        sync.run_sync(sync.start(corps.list_corps()[0]).id)
    worker = start_worker(SCRM_FOLLOWUP_LEASE_SECONDS=3)
    sandbox.play(sbx, "leave", userid="E00001", wait=True)
    giver = wait_for(lambda: db.session.scalar(select(Employee).where(Employee.host_id == "E00001",
                                                                     Employee.status == "departed")))
    takers = list(db.session.scalars(select(Employee.id).where(Employee.status == "active").order_by(Employee.id)))
    sandbox.control.set_limits(sbx.corp_id, {"latency": {TRANSFER: 3}})
    calls = sandbox.control.calls(sbx.corp_id).get(TRANSFER, 0)
    with product.app_context():
        corp = corps.list_corps()[0]
        _preview, handover = handovers.create(corp, handovers.Spec(kind="departed", from_employee_id=giver.id,
                                                                   to_employee_ids=takers))
        handovers.start(corp, handover.id)  # published to the bulk queue
    wait_for(lambda: _count("requested") == 100, timeout=30)
    time.sleep(1)
    worker.kill()  # SIGKILL while the host answers the first batch: the host took it, nothing recorded its answer
    assert _count("requested") == 100 and _count("waiting") == 0
    sandbox.control.set_limits(sbx.corp_id, {"latency": {}})
    start_worker(SCRM_FOLLOWUP_LEASE_SECONDS=3)
    time.sleep(3.5)  # the dead worker's lease on the follow-up runs out
    with product.app_context():
        followups.start(followups.due_for_sweep())
    customers = db.session.scalar(select(func.count()).select_from(HandoverLine).where(
        HandoverLine.customer_id.is_not(None)))
    assert customers >= 250  # the seed may have given the member a customer or two more
    wait_for(lambda: _count("waiting") == customers, timeout=60)
    assert db.session.scalar(select(func.count()).select_from(HandoverStep).where(
        HandoverStep.source == "reconcile", HandoverStep.to_state == "waiting")) == 100
    assert not db.session.scalar(select(HandoverLine.id).where(HandoverLine.errcode.is_not(None)).limit(1))
    # about 125 customers per taker: two batches each, the killed one sent once
    assert sandbox.control.calls(sbx.corp_id).get(TRANSFER, 0) - calls == 4
