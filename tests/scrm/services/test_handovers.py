"""Handovers against the fake host: host writes never inside a unit, results matched to the request, the corp's
rule to hand a departed member's customers to their manager."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.host import HostEmployee, Page, TransferState, TransferStatus
from scrm.models import Department, EmployeeDepartment, Handover, HandoverLine, Relationship, utcnow
from scrm.services import handovers
from tests.builders import make_corp, make_customer, make_employee
from tests.fakes import inside


def _follow(corp, employee, customer, **kwargs):
    with unit_of_work():
        rel = Relationship(corp_id=corp.id, employee_id=employee.id, customer_id=customer.id, status="active",
                           started_at=utcnow() - timedelta(days=30), **kwargs)
        db.session.add(rel)
    return rel


def _departed_with(n: int):
    corp = make_corp()
    giver = make_employee(corp, status="departed", departed_at=utcnow() - timedelta(hours=3))
    takers = [make_employee(corp) for _ in range(2)]
    customers = [make_customer(corp) for _ in range(n)]
    for c in customers:
        _follow(corp, giver, c, remark="老客户")
    return corp, giver, takers, customers


def test_host_writes_run_outside_units_and_batches_hold_at_most_100(db, fake_host, host_writes):
    corp, giver, takers, customers = _departed_with(230)
    for c in customers:
        fake_host.add_friend(giver.host_id, c.host_id)
    fake_host.employees[giver.host_id] = HostEmployee(user_id=giver.host_id, name=giver.name, active=False)
    preview, handover = handovers.create(corp, handovers.Spec(kind="departed", from_employee_id=giver.id,
                                                              to_employee_ids=[t.id for t in takers]))
    assert preview["customers"] == 230 and [t["customers"] for t in preview["takers"]] == [115, 115]
    handovers.start(corp, handover.id)
    calls = fake_host.called("transfer_customers")
    assert sorted(len(c["customer_ids"]) for c in calls) == [15, 15, 100, 100]
    assert all(c["departed"] for c in calls)
    assert not inside(host_writes)
    db.session.expire_all()
    assert handovers.show(corp.id, handover.id, lines=False)["counts"] == {"waiting": 230}


def test_an_older_result_of_the_same_pair_does_not_settle_a_new_request(db, fake_host):
    corp, giver, takers, customers = _departed_with(1)
    _preview, handover = handovers.create(corp, handovers.Spec(kind="departed", from_employee_id=giver.id,
                                                               to_employee_ids=[takers[0].id],
                                                               customer_ids=[customers[0].id]))
    handovers.start(corp, handover.id)
    long_ago = datetime(2020, 1, 1)
    fake_host.transfer_results = lambda *a, **k: Page([TransferStatus(customers[0].host_id, TransferState.DONE,
                                                                      long_ago)])
    handovers.advance(handover.id, read_results=True)
    db.session.expire_all()
    assert handovers.show(corp.id, handover.id, lines=False)["counts"] == {"waiting": 1}
    now = utcnow()
    fake_host.transfer_results = lambda *a, **k: Page([TransferStatus(customers[0].host_id, TransferState.DONE, now)])
    handovers.advance(handover.id, read_results=True)
    db.session.expire_all()
    line = db.session.scalar(select(HandoverLine))
    assert line.state == "done" and line.carried_over is False  # the remark is owed to the host
    new = db.session.get(Relationship, line.new_relationship_id)
    assert new.employee_id == takers[0].id and new.remark == "老客户"
    assert fake_host.called("set_remark")[-1]["remark"] == "老客户"
    assert db.session.get(Handover, handover.id).status == "done"


def test_no_host_call_before_the_24_hours_have_passed(db, fake_host):
    corp, giver, takers, customers = _departed_with(3)
    _preview, handover = handovers.create(corp, handovers.Spec(kind="departed", from_employee_id=giver.id,
                                                               to_employee_ids=[takers[0].id],
                                                               customer_ids=[c.id for c in customers]))
    handovers.start(corp, handover.id)
    handovers.advance(handover.id, now=utcnow() + timedelta(hours=23))
    assert fake_host.called("transfer_results") == []
    db.session.expire_all()
    assert db.session.get(Handover, handover.id).next_poll_at >= utcnow() + timedelta(hours=23)
    handovers.poll(now=utcnow() + timedelta(hours=25))
    assert len(fake_host.called("transfer_results")) == 1


def test_the_corps_rule_hands_a_departed_members_customers_to_their_manager(db, fake_host):
    corp, giver, takers, customers = _departed_with(2)
    fake_host.employees[giver.host_id] = HostEmployee(user_id=giver.host_id, name=giver.name, active=False)
    for c in customers:
        fake_host.add_friend(giver.host_id, c.host_id)
    with unit_of_work():
        dept = Department(corp_id=corp.id, host_id="7", name="华东销售部")
        db.session.add(dept)
        db.session.flush()
        db.session.add_all([EmployeeDepartment(employee_id=giver.id, department_id=dept.id),
                            EmployeeDepartment(employee_id=takers[1].id, department_id=dept.id, is_leader=True)])
        db.session.get(type(corp), corp.id).options = {"handover": {"to_manager_after_hours": 4}}
    handovers.poll()
    assert db.session.scalar(select(Handover)) is None  # gone 3 hours only
    handovers.poll(now=utcnow() + timedelta(hours=2))
    handover = db.session.scalar(select(Handover))
    assert handover.requested_by == "rule:to_manager" and handover.status == "running"
    lines = list(db.session.scalars(select(HandoverLine)))
    assert len(lines) == 2 and {line.to_employee_id for line in lines} == {takers[1].id}
    handovers.poll(now=utcnow() + timedelta(hours=3))
    assert db.session.scalar(select(Handover.id).where(Handover.id != handover.id)) is None  # once
