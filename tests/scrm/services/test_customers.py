"""Salespeople's writes on a customer, against the fake host: the host first, then local state and the timeline."""
import threading

import pytest
from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.errors import NotFound, ValidationError
from scrm.extensions import db
from scrm.host import Capability, HostError, HostTag, HostTagGroup
from scrm.models import Relationship, StageChange, Tag, TimelineEntry
from scrm.services import customers
from scrm.services.relations import set_relationship_tags
from scrm.services.tags import upsert_tag_group
from tests.builders import make_corp, make_customer, make_employee
from tests.fakes import inside


@pytest.fixture
def world(app, fake_host):
    corp = make_corp()
    zhang, li = make_employee(corp, host_id="zhangsan", name="张三"), make_employee(corp, host_id="lisi", name="李四")
    cust = make_customer(corp, host_id="wm001", name="王小明🐯")
    with unit_of_work():
        r1 = Relationship(corp_id=corp.id, employee_id=zhang.id, customer_id=cust.id)
        r2 = Relationship(corp_id=corp.id, employee_id=li.id, customer_id=cust.id)
        db.session.add_all([r1, r2])
        group = upsert_tag_group(corp, HostTagGroup(id="g1", name="意向", tags=[
            HostTag(id="t1", name="高"), HostTag(id="t2", name="低")]))
        local = Tag(corp_id=corp.id, group_id=group.id, host_id=None, name="本地标签")
        db.session.add(local)
    for emp in ("zhangsan", "lisi"):
        fake_host.add_friend(emp, "wm001")
    tags = {t.name: t.id for t in db.session.scalars(select(Tag))}
    return corp, cust.id, r1.id, r2.id, zhang.id, li.id, tags


def test_tags_go_to_the_host_then_here(world, fake_host):
    corp, cust, r1, _, zhang, _, tags = world
    customers.set_tags(corp, cust, r1, [tags["高"], tags["本地标签"]], actor_id=zhang)
    assert fake_host.called("mark_tags")[-1] == {"employee_id": "zhangsan", "customer_id": "wm001",
                                                 "add": ["t1"], "remove": []}
    customers.set_tags(corp, cust, r1, [tags["低"]], actor_id=zhang)
    assert fake_host.called("mark_tags")[-1]["add"] == ["t2"] and fake_host.called("mark_tags")[-1]["remove"] == ["t1"]
    assert fake_host.follows["wm001"]["zhangsan"].tag_ids == ["t2"]
    kinds = [e.kind for e in db.session.scalars(select(TimelineEntry))]
    assert kinds == ["tagged", "tagged"]


def test_a_host_refusal_changes_nothing_here(world, fake_host):
    corp, cust, r1, _, _, _, tags = world
    fake_host.fail_next["mark_tags"] = HostError(45033, "concurrent limit")
    with pytest.raises(HostError):
        customers.set_tags(corp, cust, r1, [tags["高"]])
    assert customers.customer_360(corp, cust)["relationships"][0]["tags"] == []


def test_a_dingtalk_customer_keeps_one_of_the_hosts_labels(world, fake_host):
    """DingTalk refuses a contact without labels (60204): removing the last is a 422 on tags, before the host."""
    from tests.fakes import FakeHost

    fake_host.capabilities = FakeHost.capabilities | {Capability.CUSTOMER_NEEDS_TAG}
    corp, cust, r1, _, zhang, _, tags = world
    customers.set_tags(corp, cust, r1, [tags["高"]], actor_id=zhang)
    calls = len(fake_host.called("mark_tags"))
    for keep in ([], [tags["本地标签"]]):  # a local-only tag is no label on the host
        with pytest.raises(ValidationError) as refused:
            customers.set_tags(corp, cust, r1, keep, actor_id=zhang)
        assert refused.value.field == "tags"
    assert len(fake_host.called("mark_tags")) == calls
    assert customers.set_tags(corp, cust, r1, [tags["低"]], actor_id=zhang) == [tags["低"]]  # a swap is fine


def test_unknown_tags_and_foreign_relationships_are_refused(world):
    corp, cust, r1, _, _, _, _ = world
    with pytest.raises(ValidationError) as err:
        customers.set_tags(corp, cust, r1, [999999])
    assert err.value.field == "tag_ids"
    other = make_corp()
    with pytest.raises(NotFound):
        customers.set_tags(other, cust, r1, [])


