"""/api/v1: authentication, roles, tenant isolation on every endpoint, filters, pagination and validation."""
import hashlib

import pytest
from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.host import HostTag, HostTagGroup
from scrm.models import ApiToken, Channel, Department, EmployeeDepartment, Relationship, Tag
from scrm.services import access
from scrm.services.relations import set_relationship_tags
from scrm.services.tags import upsert_tag_group
from tests.builders import make_corp, make_customer, make_employee


@pytest.fixture
def world(app, fake_host):
    a, b = make_corp(name="甲公司"), make_corp(name="乙公司")
    zhang, li, wang = (make_employee(a, host_id=h, name=n) for h, n in (("zhang", "张"), ("li", "李"), ("wang", "王")))
    with unit_of_work():
        east, west = Department(corp_id=a.id, host_id="2", name="华东"), Department(corp_id=a.id, host_id="3", name="华西")
        db.session.add_all([east, west])
        db.session.flush()
        db.session.add_all([EmployeeDepartment(employee_id=zhang.id, department_id=east.id),
                            EmployeeDepartment(employee_id=li.id, department_id=east.id),
                            EmployeeDepartment(employee_id=wang.id, department_id=west.id)])
        poster = Channel(corp_id=a.id, name="海报", state="poster")
        db.session.add(poster)
        group = upsert_tag_group(a, HostTagGroup(id="g", name="意向", tags=[HostTag(id="hi", name="高"),
                                                                            HostTag(id="lo", name="低")]))
    tags = {t.name: t.id for t in db.session.scalars(select(Tag))}
    people = {}
    for n, (emp, status, tag_names, channel) in enumerate([
            (li, "active", ["高"], poster.id), (li, "active", ["高", "低"], None), (wang, "active", [], None),
            (li, "removed_by_customer", ["低"], None), (zhang, "active", [], poster.id)]):
        cust = make_customer(a, name=f"客户{n}🐯", host_id=f"wm{n}")
        with unit_of_work():
            rel = Relationship(corp_id=a.id, employee_id=emp.id, customer_id=cust.id, status=status,
                               channel_id=channel, remark=f"备注{n}")
            db.session.add(rel)
            db.session.flush()
            set_relationship_tags(rel, [tags[t] for t in tag_names])
        people[n] = (cust.id, rel.id)
        fake_host.add_friend(emp.host_id, cust.host_id)
    other = make_customer(b, name="别家客户", host_id="wmB")
    tokens = {"admin": access.create_token(a, "admin"), "manager": access.create_token(a, "manager", employee_id=zhang.id),
              "sales": access.create_token(a, "sales", employee_id=li.id), "other": access.create_token(b, "admin")}
    return {"tokens": tokens, "people": people, "tags": tags, "other": other.id, "channel": poster.id}


def call(client, method, path, token, **kw):
    return client.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {token}"}, **kw)


def ids(response):
    assert response.status_code == 200, response.json
    return sorted(item["id"] for item in response.json["items"])


def test_no_token_or_a_bad_token_is_401(client, world):
    assert client.get("/api/v1/customers").status_code == 401
    r = call(client, "GET", "/customers", "scrm_not-a-token")
    assert r.status_code == 401 and r.json["code"] == "unauthorized"


def test_only_a_hash_of_the_token_is_stored(world):
    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert hashlib.sha256(world["tokens"]["admin"].encode()).hexdigest() in stored
    assert world["tokens"]["admin"] not in stored


def test_roles_see_what_they_should(client, world):
    p = {n: c for n, (c, _) in world["people"].items()}
    assert ids(call(client, "GET", "/customers", world["tokens"]["admin"])) == sorted(p.values())
    assert ids(call(client, "GET", "/customers", world["tokens"]["sales"])) == sorted([p[0], p[1]])
    # p[3] is followed through an ended relationship only: managers see active relationships of their scope
    assert ids(call(client, "GET", "/customers", world["tokens"]["manager"])) == sorted([p[0], p[1], p[4]])
    assert ids(call(client, "GET", "/customers", world["tokens"]["other"])) == [world["other"]]


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/customers/{c}", None),
    ("PATCH", "/customers/{c}", {"stage": "won"}),
    ("POST", "/customers/{c}/notes", {"body": "hi"}),
    ("PUT", "/customers/{c}/relationships/{r}/tags", {"tag_ids": []}),
    ("PATCH", "/customers/{c}/relationships/{r}", {"remark": "x"}),
])
def test_another_corp_or_an_unfollowed_customer_is_404_everywhere(client, world, fake_host, method, path, body):
    c, r = world["people"][2]  # followed by wang only
    for who in ("other", "sales"):
        resp = call(client, method, path.format(c=c, r=r), world["tokens"][who], json=body)
        assert resp.status_code == 404, (who, resp.json)
    assert fake_host.called("mark_tags") == [] and fake_host.called("set_remark") == []


def test_filters(client, world):
    p = {n: c for n, (c, _) in world["people"].items()}
    t, admin = world["tags"], world["tokens"]["admin"]
    q = lambda **params: ids(call(client, "GET", "/customers", admin, query_string=params))  # noqa: E731
    assert q(tags=[t["高"], t["低"]]) == sorted([p[0], p[1], p[3]])
    assert q(tags=[t["高"], t["低"]], tag_mode="all") == [p[1]]
    assert q(tags=[t["高"]], tag_mode="none") == sorted([p[2], p[3], p[4]])
    assert q(channel=world["channel"]) == sorted([p[0], p[4]])
    assert q(status="lost") == [p[3]]
    assert q(q="备注2") == [p[2]] and q(q="客户4") == [p[4]]


