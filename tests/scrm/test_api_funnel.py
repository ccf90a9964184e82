"""/api/v1/funnel: counts, reached, conversions and median stays worked out by hand for six customers, role scoping,
the filters (channel, employee, department with its subtree, period in local days), another corp's ids 404 and bad
input 4xx."""
from datetime import datetime, timedelta

import pytest

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.models import Channel, Corp, Department, EmployeeDepartment, Relationship, StageChange
from scrm.services import access
from tests.builders import make_corp, make_customer, make_employee

T0 = datetime(2026, 11, 2, 2, 0)  # 10:00 on 2 November in Shanghai (the corps' default time zone)
H = timedelta(hours=1)

# customer: (employee, channel?, status, created/added at, [(to_stage, hours after the add)])
PEOPLE = {
    "c1": ("li", True, "active", T0, [("contacted", 1), ("intent", 3), ("won", 7)]),
    "c2": ("li", False, "active", T0 + 15 * H, [("contacted", 2), ("lost", 6)]),  # 01:00 on 3 Nov, local
    "c3": ("wang", True, "active", T0 + 72 * H, [("contacted", 4)]),
    "c4": ("wang", False, "active", T0 + 192 * H, []),
    "c5": ("zhang", False, "active", T0, [("contacted", 1), ("intent", 2), ("lost", 10), ("intent", 20)]),
    "c6": ("li", False, "removed_by_customer", T0, [("contacted", 5)]),  # ended: admins only
}


@pytest.fixture
def world(app, fake_host):
    corp, other = make_corp(name="甲公司"), make_corp(name="乙公司")
    staff = {h: make_employee(corp, host_id=h, name=n) for h, n in (("zhang", "张经理"), ("li", "李四"), ("wang", "王五"))}
    outsider = make_employee(other, host_id="x", name="外人")
    with unit_of_work():
        depts = {h: Department(corp_id=corp.id, host_id=h, name=n, parent_host_id=p) for h, n, p in (
            ("1", "总部", None), ("2", "华东", "1"), ("21", "华东一组", "2"), ("3", "华西", "1"))}
        their_dept = Department(corp_id=other.id, host_id="2", name="别家部门", parent_host_id="1")
        poster = Channel(corp_id=corp.id, name="海报", state="poster")
        their_channel = Channel(corp_id=other.id, name="别家渠道", state="theirs")
        db.session.add_all([*depts.values(), their_dept, poster, their_channel])
        db.session.flush()
        db.session.add_all([EmployeeDepartment(employee_id=staff["zhang"].id, department_id=depts["2"].id),
                            EmployeeDepartment(employee_id=staff["li"].id, department_id=depts["21"].id),
                            EmployeeDepartment(employee_id=staff["wang"].id, department_id=depts["3"].id)])
    people = {}
    for name, (emp, via_channel, status, at, moves) in PEOPLE.items():
        cust = make_customer(corp, name=name, created_at=at, stage=moves[-1][0] if moves else "new")
        with unit_of_work():
            db.session.add(Relationship(corp_id=corp.id, employee_id=staff[emp].id, customer_id=cust.id,
                                        status=status, started_at=at, channel_id=poster.id if via_channel else None))
            stage = "new"
            for to_stage, hours in moves:
                db.session.add(StageChange(corp_id=corp.id, customer_id=cust.id, from_stage=stage, to_stage=to_stage,
                                           changed_at=at + hours * H))
                stage = to_stage
        people[name] = cust.id
    their_customer = make_customer(other, stage="won")
    with unit_of_work():
        db.session.add(Relationship(corp_id=other.id, employee_id=outsider.id, customer_id=their_customer.id,
                                    started_at=T0, channel_id=their_channel.id))
    tokens = {"admin": access.create_token(corp, "admin"),
              "manager": access.create_token(corp, "manager", employee_id=staff["zhang"].id),
              "sales": access.create_token(corp, "sales", employee_id=staff["li"].id),
              "other": access.create_token(other, "admin")}
    return {"corp": corp, "tokens": tokens, "people": people, "staff": {h: e.id for h, e in staff.items()},
            "depts": {h: d.id for h, d in depts.items()}, "channel": poster.id, "their_channel": their_channel.id,
            "their_dept": their_dept.id, "outsider": outsider.id}


def get(client, world, token="admin", **params):
    return client.get("/api/v1/funnel", query_string=params,
                      headers={"Authorization": f"Bearer {world['tokens'][token]}"})


def table(response):
    """{stage: (customers now, reached, conversion from previous, median seconds)}"""
    assert response.status_code == 200, response.json
    return {s["stage"]: (s["customers"], s["reached"], s["conversion_from_previous"], s["median_seconds_in_stage"])
            for s in response.json["stages"]}


def reached(response):
    return [s["reached"] for s in response.json["stages"]]


def test_the_admin_sees_the_whole_corp_worked_out_by_hand(client, world):
    answer = get(client, world)
    # furthest steps: c1 won, c2 contacted (then lost), c3 contacted, c4 new, c5 intent (lost and back), c6 contacted
    # stays in new: 1 h, 2 h, 4 h, 1 h, 5 h; contacted: 2 h, 4 h, 1 h; intent: 4 h, 8 h; lost: 10 h (c5 came back)
    assert table(answer) == {
        "new": (1, 6, None, 7200),
        "contacted": (2, 5, round(5 / 6, 4), 7200),
        "intent": (1, 2, 0.4, 21600),
        "won": (1, 1, 0.5, None),
        "lost": (1, 2, None, 36000),
    }
    assert [s["stage"] for s in answer.json["stages"]] == ["new", "contacted", "intent", "won", "lost"]
    assert [s["in_funnel"] for s in answer.json["stages"]] == [True, True, True, True, False]
    assert answer.json["totals"] == {"customers": 6, "lost": 1, "ever_lost": 2, "conversion_stage": "won",
                                     "converted": 1, "conversion": round(1 / 6, 4)}
    assert answer.json["timezone"] == "Asia/Shanghai" and answer.json["from"] is None and answer.json["to"] is None


