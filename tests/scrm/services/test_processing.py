"""Inbox processing and the event handlers, against the fake host (the parser is the real WeCom one)."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.host import HostCredentialsError, HostGroupChat, HostGroupMember, HostRateLimited, HostTag, HostTagGroup, platforms
from scrm.models import (Channel, Customer, Department, Employee, GroupChat, GroupMember, InboxEvent, Relationship,
                         RelationshipTag, Tag, TimelineEntry, utcnow)
from scrm.services import inbox, processing
from tasks.events import enqueue, sweep
from tests import wecom_payloads as wx
from tests.builders import make_corp


def ingest(corp, payload: str) -> int:
    parsed = platforms().parse("wecom", payload)
    inbox_id, created = inbox.store(corp, parsed, handled=processing.is_handled(parsed.event))
    if created and processing.is_handled(parsed.event):
        enqueue(inbox_id)
    return inbox_id


def status(inbox_id: int) -> str:
    db.session.expire_all()
    return db.session.get(InboxEvent, inbox_id).status


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def ts(dt: datetime) -> int:
    return int((dt - datetime(1970, 1, 1)).total_seconds())


@pytest.fixture
def corp(app, fake_host):
    fake_host.add_employee("zhangsan", "张三")
    fake_host.add_employee("lisi", "李四")
    return make_corp()


def test_an_add_records_customer_relationship_channel_and_timeline(corp, fake_host):
    with unit_of_work():
        db.session.add(Channel(corp_id=corp.id, name="春季海报", state="poster-spring"))
    fake_host.tag_groups["g1"] = HostTagGroup(id="g1", name="来源", tags=[HostTag(id="t1", name="海报")])
    fake_host.add_friend("zhangsan", "wm001", name="王小明🐯", state="poster-spring", tag_ids=["t1"], remark="王总")
    row = ingest(corp, wx.added("zhangsan", "wm001", state="poster-spring"))
    assert status(row) == "done"
    rel = db.session.scalar(select(Relationship))
    assert (rel.status, rel.state, rel.remark) == ("active", "poster-spring", "王总")
    assert rel.channel_id == db.session.scalar(select(Channel.id))
    assert db.session.get(Customer, rel.customer_id).name == "王小明🐯"
    assert db.session.get(Employee, rel.employee_id).name == "张三"
    assert [t.name for t in db.session.scalars(select(Tag).join(RelationshipTag))] == ["海报"]
    assert [e.kind for e in db.session.scalars(select(TimelineEntry))] == ["added"]


def test_three_deliveries_make_one_relationship_and_one_entry(corp, fake_host):
    fake_host.add_friend("zhangsan", "wm001")
    payload = wx.added("zhangsan", "wm001", at=1700000000)
    rows = {ingest(corp, payload) for _ in range(3)}
    assert len(rows) == 1 and count(InboxEvent) == 1
    assert count(Relationship) == 1 and count(TimelineEntry) == 1
    assert len(fake_host.called("get_customer")) == 1


def test_processing_a_row_twice_changes_nothing(corp, fake_host):
    fake_host.add_friend("zhangsan", "wm001")
    row = ingest(corp, wx.added("zhangsan", "wm001"))
    inbox.replay([row])
    enqueue(row)
    assert status(row) == "done"
    assert count(Relationship) == 1 and count(TimelineEntry) == 1


def test_lifecycle_add_removed_by_customer_readd_removed_by_employee(corp, fake_host):
    t0 = utcnow().replace(microsecond=0) - timedelta(hours=1)
    fake_host.add_friend("zhangsan", "wm001", created_at=t0)
    ingest(corp, wx.added("zhangsan", "wm001", at=ts(t0)))
    fake_host.remove_friend("zhangsan", "wm001")
    ingest(corp, wx.removed_by_customer("zhangsan", "wm001", at=ts(t0 + timedelta(minutes=5))))
    rel = db.session.scalar(select(Relationship))
    assert (rel.status, rel.end_reason) == ("removed_by_customer", "deleted_by_customer")
    fake_host.add_friend("zhangsan", "wm001", created_at=t0 + timedelta(minutes=10))
    ingest(corp, wx.added("zhangsan", "wm001", at=ts(t0 + timedelta(minutes=10))))
    db.session.expire_all()
    assert rel.status == "active" and rel.ended_at is None
    ingest(corp, wx.removed_by_employee("zhangsan", "wm001", at=ts(t0 + timedelta(minutes=20))))
    db.session.expire_all()
    assert rel.status == "removed_by_employee"
    assert count(Relationship) == 1
    kinds = [e.kind for e in db.session.scalars(select(TimelineEntry).order_by(TimelineEntry.occurred_at))]
    assert kinds == ["added", "removed", "readded", "removed"]


def test_two_salespeople_follow_one_customer(corp, fake_host):
    fake_host.add_friend("zhangsan", "wm001")
    fake_host.add_friend("lisi", "wm001")
    ingest(corp, wx.added("zhangsan", "wm001"))
    ingest(corp, wx.added("lisi", "wm001"))
    assert count(Customer) == 1 and count(Relationship, Relationship.status == "active") == 2


def test_a_removal_that_arrives_before_its_add_wins(corp, fake_host):
    t0 = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    # the host delivered the delete first (the add was being retried); the friendship is already gone
    ingest(corp, wx.removed_by_customer("zhangsan", "wm009", at=ts(t0 + timedelta(seconds=30))))
    ingest(corp, wx.added("zhangsan", "wm009", at=ts(t0)))
    rel = db.session.scalar(select(Relationship))
    assert rel.status == "removed_by_customer"


def test_a_stale_removal_does_not_end_a_later_readd(corp, fake_host):
    t0 = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    fake_host.add_friend("zhangsan", "wm010", created_at=t0 + timedelta(minutes=2))
    ingest(corp, wx.added("zhangsan", "wm010", at=ts(t0 + timedelta(minutes=2))))
    ingest(corp, wx.removed_by_customer("zhangsan", "wm010", at=ts(t0 + timedelta(minutes=1))))
    assert db.session.scalar(select(Relationship)).status == "active"


def test_events_of_one_customer_wait_for_an_earlier_failure(corp, fake_host):
    fake_host.add_friend("zhangsan", "wm001")
    fake_host.fail_next["get_customer"] = HostRateLimited(45009, "api freq out of limit")
    first = ingest(corp, wx.added("zhangsan", "wm001", at=1700000000))
    assert status(first) == "pending"  # retry scheduled with backoff
    fake_host.remove_friend("zhangsan", "wm001")  # meanwhile the customer deleted the salesperson
    second = ingest(corp, wx.removed_by_customer("zhangsan", "wm001", at=1700000060))
    assert status(second) == "pending"  # blocked behind the first: never applied before the add
    assert count(Relationship) == 0
    with unit_of_work():
        db.session.get(InboxEvent, first).next_attempt_at = utcnow() - timedelta(seconds=1)
        for row in db.session.scalars(select(InboxEvent)):
            row.received_at -= timedelta(minutes=1)
    sweep()
    assert (status(first), status(second)) == ("done", "done")
    assert db.session.scalar(select(Relationship)).status == "removed_by_customer"
    assert [e.kind for e in db.session.scalars(select(TimelineEntry))] == ["removed"]


def test_an_inbox_row_blocked_by_the_host_waits_the_block_out_without_spending_an_attempt(corp, fake_host):
    fake_host.add_friend("zhangsan", "wm001")
    fake_host.fail_next["get_customer"] = HostRateLimited(45009, "api freq out of limit", retry_after=60)
    row_id = ingest(corp, wx.added("zhangsan", "wm001"))
    db.session.expire_all()
    row = db.session.get(InboxEvent, row_id)
    assert row.status == "pending" and row.attempts == 0
    assert row.next_attempt_at >= utcnow() + timedelta(seconds=59)
    assert count(Relationship) == 0


def test_transient_failures_end_dead_after_the_last_attempt_then_replay(corp, fake_host, app):
    app.config["INBOX_MAX_ATTEMPTS"] = 3
    fake_host.add_friend("zhangsan", "wm001")
    fake_host.fail_next["get_customer"] = HostRateLimited(45009, "limit")
    row = ingest(corp, wx.added("zhangsan", "wm001"))
    assert status(row) == "pending"
    for _ in range(2):
        fake_host.fail_next["get_customer"] = HostRateLimited(45009, "limit")
        with unit_of_work():
            db.session.get(InboxEvent, row).next_attempt_at = None
        processing.process(row)
    db.session.expire_all()
    dead = db.session.get(InboxEvent, row)
    assert (dead.status, dead.attempts) == ("dead", 3) and "HostRateLimited" in dead.last_error
    inbox.replay([row])
    enqueue(row)
    assert status(row) == "done" and count(Relationship) == 1


def test_a_permanent_failure_is_dead_at_once(corp, fake_host):
    fake_host.fail_next["get_customer"] = HostCredentialsError(40001, "invalid secret")
    row = ingest(corp, wx.added("zhangsan", "wm001"))
    assert status(row) == "dead"


def test_unknown_events_are_stored_ignored_and_visible(corp, fake_host):
    row = ingest(corp, wx.unknown())
    assert status(row) == "ignored"
    assert inbox.list_events(status="ignored")[0].event_type.startswith("some_future_event")
    assert fake_host.calls == []


def test_an_expired_lease_is_picked_up_by_the_sweeper(corp, fake_host):
    fake_host.add_friend("zhangsan", "wm001")
    parsed = platforms().parse("wecom", wx.added("zhangsan", "wm001"))
    row, _ = inbox.store(corp, parsed, handled=True)
    with unit_of_work():  # a worker claimed it and died
        r = db.session.get(InboxEvent, row)
        r.status, r.attempts, r.locked_until = "processing", 1, utcnow() - timedelta(seconds=1)
    assert sweep() == 1
    assert status(row) == "done" and count(Relationship) == 1


def test_the_sweeper_tells_a_lost_task_from_a_busy_queue(corp, fake_host, app):
    """A row whose task the broker holds is left alone however long the queue; one never published, or published
    longer ago than INBOX_REQUEUE_SECONDS, is enqueued again."""
    rows = {}
    for name, published in (("never", None), ("queued", timedelta(seconds=30)), ("lost", timedelta(minutes=3))):
        fake_host.add_friend("zhangsan", f"wm-{name}")
        parsed = platforms().parse("wecom", wx.added("zhangsan", f"wm-{name}"))
        rows[name], _ = inbox.store(corp, parsed, handled=True)
        with unit_of_work():
            row = db.session.get(InboxEvent, rows[name])
            row.received_at = utcnow() - timedelta(minutes=5)
            row.enqueued_at = utcnow() - published if published else None
    assert sorted(inbox.due_for_sweep()) == sorted([rows["never"], rows["lost"]])
    app.config["INBOX_REQUEUE_SECONDS"] = 10
    assert sorted(inbox.due_for_sweep()) == sorted(rows.values())


def test_employee_created_updated_departed(corp, fake_host):
    fake_host.add_employee("wangwu", "王五", departments=["2"])
    ingest(corp, wx.user("create_user", "wangwu", Department="2"))
    emp = db.session.scalar(select(Employee).where(Employee.host_id == "wangwu"))
    assert emp.name == "王五" and [d.host_id for d in emp.departments] == ["2"]
    ingest(corp, wx.user("delete_user", "wangwu", at=1700000000))
    db.session.expire_all()
    assert emp.status == "departed" and emp.departed_at == datetime(2023, 11, 14, 22, 13, 20)


def test_department_changes(corp, fake_host):
    from scrm.host import HostDepartment

    fake_host.departments["7"] = HostDepartment(id="7", name="华东销售", parent_id="1")
    ingest(corp, wx.party("create_party", "7", Name="华东销售", ParentId="1"))
    dept = db.session.scalar(select(Department))
    assert (dept.name, dept.parent_host_id, dept.deleted) == ("华东销售", "1", False)
    ingest(corp, wx.party("delete_party", "7"))
    db.session.expire_all()
    assert dept.deleted


def test_tag_library_follows_console_edits(corp, fake_host):
    fake_host.tag_groups["g1"] = HostTagGroup(id="g1", name="意向", tags=[HostTag(id="t1", name="高"),
                                                                          HostTag(id="t2", name="低")])
    ingest(corp, wx.tag("create", "g1", kind="tag_group"))
    assert sorted(db.session.scalars(select(Tag.name))) == ["低", "高"]
    fake_host.tag_groups["g1"].tags[0].name = "很高"
    ingest(corp, wx.tag("update", "t1", kind="tag"))
    assert db.session.scalar(select(Tag.name).where(Tag.host_id == "t1")) == "很高"
    ingest(corp, wx.tag("delete", "t2", kind="tag"))
    assert db.session.scalar(select(Tag.deleted).where(Tag.host_id == "t2")) is True


def test_group_chat_members_join_and_leave_on_the_timeline(corp, fake_host):
    fake_host.add_friend("zhangsan", "wm001")
    ingest(corp, wx.added("zhangsan", "wm001"))
    members = [HostGroupMember(user_id="zhangsan", type=1), HostGroupMember(user_id="wm001", type=2, join_scene=3)]
    fake_host.group_chats["wr1"] = HostGroupChat(chat_id="wr1", name="VIP群", owner_id="zhangsan", members=members)
    ingest(corp, wx.chat("create", "wr1"))
    chat = db.session.scalar(select(GroupChat))
    assert chat.name == "VIP群" and count(GroupMember, GroupMember.left_at.is_(None)) == 2
    fake_host.group_chats["wr1"].members = members[:1]
    ingest(corp, wx.chat("update", "wr1", detail="del_member"))
    kinds = [e.kind for e in db.session.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]
    assert kinds == ["added", "group_joined", "group_left"]
    ingest(corp, wx.chat("dismiss", "wr1"))
    db.session.expire_all()
    assert chat.status == "dismissed"


def test_a_removal_by_on_job_transfer_marks_the_relationship_transferred(corp, fake_host):
    t0 = utcnow().replace(microsecond=0) - timedelta(hours=2)
    fake_host.add_friend("zhangsan", "wm020", created_at=t0)
    ingest(corp, wx.added("zhangsan", "wm020", at=ts(t0)))
    ingest(corp, wx.removed_by_employee("zhangsan", "wm020", at=ts(t0 + timedelta(hours=1)),
                                        source="DELETE_BY_TRANSFER"))
    rel = db.session.scalar(select(Relationship))
    assert (rel.status, rel.end_reason) == ("transferred", "delete_by_transfer")
