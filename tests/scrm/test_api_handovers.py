"""/api/v1/handovers and /api/v1/pool with real tokens: who may plan, start, see and claim what; bad input is a
precise 4xx; plans split as asked and are sent once; the pool fills, is listed and is claimed within the daily cap.

Corp a: 华东 (the manager 张, the salespeople 李 and 刘, and 孙 who left with five customers) and 华西 (王, who
follows three customers). Corp b: 赵 with one customer.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.models import (Corp, Department, EmployeeDepartment, Handover, HandoverLine, PoolEntry, Relationship,
                         TimelineEntry, utcnow)
from scrm.services import access, pool
from tests.builders import make_corp, make_customer, make_employee
from tests.scrm.test_bad_input import HUGE, NESTED

GONE_CUSTOMERS = 5


def _follow(corp, fake_host, employee, customer, status="active", **kw):
    with unit_of_work():
        rel = Relationship(corp_id=corp.id, employee_id=employee.id, customer_id=customer.id, status=status, **kw)
        db.session.add(rel)
    if status == "active":
        fake_host.add_friend(employee.host_id, customer.host_id)
    return rel


@pytest.fixture
def world(app, fake_host):
    a, b = make_corp(name="甲公司"), make_corp(name="乙公司")
    people = {}
    for host_id, name in (("zhang", "张"), ("li", "李"), ("liu", "刘"), ("wang", "王")):
        people[host_id] = make_employee(a, host_id=host_id, name=name)
        fake_host.add_employee(host_id, name)
    people["sun"] = make_employee(a, host_id="sun", name="孙", status="departed", departed_at=utcnow())
    fake_host.add_employee("sun", "孙")
    fake_host.employees["sun"].active = False
    with unit_of_work():
        east = Department(corp_id=a.id, host_id="2", name="华东")
        west = Department(corp_id=a.id, host_id="3", name="华西")
        db.session.add_all([east, west])
        db.session.flush()
        db.session.add_all([EmployeeDepartment(employee_id=people[h].id, department_id=east.id)
                            for h in ("zhang", "li", "liu", "sun")])
        db.session.add(EmployeeDepartment(employee_id=people["wang"].id, department_id=west.id))
    gone = [make_customer(a, name=f"孙的客户{n}", host_id=f"wmsun{n}") for n in range(GONE_CUSTOMERS)]
    for c in gone:
        _follow(a, fake_host, people["sun"], c)
    wangs = [make_customer(a, name=f"王的客户{n}", host_id=f"wmwang{n}") for n in range(3)]
    for c in wangs:
        _follow(a, fake_host, people["wang"], c)
    lis = make_customer(a, name="李的客户", host_id="wmli0")
    _follow(a, fake_host, people["li"], lis)
    ended = make_customer(a, name="走了的客户", host_id="wmend0")
    _follow(a, fake_host, people["li"], ended, status="removed_by_customer", ended_at=utcnow())
    zhao = make_employee(b, host_id="zhao", name="赵")
    theirs = make_customer(b, name="别家客户", host_id="wmB")
    _follow(b, fake_host, zhao, theirs)
    tokens = {"admin": access.create_token(a, "admin"),
              "manager": access.create_token(a, "manager", employee_id=people["zhang"].id),
              "sales": access.create_token(a, "sales", employee_id=people["li"].id),
              "sales2": access.create_token(a, "sales", employee_id=people["liu"].id),
              "other": access.create_token(b, "admin")}
    return {"a": a, "b": b, "tokens": tokens, "e": {k: v.id for k, v in people.items()}, "zhao": zhao.id,
            "gone": [c.id for c in gone], "wangs": [c.id for c in wangs], "lis": lis.id, "ended": ended.id,
            "theirs": theirs.id}


def call(client, method, path, token, **kw):
    return client.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {token}"}, **kw)


def departed_body(world, **over):
    e = world["e"]
    return {"kind": "departed", "from_employee_id": e["sun"], "to_employee_ids": [e["li"], e["liu"]], **over}


def plan(client, world, token="admin", **over):
    r = call(client, "POST", "/handovers", world["tokens"][token], json=departed_body(world, **over))
    assert r.status_code == 201, r.json
    return r.json


def corp(world, key="a") -> Corp:
    return db.session.get(Corp, world[key].id)


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# ================================================================ 1. roles and tenants

def test_sales_may_not_plan_start_or_see_the_unassigned(client, world, fake_host):
    sales = world["tokens"]["sales"]
    r = call(client, "POST", "/handovers", sales, json=departed_body(world))
    assert r.status_code == 403 and r.json["code"] == "forbidden"
    assert call(client, "POST", "/handovers?dry_run=1", sales, json=departed_body(world)).status_code == 403
    assert call(client, "GET", "/handovers/unassigned", sales).status_code == 403
    handover = plan(client, world)  # li is one of its takers: it is visible to li, but not li's to start
    assert call(client, "GET", f"/handovers/{handover['id']}", sales).status_code == 200
    assert [h["id"] for h in call(client, "GET", "/handovers", sales).json["items"]] == [handover["id"]]
    assert call(client, "POST", f"/handovers/{handover['id']}/start", sales).status_code == 403
    assert fake_host.called("transfer_customers") == []
    assert count(Handover, Handover.status != "planned") == 0


def test_a_salesperson_sees_only_the_handovers_they_take_part_in(client, world):
    e = world["e"]
    onjob = call(client, "POST", "/handovers", world["tokens"]["admin"],
                 json={"kind": "onjob", "from_employee_id": e["wang"], "to_employee_ids": [e["liu"]]})
    assert onjob.status_code == 201, onjob.json
    assert call(client, "GET", "/handovers", world["tokens"]["sales"]).json["items"] == []
    assert call(client, "GET", f"/handovers/{onjob.json['id']}", world["tokens"]["sales"]).status_code == 404
    assert call(client, "POST", f"/handovers/{onjob.json['id']}/start", world["tokens"]["sales"]).status_code == 404
    assert [h["id"] for h in call(client, "GET", "/handovers", world["tokens"]["sales2"]).json["items"]] == [
        onjob.json["id"]]


def test_a_manager_hands_over_only_within_their_departments(client, world, fake_host):
    e, manager = world["e"], world["tokens"]["manager"]
    # from 孙 (华东) to 王 (华西): a taker outside
    r = call(client, "POST", "/handovers", manager, json=departed_body(world, to_employee_ids=[e["li"], e["wang"]]))
    assert r.status_code == 403, r.json
    # from 王 (华西) to 李: the giver outside
    r = call(client, "POST", "/handovers", manager,
             json={"kind": "onjob", "from_employee_id": e["wang"], "to_employee_ids": [e["li"]]})
    assert r.status_code == 403, r.json
    assert call(client, "POST", "/handovers?dry_run=1", manager,
                json={"kind": "onjob", "from_employee_id": e["wang"], "to_employee_ids": [e["li"]]}).status_code == 403
    # within: fine, and the unassigned list names 孙
    ok = plan(client, world, token="manager")
    unassigned = call(client, "GET", "/handovers/unassigned", world["tokens"]["admin"]).json["items"]
    assert [(i["employee"]["id"], i["customers"]) for i in unassigned] == [(e["sun"], 0)]  # all planned now
    assert call(client, "POST", f"/handovers/{ok['id']}/start", manager).status_code == 202
    # a handover of 王's that an admin planned is not the manager's to see or start
    theirs = call(client, "POST", "/handovers", world["tokens"]["admin"],
                  json={"kind": "onjob", "from_employee_id": e["wang"], "to_employee_ids": [e["liu"]]}).json
    # 刘 (华东) takes part, so the manager sees it; but the giver is outside: starting it is forbidden
    assert call(client, "GET", f"/handovers/{theirs['id']}", manager).status_code == 200
    assert call(client, "POST", f"/handovers/{theirs['id']}/start", manager).status_code == 403


def test_the_unassigned_list_names_departed_members_within_scope(client, world):
    admin = call(client, "GET", "/handovers/unassigned", world["tokens"]["admin"])
    assert admin.status_code == 200
    [item] = admin.json["items"]
    assert item["employee"]["id"] == world["e"]["sun"] and item["customers"] == GONE_CUSTOMERS
    assert sorted(item["customer_ids"]) == sorted(world["gone"])
    assert call(client, "GET", "/handovers/unassigned", world["tokens"]["manager"]).json["items"] == [item]
    # the fake is one host for both corps, so corp b's admin is shown 孙's host id; never corp a's rows
    for theirs in call(client, "GET", "/handovers/unassigned", world["tokens"]["other"]).json["items"]:
        assert theirs["employee"]["id"] is None and theirs["customer_ids"] == []


def test_another_corps_handover_or_customer_is_404(client, world, fake_host):
    handover = plan(client, world)
    other = world["tokens"]["other"]
    assert call(client, "GET", f"/handovers/{handover['id']}", other).status_code == 404
    assert call(client, "POST", f"/handovers/{handover['id']}/start", other).status_code == 404
    assert fake_host.called("transfer_customers") == []
    assert call(client, "GET", "/handovers", other).json["items"] == []
    pool.refresh(corp(world))
    assert count(PoolEntry, PoolEntry.status == "open") > 0
    assert call(client, "GET", "/pool", other).json == {"items": [], "total": 0, "next": None}
    # corp a's pooled customer claimed by corp b's admin for corp b's employee: nothing of corp a's
    r = call(client, "POST", f"/pool/{world['gone'][0]}/claim", other, json={"employee_id": world["zhao"]})
    assert r.status_code == 404, r.json
    # corp b's admin naming corp a's employee: not an employee of corp b
    r = call(client, "POST", f"/pool/{world['gone'][0]}/claim", other, json={"employee_id": world["e"]["li"]})
    assert r.status_code in (404, 422), r.json
    # corp b's customer claimed with corp a's tokens
    for token in ("admin", "sales"):
        body = {"employee_id": world["e"]["li"]} if token == "admin" else {}
        r = call(client, "POST", f"/pool/{world['theirs']}/claim", world["tokens"][token], json=body)
        assert r.status_code == 404, r.json
    assert count(PoolEntry, PoolEntry.status == "claimed") == 0


def test_an_admin_of_another_corp_never_sees_its_handovers(client, world):
    plan(client, world)
    e = world["e"]
    call(client, "POST", "/handovers", world["tokens"]["admin"],
         json={"kind": "onjob", "from_employee_id": e["wang"], "to_employee_ids": [e["liu"]]})
    assert len(call(client, "GET", "/handovers", world["tokens"]["admin"]).json["items"]) == 2
    other = world["tokens"]["other"]
    assert call(client, "GET", "/handovers", other).json["items"] == []
    assert call(client, "GET", "/handovers?limit=200&before=9999999", other).json["items"] == []
    # nor can it plan with corp a's people
    r = call(client, "POST", "/handovers", other, json=departed_body(world))
    assert r.status_code == 422 and r.json["field"] == "from_employee_id", r.json
    r = call(client, "POST", "/handovers", other,
             json={"kind": "onjob", "from_employee_id": world["zhao"], "to_employee_ids": [e["li"]]})
    assert r.status_code == 422 and r.json["field"] == "to_employee_ids", r.json


# ================================================================ 2. bad input

@pytest.mark.parametrize("change, field", [
    ({"kind": "sideways"}, "kind"),
    ({"to_employee_ids": []}, "to_employee_ids"),
    ({"to_employee_ids": ["{sun}"]}, "to_employee_ids"),  # the giver among the takers
    ({"to_employee_ids": ["{li}", "{sun}"]}, "to_employee_ids"),
    ({"kind": "departed", "from_employee_id": "{wang}"}, "from_employee_id"),  # still with the corp
    ({"kind": "onjob", "to_employee_ids": ["{li}"]}, "from_employee_id"),  # 孙 left
    ({"message": "您好"}, "message"),  # a departed handover tells the customer nothing
    ({"kind": "onjob", "from_employee_id": "{wang}", "to_employee_ids": ["{li}"], "message": "长" * 201}, "message"),
    ({"kind": "onjob", "from_employee_id": "{wang}", "to_employee_ids": ["{li}"], "message": ""}, "message"),
    ({"colour": "red"}, "colour"),
    ({"from_employee_id": 0}, "from_employee_id"),
    ({"from_employee_id": HUGE}, "from_employee_id"),
    ({"from_employee_id": -1}, "from_employee_id"),
    ({"from_employee_id": "abc"}, "from_employee_id"),
    ({"to_employee_ids": [0]}, "to_employee_ids"),
    ({"to_employee_ids": [HUGE]}, "to_employee_ids"),
    ({"to_employee_ids": 5}, "to_employee_ids"),
    ({"to_employee_ids": [987654321]}, "to_employee_ids"),
    ({"from_employee_id": 987654321}, "from_employee_id"),
    ({"customer_ids": [0]}, "customer_ids"),
    ({"customer_ids": [HUGE]}, "customer_ids"),
    ({"customer_ids": []}, "customer_ids"),
    ({"customer_ids": ["{wang0}"]}, "customer_ids"),  # 孙 does not follow 王's customer
    ({"customer_ids": ["{theirs}"]}, "customer_ids"),  # another corp's
    ({"group_chat_ids": [HUGE]}, "group_chat_ids"),
    ({"split": "random"}, "split"),
    ({"reason": "x" * 256}, "reason"),
])
@pytest.mark.parametrize("dry_run", [False, True])
def test_bad_plans_are_422_naming_the_field(client, world, fake_host, change, field, dry_run):
    names = {**world["e"], "wang0": world["wangs"][0], "theirs": world["theirs"]}

    def fill(value):
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            return names[value[1:-1]]
        return value

    body = {**departed_body(world), **{k: fill(v) for k, v in change.items()}}
    r = call(client, "POST", f"/handovers{'?dry_run=1' if dry_run else ''}", world["tokens"]["admin"], json=body)
    assert r.status_code == 422, r.json
    assert r.json["code"] == "invalid" and r.json["field"] == field, r.json
    assert count(Handover) == 0 and count(HandoverLine) == 0
    assert fake_host.called("transfer_customers") == []


@pytest.mark.parametrize("body", [NESTED, b'{"kind": ' + NESTED + b"}", b"{not json", b"[1, 2]", b'"departed"'])
def test_malformed_plans_are_4xx(client, world, body):
    r = call(client, "POST", "/handovers", world["tokens"]["admin"], data=body, content_type="application/json")
    assert r.status_code in (400, 422), (r.status_code, r.json)
    assert count(Handover) == 0


@pytest.mark.parametrize("path", ["/handovers", "/pool/{c}/claim"])
def test_a_deeply_nested_body_is_400(client, world, path):
    r = call(client, "POST", path.format(c=world["gone"][0]), world["tokens"]["admin"], data=NESTED,
             content_type="application/json")
    assert r.status_code == 400


@pytest.mark.parametrize("method, path", [
    ("GET", f"/handovers/{HUGE}"), ("POST", f"/handovers/{HUGE}/start"), ("GET", "/handovers/0"),
    ("POST", "/handovers/0/start"), ("POST", f"/pool/{HUGE}/claim"), ("POST", "/pool/0/claim"),
    ("GET", "/handovers/987654321"), ("POST", "/handovers/987654321/start"), ("POST", "/pool/987654321/claim"),
])
def test_ids_out_of_range_or_unknown_are_404(client, world, method, path):
    r = call(client, method, path, world["tokens"]["admin"], json={"employee_id": world["e"]["li"]})
    assert r.status_code == 404, (r.status_code, r.json)


@pytest.mark.parametrize("path, query, field", [
    ("/handovers", "limit=0", "limit"), ("/handovers", "limit=201", "limit"),
    ("/handovers", f"before={HUGE}", "before"), ("/handovers", "before=0", "before"),
    ("/handovers", "colour=red", "colour"), ("/pool", "limit=0", "limit"),
    ("/pool", f"after={HUGE}", "after"), ("/pool", "reason=bored", "reason"), ("/pool", "colour=red", "colour"),
    ("/handovers", "dry_run=maybe", "dry_run"),
])
def test_bad_queries_are_422(client, world, path, query, field):
    r = call(client, "GET" if "dry_run" not in query else "POST", f"{path}?{query}", world["tokens"]["admin"],
             json=departed_body(world) if "dry_run" in query else None)
    assert r.status_code == 422 and r.json["field"] == field, r.json


@pytest.mark.parametrize("body, status, field", [
    ({"employee_id": 0}, 422, "employee_id"), ({"employee_id": HUGE}, 422, "employee_id"),
    ({"employee_id": "x"}, 422, "employee_id"), ({"colour": "red"}, 422, "colour"),
    ({"employee_id": 987654321}, 422, "employee_id"), ({}, 422, "employee_id"),  # an admin names who claims
])
def test_bad_claims_are_4xx(client, world, body, status, field):
    pool.refresh(corp(world))
    r = call(client, "POST", f"/pool/{world['gone'][0]}/claim", world["tokens"]["admin"], json=body)
    assert r.status_code == status and r.json["field"] == field, r.json
    assert count(PoolEntry, PoolEntry.status == "claimed") == 0


def test_a_departed_employee_cannot_claim(client, world):
    pool.refresh(corp(world))
    r = call(client, "POST", f"/pool/{world['gone'][0]}/claim", world["tokens"]["admin"],
             json={"employee_id": world["e"]["sun"]})
    assert r.status_code == 422 and r.json["field"] == "employee_id", r.json


def test_sales_claim_for_themselves_and_managers_within_scope(client, world):
    pool.refresh(corp(world))
    c = world["gone"][0]
    r = call(client, "POST", f"/pool/{c}/claim", world["tokens"]["sales"], json={"employee_id": world["e"]["liu"]})
    assert r.status_code == 403, r.json
    r = call(client, "POST", f"/pool/{c}/claim", world["tokens"]["manager"], json={"employee_id": world["e"]["wang"]})
    assert r.status_code == 403, r.json
    assert count(PoolEntry, PoolEntry.status == "claimed") == 0
    r = call(client, "POST", f"/pool/{c}/claim", world["tokens"]["manager"], json={"employee_id": world["e"]["liu"]})
    assert r.status_code == 201 and r.json["claimed_by"]["id"] == world["e"]["liu"], r.json


# ================================================================ 4. the pool

def test_refresh_pools_departed_members_customers_and_ended_ones(client, world):
    assert pool.refresh(corp(world)) == {"entered": GONE_CUSTOMERS + 1, "left": 0}
    assert pool.refresh(corp(world)) == {"entered": 0, "left": 0}  # once
    listed = call(client, "GET", "/pool", world["tokens"]["sales"])
    assert listed.status_code == 200 and listed.json["total"] == GONE_CUSTOMERS + 1
    reasons = {i["customer_id"]: i["reason"] for i in listed.json["items"]}
    assert reasons == {**{c: "departed" for c in world["gone"]}, world["ended"]: "ended"}
    by_id = {i["customer_id"]: i for i in listed.json["items"]}
    assert by_id[world["gone"][0]]["from_employee"] == {"id": world["e"]["sun"], "name": "孙"}
    assert by_id[world["ended"]]["from_employee"]["id"] == world["e"]["li"]
    only = call(client, "GET", "/pool?reason=ended", world["tokens"]["admin"]).json
    assert [i["customer_id"] for i in only["items"]] == [world["ended"]]
    assert count(TimelineEntry, TimelineEntry.kind == "pool_in") == GONE_CUSTOMERS + 1


def test_the_pool_pages_newest_first(client, world):
    pool.refresh(corp(world))
    seen, after = [], None
    while True:
        page = call(client, "GET", "/pool", world["tokens"]["admin"],
                    query_string={"limit": 2, **({"after": after} if after else {})}).json
        seen += [i["entry_id"] for i in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == GONE_CUSTOMERS + 1


def test_a_sales_claim_of_a_departed_members_customer_starts_a_handover(client, world, fake_host):
    pool.refresh(corp(world))
    c, sales = world["gone"][0], world["tokens"]["sales"]
    assert call(client, "GET", f"/customers/{c}", sales).status_code == 404
    r = call(client, "POST", f"/pool/{c}/claim", sales, json={})
    assert r.status_code == 201, r.json
    assert r.json["claimed_by"]["id"] == world["e"]["li"] and r.json["customer_id"] == c
    assert r.json["handover_id"] and r.json["claims_left_today"] == pool.DAILY_CLAIMS - 1
    assert call(client, "GET", f"/customers/{c}", sales).status_code == 200
    assert call(client, "GET", f"/customers/{c}", world["tokens"]["sales2"]).status_code == 404
    entry = db.session.scalar(select(TimelineEntry).where(TimelineEntry.customer_id == c,
                                                          TimelineEntry.kind == "pool_claimed"))
    assert entry is not None and entry.employee_id == world["e"]["li"]
    assert entry.payload["handover_id"] == r.json["handover_id"]
    handover = db.session.get(Handover, r.json["handover_id"])
    assert handover.kind == "departed" and handover.from_employee_id == world["e"]["sun"]
    assert handover.status == "running"
    [sent] = fake_host.called("transfer_customers")
    assert sent["departed"] is True and sent["customer_ids"] == ["wmsun0"]
    assert (sent["handover_id"], sent["takeover_id"]) == ("sun", "li")
    # no longer in the pool, and the salesperson sees the handover they take part in
    assert c not in [i["customer_id"] for i in call(client, "GET", "/pool", sales).json["items"]]
    assert call(client, "GET", f"/handovers/{handover.id}", sales).status_code == 200
    # claiming it again: not in the pool any more
    assert call(client, "POST", f"/pool/{c}/claim", world["tokens"]["sales2"], json={}).status_code == 404


def test_claiming_an_ended_customer_starts_no_handover(client, world, fake_host):
    pool.refresh(corp(world))
    r = call(client, "POST", f"/pool/{world['ended']}/claim", world["tokens"]["sales2"], json={})
    assert r.status_code == 201 and r.json["handover_id"] is None, r.json
    assert fake_host.called("transfer_customers") == []
    assert call(client, "GET", f"/customers/{world['ended']}", world["tokens"]["sales2"]).status_code == 200


def test_the_daily_cap_refuses_the_third_claim(client, world, fake_host):
    with unit_of_work():
        a = db.session.get(Corp, world["a"].id)
        a.options = {**(a.options or {}), "pool": {"daily_claims": 2}}
    pool.refresh(corp(world))
    sales = world["tokens"]["sales"]
    first = call(client, "POST", f"/pool/{world['gone'][0]}/claim", sales, json={})
    assert first.status_code == 201 and first.json["claims_left_today"] == 1, first.json
    second = call(client, "POST", f"/pool/{world['gone'][1]}/claim", sales, json={})
    assert second.status_code == 201 and second.json["claims_left_today"] == 0, second.json
    third = call(client, "POST", f"/pool/{world['gone'][2]}/claim", sales, json={})
    assert third.status_code == 409 and third.json["code"] == "conflict", third.json
    assert count(PoolEntry, PoolEntry.status == "claimed") == 2
    assert count(Handover) == 2 and len(fake_host.called("transfer_customers")) == 2
    assert call(client, "GET", f"/customers/{world['gone'][2]}", sales).status_code == 404
    # the cap is each employee's
    assert call(client, "POST", f"/pool/{world['gone'][2]}/claim", world["tokens"]["sales2"],
                json={}).status_code == 201


def test_a_customer_not_in_the_pool_is_404(client, world):
    pool.refresh(corp(world))
    sales = world["tokens"]["sales"]
    for c in (world["wangs"][0], world["lis"]):  # followed by a colleague, by oneself
        r = call(client, "POST", f"/pool/{c}/claim", sales, json={})
        assert r.status_code == 404 and r.json["code"] == "not_found", r.json
    assert count(PoolEntry, PoolEntry.status == "claimed") == 0


def _set_rules(world, **rules):
    with unit_of_work():
        a = db.session.get(Corp, world["a"].id)
        a.options = {**(a.options or {}), "pool": rules}


def test_no_followup_puts_back_a_stale_customer_but_not_one_with_a_recent_note(client, world, fake_host):
    from datetime import timedelta

    from scrm.models import Note

    e, (stale, noted, _young) = world["e"], world["wangs"]
    long_ago = utcnow() - timedelta(days=60)
    with unit_of_work():
        for rel in db.session.scalars(select(Relationship).where(Relationship.customer_id.in_([stale, noted]))):
            rel.started_at = long_ago
        db.session.add(Note(corp_id=world["a"].id, customer_id=noted, author_id=e["wang"], body="回访",
                            created_at=utcnow() - timedelta(days=2)))
        db.session.add(Note(corp_id=world["a"].id, customer_id=stale, author_id=e["wang"], body="很久以前",
                            created_at=utcnow() - timedelta(days=45)))
    assert pool.apply_rules(corp(world)) == {"no_followup": 0, "stage_lost": 0}  # no rule set
    _set_rules(world, no_followup_days=30)
    assert pool.apply_rules(corp(world))["no_followup"] == 1
    assert pool.apply_rules(corp(world))["no_followup"] == 0  # once
    listed = call(client, "GET", "/pool?reason=no_followup", world["tokens"]["admin"]).json["items"]
    assert [(i["customer_id"], i["from_employee"]["id"]) for i in listed] == [(stale, e["wang"])]
    # a colleague claims it: an on-job handover from 王 to 刘 starts
    r = call(client, "POST", f"/pool/{stale}/claim", world["tokens"]["sales2"], json={})
    assert r.status_code == 201 and r.json["handover_id"], r.json
    handover = db.session.get(Handover, r.json["handover_id"])
    assert handover.kind == "onjob" and handover.from_employee_id == e["wang"]
    [sent] = fake_host.called("transfer_customers")
    assert sent["departed"] is False and (sent["handover_id"], sent["takeover_id"]) == ("wang", "liu")
    assert pool.apply_rules(corp(world))["no_followup"] == 0  # claimed just now


def test_stage_lost_puts_back_a_lost_customer_once(client, world):
    c = world["wangs"][1]
    assert call(client, "PATCH", f"/customers/{c}", world["tokens"]["admin"], json={"stage": "lost"}).status_code == 200
    _set_rules(world, stage_lost=True)
    assert pool.apply_rules(corp(world)) == {"no_followup": 0, "stage_lost": 1}
    assert pool.apply_rules(corp(world))["stage_lost"] == 0
    listed = call(client, "GET", "/pool?reason=stage_lost", world["tokens"]["admin"]).json["items"]
    assert [i["customer_id"] for i in listed] == [c]
    assert call(client, "POST", f"/pool/{c}/claim", world["tokens"]["sales"], json={}).status_code == 201
    assert pool.apply_rules(corp(world))["stage_lost"] == 0  # claimed: not put back again for the same loss


# ================================================================ 3. plans

def test_an_even_split_differs_by_at_most_one(client, world):
    e = world["e"]
    r = call(client, "POST", "/handovers?dry_run=1", world["tokens"]["admin"],
             json=departed_body(world, to_employee_ids=[e["li"], e["liu"], e["zhang"]]))
    assert r.status_code == 200 and r.json["id"] is None, r.json
    counts = [t["customers"] for t in r.json["takers"]]
    assert sum(counts) == GONE_CUSTOMERS and max(counts) - min(counts) <= 1
    given = [c for t in r.json["takers"] for c in t["customer_ids"]]
    assert sorted(given) == sorted(world["gone"])


def test_a_load_split_gives_more_to_the_taker_with_fewer_customers(client, world):
    e = world["e"]
    # 王 follows three customers, 刘 none
    r = call(client, "POST", "/handovers?dry_run=1", world["tokens"]["admin"],
             json=departed_body(world, to_employee_ids=[e["wang"], e["liu"]], split="load"))
    assert r.status_code == 200, r.json
    got = {t["employee"]["id"]: t["customers"] for t in r.json["takers"]}
    assert got[e["liu"]] > got[e["wang"]] and sum(got.values()) == GONE_CUSTOMERS
    assert got == {e["liu"]: 4, e["wang"]: 1}


def test_a_dry_run_stores_nothing(client, world, fake_host):
    r = call(client, "POST", "/handovers?dry_run=1", world["tokens"]["admin"], json=departed_body(world))
    assert r.status_code == 200 and r.json["id"] is None and r.json["customers"] == GONE_CUSTOMERS
    assert call(client, "GET", "/handovers", world["tokens"]["admin"]).json["items"] == []
    assert count(Handover) == 0 and count(HandoverLine) == 0
    assert fake_host.called("transfer_customers") == []


def test_a_second_plan_of_the_same_customers_skips_them(client, world):
    first = plan(client, world, customer_ids=world["gone"][:3])
    assert first["customers"] == 3 and first["skipped"] == []
    second = call(client, "POST", "/handovers", world["tokens"]["admin"], json=departed_body(world))
    assert second.status_code == 201, second.json
    assert sorted(s["customer_id"] for s in second.json["skipped"]) == sorted(world["gone"][:3])
    assert {s["reason"] for s in second.json["skipped"]} == {"already in a handover"}
    assert second.json["customers"] == GONE_CUSTOMERS - 3
    assert count(HandoverLine) == GONE_CUSTOMERS


def test_starting_twice_sends_nothing_twice(client, world, fake_host):
    handover = plan(client, world)
    admin = world["tokens"]["admin"]
    first = call(client, "POST", f"/handovers/{handover['id']}/start", admin)
    assert first.status_code == 202 and first.json["status"] == "running", first.json
    sent = fake_host.called("transfer_customers")
    assert len(sent) == 2  # one batch per taker
    again = call(client, "POST", f"/handovers/{handover['id']}/start", admin)
    assert again.status_code == 202 and again.json["status"] == "running"
    assert fake_host.called("transfer_customers") == sent
    shown = call(client, "GET", f"/handovers/{handover['id']}", admin).json
    assert shown["counts"] == {"waiting": GONE_CUSTOMERS}
    assert len(shown["lines"]) == GONE_CUSTOMERS and {ln["state"] for ln in shown["lines"]} == {"waiting"}
    moved = sorted(c for s in sent for c in s["customer_ids"])
    assert moved == sorted(f"wmsun{n}" for n in range(GONE_CUSTOMERS))


def test_batches_hold_at_most_100_customers(client, world, fake_host):
    a, e = corp(world), world["e"]
    extra = [make_customer(a, host_id=f"wmbig{n:03d}", name=f"大客户{n}") for n in range(230)]
    with unit_of_work():
        db.session.add_all(Relationship(corp_id=a.id, employee_id=e["sun"], customer_id=c.id, status="active")
                           for c in extra)
    for c in extra:
        fake_host.add_friend("sun", c.host_id)
    handover = plan(client, world, to_employee_ids=[e["li"]])
    assert handover["customers"] == GONE_CUSTOMERS + 230
    assert call(client, "POST", f"/handovers/{handover['id']}/start", world["tokens"]["admin"]).status_code == 202
    sizes = [len(s["customer_ids"]) for s in fake_host.called("transfer_customers")]
    assert sizes == [100, 100, 35]
    customers = [c for s in fake_host.called("transfer_customers") for c in s["customer_ids"]]
    assert len(customers) == len(set(customers)) == GONE_CUSTOMERS + 230


# ================================================================ claims and handovers meeting

def test_claiming_a_customer_a_handover_is_moving_is_409(client, world, fake_host):
    pool.refresh(corp(world))
    handover = plan(client, world, to_employee_ids=[world["e"]["li"]])
    sales2 = world["tokens"]["sales2"]
    # planned, then started: either way the customer is on the way to 李, not 刘's to claim
    assert call(client, "POST", f"/pool/{world['gone'][0]}/claim", sales2, json={}).status_code == 409
    call(client, "POST", f"/handovers/{handover['id']}/start", world["tokens"]["admin"])
    sent = len(fake_host.called("transfer_customers"))
    # once asked of the host, the customer has left the pool
    r = call(client, "POST", f"/pool/{world['gone'][1]}/claim", sales2, json={})
    assert r.status_code == 404, r.json
    listed = [i["customer_id"] for i in call(client, "GET", "/pool", sales2).json["items"]]
    assert not set(world["gone"]) & set(listed)
    assert count(Handover) == 1 and len(fake_host.called("transfer_customers")) == sent
    assert count(PoolEntry, PoolEntry.status == "claimed") == 0
    assert call(client, "GET", f"/customers/{world['gone'][1]}", sales2).status_code == 404


def test_a_claim_lost_to_a_quicker_colleague_leaves_no_handover_behind(client, world, fake_host, monkeypatch):
    from scrm.services import handovers

    pool.refresh(corp(world))
    c, real = world["gone"][0], handovers.create

    def create_then_lose_the_race(*args, **kwargs):
        out = real(*args, **kwargs)
        with unit_of_work():  # 刘's claim of the same customer commits meanwhile
            entry = db.session.scalar(select(PoolEntry).where(PoolEntry.customer_id == c, PoolEntry.status == "open"))
            entry.status, entry.claimed_by, entry.claimed_at = "claimed", world["e"]["liu"], utcnow()
        return out

    monkeypatch.setattr(handovers, "create", create_then_lose_the_race)
    r = call(client, "POST", f"/pool/{c}/claim", world["tokens"]["sales"], json={})
    assert r.status_code == 409, r.json
    monkeypatch.undo()
    assert count(Handover) == 0 and count(HandoverLine) == 0
    assert fake_host.called("transfer_customers") == []
    # the customer is not kept out of a later plan by a line nobody will send
    later = plan(client, world, customer_ids=[c])
    assert later["customers"] == 1 and later["skipped"] == []


def test_a_taker_sees_only_their_own_lines(client, world):
    handover = plan(client, world)  # to 李 and 刘
    e = world["e"]
    mine = call(client, "GET", f"/handovers/{handover['id']}", world["tokens"]["sales"]).json
    assert mine["lines"] and {ln["to_employee"]["id"] for ln in mine["lines"]} == {e["li"]}
    theirs = call(client, "GET", f"/handovers/{handover['id']}", world["tokens"]["sales2"]).json
    assert {ln["to_employee"]["id"] for ln in theirs["lines"]} == {e["liu"]}
    assert len(mine["lines"]) + len(theirs["lines"]) == GONE_CUSTOMERS
    # the giver's side sees every line
    for token in ("admin", "manager"):
        shown = call(client, "GET", f"/handovers/{handover['id']}", world["tokens"][token]).json
        assert len(shown["lines"]) == GONE_CUSTOMERS


def test_a_mistyped_dry_run_stores_nothing(client, world):
    r = call(client, "POST", "/handovers?dryrun=1", world["tokens"]["admin"], json=departed_body(world))
    assert r.status_code == 422 and r.json["field"] == "dryrun", r.json
    assert count(Handover) == 0


@pytest.mark.parametrize("data, content_type", [
    (b"[1]", "application/json"), (b'"x"', "application/json"), (b"{", "application/json"),
    (b"employee_id=2", "application/x-www-form-urlencoded"), (b"null", "application/json"),
])
def test_odd_claim_bodies_are_never_500(client, world, data, content_type):
    pool.refresh(corp(world))
    r = call(client, "POST", f"/pool/{world['gone'][0]}/claim", world["tokens"]["admin"], data=data,
             content_type=content_type)
    assert r.status_code in (400, 422), (r.status_code, r.json)
    assert count(PoolEntry, PoolEntry.status == "claimed") == 0


def test_an_onjob_handover_tells_the_customer_its_message(client, world, fake_host):
    e, admin = world["e"], world["tokens"]["admin"]
    r = call(client, "POST", "/handovers", admin, json={"kind": "onjob", "from_employee_id": e["wang"],
                                                          "to_employee_ids": [e["liu"]], "message": "您好，由刘接待您"})
    assert r.status_code == 201 and r.json["customers"] == 3, r.json
    assert call(client, "POST", f"/handovers/{r.json['id']}/start", admin).status_code == 202
    [sent] = fake_host.called("transfer_customers")
    assert sent["departed"] is False and sent["message"] == "您好，由刘接待您"
    assert sorted(sent["customer_ids"]) == ["wmwang0", "wmwang1", "wmwang2"]