def test_sales_see_their_own_and_managers_their_subtree(client, world):
    # li follows c1 and c2 now (c6 ended: no access); stays in new 1 h and 2 h, contacted 2 h and 4 h, intent 4 h
    assert table(get(client, world, "sales")) == {
        "new": (0, 2, None, 5400), "contacted": (0, 2, 1.0, 10800), "intent": (0, 1, 0.5, 14400),
        "won": (1, 1, 1.0, None), "lost": (1, 1, None, None)}
    # zhang manages 华东, and 华东一组 below it (li): c1, c2 and his own c5
    manager = get(client, world, "manager")
    assert reached(manager) == [3, 3, 2, 1, 2]
    assert manager.json["totals"]["customers"] == 3 and manager.json["totals"]["lost"] == 1
    assert table(manager)["intent"] == (1, 2, round(2 / 3, 4), 21600)
    # another corp's admin sees only its own customer (no history: only the stage it is in now)
    other = get(client, world, "other")
    assert table(other)["won"] == (1, 1, 1.0, None) and reached(other) == [1, 1, 1, 1, 0]


def test_filters_narrow_the_set(client, world):
    assert reached(get(client, world, channel_id=world["channel"])) == [2, 2, 1, 1, 0]  # c1, c3
    wang = get(client, world, employee_id=world["staff"]["wang"])  # c3, c4
    assert table(wang) == {"new": (1, 2, None, 14400), "contacted": (1, 1, 0.5, None), "intent": (0, 0, 0.0, None),
                           "won": (0, 0, None, None), "lost": (0, 0, None, None)}
    # a department counts with every department below it: 华东 is zhang (c5) and li of 华东一组 (c1, c2, c6)
    assert reached(get(client, world, department_id=world["depts"]["2"])) == [4, 4, 2, 1, 2]
    assert reached(get(client, world, department_id=world["depts"]["21"])) == [3, 3, 1, 1, 1]
    assert reached(get(client, world, department_id=world["depts"]["1"])) == [6, 5, 2, 1, 2]
    # filters combine with the scope and with each other
    assert reached(get(client, world, "manager", department_id=world["depts"]["3"])) == [0, 0, 0, 0, 0]
    assert reached(get(client, world, "sales", channel_id=world["channel"])) == [1, 1, 1, 1, 0]
    nobody = get(client, world, "sales", employee_id=world["staff"]["wang"])
    assert table(nobody)["contacted"] == (0, 0, None, None) and nobody.json["totals"]["conversion"] is None


def test_the_period_is_local_days_of_the_add_both_included(client, world):
    # c2 was added at 17:00 UTC on 2 November: 3 November in Shanghai
    first_day = get(client, world, **{"from": "2026-11-02", "to": "2026-11-02"})
    assert first_day.json["totals"]["customers"] == 3 and reached(first_day) == [3, 3, 2, 1, 1]  # c1, c5, c6
    assert first_day.json["from"] == "2026-11-02" and first_day.json["to"] == "2026-11-02"
    assert reached(get(client, world, **{"from": "2026-11-03", "to": "2026-11-05"})) == [2, 2, 0, 0, 1]  # c2, c3
    assert reached(get(client, world, **{"from": "2026-11-06"})) == [1, 0, 0, 0, 0]  # c4
    assert reached(get(client, world, to="2026-11-01")) == [0, 0, 0, 0, 0]


def test_the_corps_own_stage_list(client, world):
    with unit_of_work():
        db.session.get(Corp, world["corp"].id).options = {"stages": ["new", "intent", "won"],
                                                          "conversion_stage": "intent"}
    answer = get(client, world)
    # contacted is no stage of this corp: c3 and c6 are in none of its stages now and reached only the first step
    assert table(answer) == {"new": (1, 6, None, 7200), "intent": (1, 2, round(2 / 6, 4), 21600),
                             "won": (1, 1, 0.5, None)}
    assert answer.json["totals"]["conversion_stage"] == "intent" and answer.json["totals"]["converted"] == 2


def test_another_corps_or_missing_ids_are_404(client, world):
    for params in ({"channel_id": world["their_channel"]}, {"employee_id": world["outsider"]},
                   {"department_id": world["their_dept"]}, {"channel_id": 987654}, {"department_id": 987654}):
        answer = get(client, world, **params)
        assert answer.status_code == 404 and answer.json["code"] == "not_found", params
    assert client.get("/api/v1/funnel").status_code == 401


@pytest.mark.parametrize("params, field", [
    ({"channel_id": "abc"}, "channel_id"),
    ({"employee_id": 0}, "employee_id"),
    ({"department_id": 2 ** 63}, "department_id"),
    ({"from": "2026-13-01"}, "from"),
    ({"to": "yesterday"}, "to"),
    ({"from": "2026-11-05", "to": "2026-11-01"}, "to"),
    ({"from": "1999-12-31"}, "from"),
    ({"to": "2200-01-01"}, "to"),
    ({"stage": "won"}, "stage"),
])
def test_bad_input_is_422_naming_the_field(client, world, params, field):
    answer = get(client, world, **params)
    assert answer.status_code == 422, answer.json
    assert answer.json["field"] == field