def test_keyset_pages_with_a_total(client, world):
    admin, seen, after = world["tokens"]["admin"], [], None
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        page = call(client, "GET", "/customers", admin, query_string=params).json
        assert page["total"] == 5
        seen += [i["id"] for i in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 5


def test_writes_and_the_360(client, world, fake_host):
    c, r = world["people"][0]
    sales = world["tokens"]["sales"]
    assert call(client, "PATCH", f"/customers/{c}", sales, json={"stage": "won"}).json["stage"] == "won"
    assert call(client, "POST", f"/customers/{c}/notes", sales, json={"body": "已签约"}).status_code == 201
    assert call(client, "PUT", f"/customers/{c}/relationships/{r}/tags", sales,
                json={"tag_ids": [world["tags"]["低"]]}).json == {"tag_ids": [world["tags"]["低"]]}
    assert fake_host.called("mark_tags")[-1]["add"] == ["lo"]
    assert call(client, "PATCH", f"/customers/{c}/relationships/{r}", sales, json={"remark": "王总"}).json[
        "remark"] == "王总"
    view = call(client, "GET", f"/customers/{c}", world["tokens"]["admin"]).json
    assert view["stage"] == "won" and view["notes"][0]["body"] == "已签约"
    assert {e["kind"] for e in view["timeline"]} >= {"stage", "note", "tagged", "remark"}


@pytest.mark.parametrize("method, suffix, body, field", [
    ("PATCH", "", {"stage": "bogus"}, "stage"),
    ("PATCH", "", {"stage": "won", "colour": "red"}, "colour"),
    ("POST", "/notes", {}, "body"),
    ("PUT", "/relationships/{r}/tags", {"tag_ids": [987654]}, "tag_ids"),
    ("PATCH", "/relationships/{r}", {"remark": "长" * 21}, "remark"),
])
def test_validation_errors_name_the_field(client, world, method, suffix, body, field):
    c, r = world["people"][0]
    resp = call(client, method, f"/customers/{c}{suffix.format(r=r)}", world["tokens"]["admin"], json=body)
    assert resp.status_code == 422 and resp.json["code"] == "invalid" and resp.json["field"] == field


def test_unknown_query_parameters_are_refused(client, world):
    resp = call(client, "GET", "/customers", world["tokens"]["admin"], query_string={"colour": "red"})
    assert resp.status_code == 422 and resp.json["field"] == "colour"


def test_directory_and_the_openapi_spec(client, world):
    admin = world["tokens"]["admin"]
    assert {e["name"] for e in call(client, "GET", "/employees", admin).json["items"]} == {"张", "李", "王"}
    assert [t["name"] for t in call(client, "GET", "/tag-groups", admin).json["items"][0]["tags"]] == ["高", "低"]
    assert call(client, "GET", "/employees", world["tokens"]["other"]).json["items"] == []
    spec = client.get("/api/v1/openapi.json").json
    assert "/api/v1/customers" in spec["paths"] and "/api/v1/customers/{customer_id}/notes" in spec["paths"]


def test_token_create_prints_the_token_alone_on_the_last_line(app, world):
    from scrm.models import Corp

    corp = db.session.scalars(select(Corp)).first()
    result = app.test_cli_runner().invoke(args=["token", "create", "--corp", corp.corp_key, "--role", "sales",
                                                "--employee", "li"])
    token = result.output.strip().splitlines()[-1]
    assert result.exit_code == 0 and token.startswith("scrm_")
    assert access.authenticate(token).role == "sales"
    bad = app.test_cli_runner().invoke(args=["token", "create", "--corp", corp.corp_key, "--role", "sales"])
    assert bad.exit_code != 0 and "employee" in bad.output


def test_the_tag_library_is_edited_on_the_host_then_here(client, world, fake_host):
    admin = world["tokens"]["admin"]
    created = call(client, "POST", "/tag-groups", admin, json={"name": "来源", "tags": ["抖音", "展会"]})
    assert created.status_code == 201 and [t["name"] for t in created.json["tags"]] == ["抖音", "展会"]
    assert fake_host.called("create_tags")[-1]["tag_names"] == ["抖音", "展会"]
    group = created.json["id"]
    tag = call(client, "POST", "/tags", admin, json={"group_id": group, "name": "小红书"}).json
    renamed = call(client, "PATCH", f"/tags/{tag['id']}", admin, json={"name": "小红书🔥"}).json
    assert renamed["name"] == "小红书🔥" and fake_host.called("edit_tag")[-1]["name"] == "小红书🔥"
    assert call(client, "DELETE", f"/tags/{tag['id']}", admin).status_code == 204
    assert fake_host.called("delete_tags")[-1]["tag_ids"]
    assert call(client, "POST", "/tag-groups", admin, json={"name": "来源", "tags": ["x"]}).status_code == 409
    assert call(client, "POST", "/tag-groups", admin, json={"name": "空", "tags": []}).json["field"] == "tags"
    assert call(client, "DELETE", f"/tag-groups/{group}", admin).status_code == 204
    assert "来源" not in [grp["name"] for grp in call(client, "GET", "/tag-groups", admin).json["items"]]


def test_only_admins_edit_the_library_and_never_another_corps(client, world):
    assert call(client, "POST", "/tag-groups", world["tokens"]["sales"],
                json={"name": "x", "tags": ["y"]}).status_code == 403
    group = call(client, "GET", "/tag-groups", world["tokens"]["admin"]).json["items"][0]["id"]
    assert call(client, "DELETE", f"/tag-groups/{group}", world["tokens"]["other"]).status_code == 404


def test_group_chats_listing(client, world):
    assert call(client, "GET", "/group-chats", world["tokens"]["admin"]).json == {"items": []}