def test_concurrent_tag_additions_keep_both(world, app):
    corp, cust, r1, _, _, _, tags = world
    corp_id = corp.id

    def add(tag_id):
        with app.app_context():
            from scrm.models import Corp

            customers.add_remove_tags(db.session.get(Corp, corp_id), cust, r1, add=[tag_id])

    threads = [threading.Thread(target=add, args=(tags[name],)) for name in ("高", "低")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = {t["name"] for t in customers.customer_360(corp, cust)["relationships"][0]["tags"]}
    assert names == {"高", "低"}


def test_remark_is_pushed_and_validated(world, fake_host):
    corp, cust, r1, _, zhang, _, _ = world
    customers.edit_relationship(corp, cust, r1, remark="王总", description="华东大客户", actor_id=zhang)
    assert fake_host.follows["wm001"]["zhangsan"].remark == "王总"
    assert db.session.get(Relationship, r1).description == "华东大客户"
    with pytest.raises(ValidationError) as err:
        customers.edit_relationship(corp, cust, r1, remark="长" * 21)
    assert err.value.field == "remark"


def test_stage_moves_keep_their_history(world):
    corp, cust, _, _, zhang, li, _ = world
    customers.set_stage(corp, cust, "contacted", actor_id=zhang)
    customers.set_stage(corp, cust, "won", actor_id=li)
    customers.set_stage(corp, cust, "won", actor_id=li)  # no change, no history
    history = [(c.from_stage, c.to_stage) for c in db.session.scalars(select(StageChange).order_by(StageChange.id))]
    assert history == [("new", "contacted"), ("contacted", "won")]
    with pytest.raises(ValidationError) as err:
        customers.set_stage(corp, cust, "bogus")
    assert err.value.field == "stage"
    corp.options = {"stages": ["线索", "成交"]}
    customers.set_stage(corp, cust, "成交")


def test_followers_see_each_others_notes_and_work(world):
    corp, cust, r1, r2, zhang, li, tags = world
    customers.add_note(corp, cust, "客户想要旗舰版，下周回访", author_id=zhang)
    customers.add_note(corp, cust, "<script>alert(1)</script> 已报价", author_id=li)
    customers.set_tags(corp, cust, r2, [tags["高"]], actor_id=li)
    view = customers.customer_360(corp, cust)
    assert [n["author_id"] for n in view["notes"]] == [li, zhang]
    assert view["notes"][0]["body"].startswith("<script>")  # stored as typed; escaping is the renderer's job
    assert {r["employee"]["name"] for r in view["relationships"]} == {"张三", "李四"}
    assert {e["kind"] for e in view["timeline"]} == {"note", "tagged"}
    with pytest.raises(ValidationError):
        customers.add_note(corp, cust, "   ")


def test_salespeople_s_edits_tell_the_host_with_no_unit_open(world, fake_host, host_writes):
    corp, cust, r1, _, zhang, _, tags = world
    customers.set_tags(corp, cust, r1, [tags["高"]], actor_id=zhang)
    customers.add_remove_tags(corp, cust, r1, add=[tags["低"]], remove=[tags["高"]], actor_id=zhang)
    customers.edit_relationship(corp, cust, r1, remark="王总", actor_id=zhang)
    assert [s["method"] for s in host_writes] == ["mark_tags", "mark_tags", "set_remark"]
    assert inside(host_writes) == []


def test_a_tag_edit_overtaken_meanwhile_tells_the_host_again(world, fake_host, monkeypatch):
    corp, cust, r1, _, zhang, li, tags = world
    original, rounds = fake_host.mark_tags, []

    def mark_tags(employee_id, customer_id, add=(), remove=()):
        rounds.append((list(add), list(remove)))
        original(employee_id, customer_id, add=add, remove=remove)
        if len(rounds) == 1:  # another salesperson's edit lands while the host is being told ours
            with unit_of_work():
                set_relationship_tags(db.session.get(Relationship, r1), [tags["低"]])

    monkeypatch.setattr(fake_host, "mark_tags", mark_tags)
    assert sorted(customers.add_remove_tags(corp, cust, r1, add=[tags["高"]], actor_id=zhang)) == sorted(
        [tags["高"], tags["低"]])
    assert rounds == [(["t1"], []), (["t1"], [])]
    names = {t["name"] for t in customers.customer_360(corp, cust)["relationships"][0]["tags"]}
    assert names == {"高", "低"}


def test_a_remark_overtaken_meanwhile_ends_as_ours_on_both_sides(world, fake_host, monkeypatch):
    corp, cust, r1, _, zhang, _, _ = world
    original, sent = fake_host.set_remark, []

    def set_remark(employee_id, customer_id, **fields):
        sent.append(fields["remark"])
        original(employee_id, customer_id, **fields)
        if len(sent) == 1:  # another edit is recorded while the host is being told ours
            with unit_of_work():
                db.session.get(Relationship, r1).remark = "别人的备注"

    monkeypatch.setattr(fake_host, "set_remark", set_remark)
    customers.edit_relationship(corp, cust, r1, remark="王总", actor_id=zhang)
    assert sent == ["王总", "王总"]
    assert fake_host.follows["wm001"]["zhangsan"].remark == "王总" == db.session.get(Relationship, r1).remark


def test_a_remark_overtaken_by_another_process_is_told_again(world, fake_host, monkeypatch, app):
    """The other edit commits through its own session: the record must read the relationship as committed, not as
    this session's first read left it."""
    corp, cust, r1, _, zhang, _, _ = world
    original, sent = fake_host.set_remark, []

    def elsewhere():
        with app.app_context():
            with unit_of_work():
                db.session.get(Relationship, r1).remark = "别人的备注"

    def set_remark(employee_id, customer_id, **fields):
        sent.append(fields["remark"])
        original(employee_id, customer_id, **fields)
        if len(sent) == 1:
            worker = threading.Thread(target=elsewhere)
            worker.start()
            worker.join()

    monkeypatch.setattr(fake_host, "set_remark", set_remark)
    customers.edit_relationship(corp, cust, r1, remark="王总", actor_id=zhang)
    assert sent == ["王总", "王总"]
    assert db.session.get(Relationship, r1, populate_existing=True).remark == "王总"
