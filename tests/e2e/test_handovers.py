"""Handovers against the sandbox in the embedded default: a departed salesperson's 1,050 customers and 12 group
chats handed to three colleagues (some customers refusing, one taker at the host's limit, a crash in the middle),
an on-job handover meeting the host's 90-day rule, and a DingTalk departure. The host's callbacks reach the
product as they would in production."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from sandbox.wecom.models import Follow, GroupChat as SandboxChat
from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.models import (Customer, DomainEvent, Employee, Followup, GroupChat, HandoverLine, HandoverStep,
                         PoolEntry, Relationship, RelationshipTag, Tag, TimelineEntry, utcnow)
from scrm.services import access, corps, followups, handovers, sync
from scrm.services import customers as customer_service
from tests.e2e.test_embedded import embedded  # noqa: F401  (product + sandbox on one live server)

DAY = 86400
TRANSFER_APIS = ("externalcontact/resigned/transfer_customer", "externalcontact/resigned/transfer_result",
                 "externalcontact/transfer_customer", "externalcontact/transfer_result",
                 "externalcontact/get_unassigned_list", "externalcontact/groupchat/list",
                 "externalcontact/groupchat/transfer", "externalcontact/groupchat/onjob_transfer")


def _control(app):
    return app.extensions["scrm.sandbox"].extensions["sandbox_control"]


def _sandbox_db(app):
    return app.extensions["scrm.sandbox"].extensions["sandbox"].db


def _corp(app, platform="wecom", employees=5):
    from scrm.embedded import connect_sandbox_corp

    info = connect_sandbox_corp(app, platform, employees=employees, customers=0, seed=3)
    return corps.get_corp(info["corp_key"]), info


def _sync(corp):
    run = sync.start(corp)
    sync.run_sync(run.id)
    db.session.expire_all()


def _employee(corp, host_id):
    return db.session.scalar(select(Employee).where(Employee.corp_id == corp.id, Employee.host_id == host_id))


def _calls(app, info) -> dict[str, int]:
    counts = _control(app).calls(info["corp_id"])
    return {api: counts.get(api, 0) for api in TRANSFER_APIS if counts.get(api)}


class Crashing:
    """The host, but the process dies right after the host accepted the n-th call of `method` (before we record)."""

    def __init__(self, host, after: int, method: str = "transfer_customers"):
        self.host, self.after, self.method, self.calls = host, after, method, 0

    def __getattr__(self, name):
        if name != self.method:
            return getattr(self.host, name)

        def call(*args, **kwargs):
            outcomes = getattr(self.host, name)(*args, **kwargs)
            self.calls += 1
            if self.calls == self.after:
                raise SystemExit("killed")
            return outcomes
        return call


def test_a_departed_salespersons_customers_and_chats_reach_three_colleagues(embedded, monkeypatch):
    corp, info = _corp(embedded)
    control, corp_id = _control(embedded), info["corp_id"]
    customers = control.play(corp_id, "give_customers", userid="E00001", count=1050)["result"]["external_userid"]
    control.play(corp_id, "give_group_chats", userid="E00001", count=12, customers=1)
    _sync(corp)
    giver = _employee(corp, "E00001")
    takers = [_employee(corp, f"E0000{n}") for n in (2, 3, 4)]
    # the second customer goes to the second taker, who neither refuses nor is at the limit
    rel = db.session.scalar(select(Relationship).join(Customer).where(Customer.host_id == customers[1]))
    assert rel.employee_id == giver.id and rel.status == "active"
    tag = db.session.scalar(select(Tag).where(Tag.corp_id == corp.id, Tag.host_id.is_not(None)).order_by(Tag.id))
    customer_service.edit_relationship(corp, rel.customer_id, rel.id, remark="老客户王总", description="年底续约")
    customer_service.set_tags(corp, rel.customer_id, rel.id, [tag.id])
    # the third taker already has 800 customers and can take only 300 more (the host's per-member limit)
    control.play(corp_id, "give_customers", userid="E00004", count=800)
    control.set_limits(corp_id, {"customer_limit": 1100})

    control.play(corp_id, "give_group_chats", userid="E00005", count=2, customers=0)  # chats, no customers
    control.play(corp_id, "leave", userid="E00001", wait=True)
    control.play(corp_id, "leave", userid="E00005", wait=True)
    db.session.expire_all()
    assert _employee(corp, "E00001").status == "departed"
    assert db.session.scalar(select(func.count()).select_from(PoolEntry).where(PoolEntry.status == "open")) == 1050

    client = embedded.test_client()
    auth = {"Authorization": f"Bearer {access.create_token(corp, 'admin')}"}
    waiting = client.get("/api/v1/handovers/unassigned", headers=auth).get_json()["items"]
    # the host's unassigned list omits a departed member who owned only chats: groupchat/list finds them
    assert [(w["employee"]["id"], w["customers"], w["group_chats"]) for w in waiting] == [
        (giver.id, 1050, 12), (_employee(corp, "E00005").id, 0, 2)]
    body = {"kind": "departed", "from_employee_id": giver.id, "to_employee_ids": [t.id for t in takers],
            "reason": "离职交接"}
    preview = client.post("/api/v1/handovers?dry_run=1", json=body, headers=auth)
    assert preview.status_code == 200 and preview.get_json()["id"] is None
    assert [t["customers"] for t in preview.get_json()["takers"]] == [350, 350, 350]
    assert [t["group_chats"] for t in preview.get_json()["takers"]] == [4, 4, 4]
    planned = client.post("/api/v1/handovers", json=body, headers=auth)
    assert planned.status_code == 201, planned.get_json()
    handover_id = planned.get_json()["id"]
    assert db.session.scalar(select(func.count()).select_from(HandoverLine)) == 1062
    before = _calls(embedded, info)

    # the worker dies right after the host accepted the 6th batch of 100, before it recorded the answer
    from scrm.services.handovers import execution

    real = corps.host_for(corp)
    monkeypatch.setattr(execution, "host_for", lambda _corp: Crashing(real, after=6))
    with pytest.raises(SystemExit):
        client.post(f"/api/v1/handovers/{handover_id}/start", headers=auth)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(HandoverLine).where(
        HandoverLine.state == "requested")) == 100
    # its lease runs out and the sweeper runs the follow-up again: nobody is asked for twice
    monkeypatch.undo()
    with unit_of_work():
        db.session.execute(update(Followup).values(locked_until=utcnow() - timedelta(seconds=1)))
    followups.start(followups.due_for_sweep())
    db.session.expire_all()
    counts = handovers.show(corp.id, handover_id, lines=False)["counts"]
    assert counts == {"waiting": 1050, "done": 12}, counts
    assert not db.session.scalar(select(HandoverLine.id).where(HandoverLine.errcode.is_not(None)).limit(1))
    with _sandbox_db(embedded).session() as s:
        owners = set(s.scalars(select(SandboxChat.owner).where(SandboxChat.corp_id == corp_id,
                                                               SandboxChat.owner != "E00005")))
    assert owners == {"E00002", "E00003", "E00004"}  # none left with the departed E00001
    chat = db.session.scalar(select(GroupChat).where(GroupChat.corp_id == corp.id).order_by(GroupChat.id))
    assert chat.owner_id in {t.id for t in takers}

    # five customers refuse within the 24 hours: the host's transfer_fail callback says so
    refusers = [line.host_id for line in db.session.scalars(
        select(HandoverLine).where(HandoverLine.to_employee_id == takers[0].id,
                                   HandoverLine.customer_id.is_not(None)).order_by(HandoverLine.id).limit(5))]
    for ext in refusers:
        control.play(corp_id, "refuse_transfer", external_userid=ext, wait=True)
    db.session.expire_all()
    assert handovers.show(corp.id, handover_id, lines=False)["counts"]["refused"] == 5

    # a day later the poll reads each pair's results to the end; the host's callbacks follow
    control.advance(DAY + 60)
    handovers.advance(handover_id, now=utcnow() + timedelta(hours=25))
    embedded.extensions["scrm.sandbox"].extensions["sandbox"].deliverer.wait(timeout=300)
    db.session.expire_all()
    shown = handovers.show(corp.id, handover_id, lines=False)
    assert shown["status"] == "done", shown
    assert shown["counts"] == {"done": 1007, "refused": 5, "taker_at_limit": 50}, shown["counts"]
    refused = client.get(f"/api/v1/handovers/{handover_id}?state=refused", headers=auth).get_json()
    assert sorted(line["customer_id"] for line in refused["lines"]) == sorted(
        db.session.scalars(select(Customer.id).where(Customer.host_id.in_(refusers))))
    page = client.get(f"/api/v1/handovers/{handover_id}?limit=1000", headers=auth).get_json()
    rest = client.get(f"/api/v1/handovers/{handover_id}?after={page['next']}", headers=auth).get_json()
    assert len(page["lines"]) == 1000 and len(rest["lines"]) == 62 and rest["next"] is None
    used = _calls(embedded, info)
    spent = {api: used.get(api, 0) - before.get(api, 0) for api in used}
    # the minimum: 4 calls of 100 per taker, one chat call per owner, one result read per pair after 24 h;
    # the crash costs one result read (the lines it left requested are looked up, not sent again)
    assert spent["externalcontact/resigned/transfer_customer"] == 12
    assert spent["externalcontact/groupchat/transfer"] == 3
    assert spent["externalcontact/resigned/transfer_result"] == 3 + 1

    # local records moved: the old relationship ends transferred, linked to the taker's, which carries over
    db.session.expire_all()
    old = db.session.get(Relationship, rel.id)
    assert old.status == "transferred" and old.transferred_to_id
    new = db.session.get(Relationship, old.transferred_to_id)
    assert new.status == "active" and new.employee_id == takers[1].id
    assert (new.remark, new.description) == ("老客户王总", "年底续约")
    assert tag.id in db.session.scalars(select(RelationshipTag.tag_id).where(RelationshipTag.relationship_id == new.id))
    with _sandbox_db(embedded).session() as s:  # the host's view of the taker's friendship
        follow = s.scalar(select(Follow).where(Follow.userid == "E00003", Follow.external_userid == customers[1]))
        assert follow.remark == "老客户王总" and tag.host_id in follow.tag_ids
    entry = db.session.scalar(select(TimelineEntry).where(TimelineEntry.customer_id == rel.customer_id,
                                                          TimelineEntry.kind == "transferred"))
    assert entry.payload["from"]["id"] == giver.id and entry.payload["reason"] == "离职交接"
    # the takeover's add callback is no new friend of any channel, and each line's steps say who told us
    assert not db.session.scalar(select(TimelineEntry.id).where(
        TimelineEntry.kind.in_(("added", "readded", "removed")),
        TimelineEntry.relationship_id.in_(select(HandoverLine.new_relationship_id))).limit(1))
    steps = handovers.steps(db.session.scalar(select(HandoverLine.id).where(HandoverLine.host_id == refusers[0])))
    assert [(s["to"], s["source"]) for s in steps] == [("requested", "request"), ("waiting", "request"),
                                                        ("refused", "transfer_fail")]
    assert db.session.scalar(select(func.count()).select_from(DomainEvent).where(
        DomainEvent.kind == "handover.completed")) == 1
    # the refusers are nobody's now: back in the pool once the handover is done; everyone taken over left it
    assert db.session.scalar(select(func.count()).select_from(PoolEntry).where(PoolEntry.status == "open")) == 55
    assert db.session.scalar(select(func.count()).select_from(HandoverStep).where(
        HandoverStep.source == "transfer_result")) >= 1012


def _start_and_settle(embedded, corp, handover_id):
    handovers.start(corp, handover_id)
    _control(embedded).advance(DAY + 60)
    handovers.advance(handover_id, now=utcnow() + timedelta(hours=25))
    embedded.extensions["scrm.sandbox"].extensions["sandbox"].deliverer.wait(timeout=120)
    db.session.expire_all()
    return handovers.show(corp.id, handover_id)


def _onjob(corp, giver, taker, customer_ids, message=None):
    _preview, handover = handovers.create(corp, handovers.Spec(
        kind="onjob", from_employee_id=giver.id, to_employee_ids=[taker.id], customer_ids=customer_ids,
        message=message, reason="调岗"))
    return handover.id


def test_an_onjob_handover_tells_the_customer_waits_24_hours_and_meets_the_90_day_rule(embedded):
    corp, info = _corp(embedded)
    control, corp_id = _control(embedded), info["corp_id"]
    exts = control.play(corp_id, "give_customers", userid="E00001", count=3)["result"]["external_userid"]
    _sync(corp)
    a, b, c, d = (_employee(corp, f"E0000{n}") for n in (1, 2, 3, 4))
    ids = [db.session.scalar(select(Customer.id).where(Customer.host_id == e)) for e in exts]

    first = _onjob(corp, a, b, ids, message="您好，今后由我为您服务")
    handovers.start(corp, first)
    db.session.expire_all()
    assert handovers.show(corp.id, first, lines=False)["counts"] == {"waiting": 3}
    with _sandbox_db(embedded).session() as s:
        from sandbox.wecom.models import Transfer

        assert {t.message for t in s.scalars(select(Transfer))} == {"您好，今后由我为您服务"}
    control.play(corp_id, "refuse_transfer", external_userid=exts[2], wait=True)
    shown = _start_and_settle(embedded, corp, first)
    assert shown["counts"] == {"done": 2, "refused": 1}
    kept = db.session.scalar(select(Relationship).where(Relationship.customer_id == ids[2],
                                                        Relationship.employee_id == a.id))
    assert kept.status == "active"  # an on-job customer who refuses stays with the salesperson

    second = _onjob(corp, b, c, [ids[0]])
    assert _start_and_settle(embedded, corp, second)["counts"] == {"done": 1}
    # a third on-job move of the same customer within 90 days: refused here, without asking the host
    calls = _calls(embedded, info).get("externalcontact/transfer_customer")
    third = _onjob(corp, c, d, [ids[0]])
    handovers.start(corp, third)
    db.session.expire_all()
    line = handovers.show(corp.id, third)["lines"][0]
    assert (line["state"], line["errcode"], line["source"]) == ("failed", 40128, "precheck")
    assert _calls(embedded, info).get("externalcontact/transfer_customer") == calls
    assert handovers.show(corp.id, third, lines=False)["status"] == "done"

    # moved once more on the host behind our back (the admin console): the host's 40128 is recorded as it says
    host = corps.host_for(corp)
    assert host.transfer_customers("E00002", "E00003", [exts[1]], departed=False)[0].errcode == 0
    control.advance(DAY + 60)
    host.transfer_results("E00002", "E00003", departed=False)  # the host settles on its next read
    embedded.extensions["scrm.sandbox"].extensions["sandbox"].deliverer.wait(timeout=60)
    db.session.expire_all()
    fourth = _onjob(corp, c, d, [ids[1]])
    handovers.start(corp, fourth)
    db.session.expire_all()
    line = handovers.show(corp.id, fourth)["lines"][0]
    assert (line["state"], line["errcode"], line["source"]) == ("failed", 40128, "request")


def test_a_dingtalk_departure_moves_the_follower_at_once(embedded):
    corp, info = _corp(embedded, "dingtalk", employees=4)
    control, corp_id = _control(embedded), info["corp_id"]
    control.seed(corp_id, customers=12, rng=5)
    _sync(corp)
    giver = db.session.scalar(select(Employee).join(Relationship, Relationship.employee_id == Employee.id)
                              .where(Employee.corp_id == corp.id, Relationship.status == "active")
                              .group_by(Employee.id).order_by(func.count().desc()).limit(1))
    theirs = db.session.scalar(select(func.count()).select_from(Relationship).where(
        Relationship.employee_id == giver.id, Relationship.status == "active"))
    control.play(corp_id, "employee_leaves", userid=giver.host_id, wait=True)
    db.session.expire_all()
    assert _employee(corp, giver.host_id).status == "departed"
    waiting = handovers.unassigned(corp)
    assert [(w["employee"]["id"], w["customers"], w["group_chats"]) for w in waiting] == [(giver.id, theirs, 0)]
    takers = list(db.session.scalars(select(Employee).where(Employee.corp_id == corp.id, Employee.status == "active")
                                     .order_by(Employee.id).limit(2)))
    _preview, handover = handovers.create(corp, handovers.Spec(kind="departed", from_employee_id=giver.id,
                                                               to_employee_ids=[t.id for t in takers]))
    handovers.start(corp, handover.id)
    db.session.expire_all()
    shown = handovers.show(corp.id, handover.id)
    assert shown["status"] == "done" and shown["counts"] == {"done": theirs}
    assert {line["source"] for line in shown["lines"]} == {"follower_updated"}
    with _sandbox_db(embedded).session() as s:
        from sandbox.dingtalk.models import DtContact

        followers = {c.userid: c.follower_user_id for c in s.scalars(select(DtContact))}
    for line in shown["lines"]:
        customer = db.session.get(Customer, line["customer_id"])
        taker = db.session.get(Employee, line["to_employee"]["id"])
        assert followers[customer.host_id] == taker.host_id
    assert not db.session.scalar(select(func.count()).select_from(Relationship).where(
        Relationship.employee_id == giver.id, Relationship.status == "active"))


def test_group_chats_asked_again_after_a_crash_are_looked_up_not_failed(embedded):
    corp, info = _corp(embedded)
    control, corp_id = _control(embedded), info["corp_id"]
    control.play(corp_id, "give_group_chats", userid="E00001", count=3, customers=0)
    _sync(corp)
    control.play(corp_id, "leave", userid="E00001", wait=True)
    db.session.expire_all()
    giver, taker = _employee(corp, "E00001"), _employee(corp, "E00002")
    _preview, handover = handovers.create(corp, handovers.Spec(kind="departed", from_employee_id=giver.id,
                                                               to_employee_ids=[taker.id]))
    from scrm.models import Handover

    with unit_of_work():
        db.session.get(Handover, handover.id).status = "running"
    with pytest.raises(SystemExit):
        handovers.advance(handover.id, host=Crashing(corps.host_for(corp), 1, "transfer_group_chats"))
    db.session.rollback()
    handovers.advance(handover.id)  # the host says 90508 (inherited already): the taker owns them, so done
    db.session.expire_all()
    shown = handovers.show(corp.id, handover.id)
    assert shown["status"] == "done" and shown["counts"] == {"done": 3}
    assert {line["source"] for line in shown["lines"]} == {"reconcile"}
