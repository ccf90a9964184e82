"""Who may do what: tokens of people who left, editing a colleague's relationship, a manager's department subtree,
and ended relationships."""
import pytest
from sqlalchemy import delete, select

from scrm.db import unit_of_work
from scrm.errors import ValidationError
from scrm.extensions import db
from scrm.host import HostTag, HostTagGroup, platforms
from scrm.models import (ApiToken, Customer, Department, Employee, EmployeeDepartment, Relationship, RelationshipTag,
                         Tag)
from scrm.services import access, customer_desk, inbox, sync
from scrm.services.relations import set_relationship_tags
from scrm.services.tags import upsert_tag_group
from tasks.events import enqueue
from tests import wecom_payloads as wx
from tests.builders import make_corp, make_customer, make_employee


def call(client, method, path, token, **kw):
    return client.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {token}"}, **kw)


def ids(response):
    assert response.status_code == 200, response.json
    return sorted(item["id"] for item in response.json["items"])


def follow(corp, emp, cust, status="active"):
    with unit_of_work():
        rel = Relationship(corp_id=corp.id, employee_id=emp.id, customer_id=cust.id, status=status)
        db.session.add(rel)
    return rel.id


def departments(corp, *rows):
    """rows: (host_id, parent_host_id); the Department rows by host id."""
    with unit_of_work():
        made = {h: Department(corp_id=corp.id, host_id=h, name=f"部门{h}", parent_host_id=p) for h, p in rows}
        db.session.add_all(made.values())
    return made


def member(emp, *depts):
    with unit_of_work():
        db.session.add_all(EmployeeDepartment(employee_id=emp.id, department_id=d.id) for d in depts)


def revoked(token: str) -> bool:
    db.session.expire_all()
    return db.session.scalar(select(ApiToken.revoked_at).where(ApiToken.token_hash == access._hash(token))) is not None


# ---------------------------------------------------------------- people who left

@pytest.fixture
def shop(app, fake_host):
    corp = make_corp()
    li = make_employee(corp, host_id="li", name="李")
    cust = make_customer(corp, host_id="wm1")
    rel = follow(corp, li, cust)
    fake_host.add_employee("li", "李")
    fake_host.add_friend("li", "wm1")
    return {"corp": corp, "li": li, "customer": cust.id, "rel": rel,
            "sales": access.create_token(corp, "sales", employee_id=li.id),
            "admin": access.create_token(corp, "admin")}


def test_a_departure_callback_revokes_the_employees_tokens(shop, client):
    parsed = platforms().parse("wecom", wx.user("delete_user", "li", at=1700000000))
    row, _ = inbox.store(shop["corp"], parsed, handled=True)
    enqueue(row)
    assert revoked(shop["sales"]) and not revoked(shop["admin"])
    assert call(client, "GET", "/customers", shop["sales"]).status_code == 401


def test_a_sync_that_finds_the_employee_gone_revokes_their_tokens(shop, fake_host, client):
    del fake_host.employees["li"]
    assert sync.run_sync(sync.start(shop["corp"], "employees").id).status == "done"
    assert db.session.get(Employee, shop["li"].id).status == "departed"
    assert revoked(shop["sales"])
    assert call(client, "POST", f"/customers/{shop['customer']}/notes", shop["sales"],
                json={"body": "还在吗"}).status_code == 401


def test_a_departed_employees_token_is_refused_even_if_revocation_was_missed(shop, client):
    assert ids(call(client, "GET", "/customers", shop["sales"])) == [shop["customer"]]
    with unit_of_work():  # departed without going through mark_departed: the token row is still live
        db.session.get(Employee, shop["li"].id).status = "departed"
    assert not revoked(shop["sales"])
    for method, path, body in (("GET", "/customers", None), ("GET", f"/customers/{shop['customer']}", None),
                               ("POST", f"/customers/{shop['customer']}/notes", {"body": "hi"})):
        resp = call(client, method, path, shop["sales"], json=body)
        assert resp.status_code == 401, (path, resp.json)


def test_no_token_is_created_for_a_departed_employee(shop, app):
    with unit_of_work():
        db.session.get(Employee, shop["li"].id).status = "departed"
    with pytest.raises(ValidationError, match="has left the corp"):
        access.create_token(shop["corp"], "sales", employee_id=shop["li"].id)
    out = app.test_cli_runner().invoke(args=["token", "create", "--corp", shop["corp"].corp_key, "--role", "sales",
                                             "--employee", "li"])
    assert out.exit_code != 0 and "has left the corp" in out.output
    resp = call(app.test_client(), "POST", "/tokens", shop["admin"],
                json={"role": "sales", "employee_id": shop["li"].id})
    assert resp.status_code == 422 and resp.json["field"] == "employee"


def test_someone_the_host_does_not_know_is_stored_departed_and_gets_no_token(shop, fake_host):
    from scrm.services import org

    corp = shop["corp"]
    stranger = org.ensure_employee(corp, "ghost", fake_host)  # named by an event; the host has no such user
    assert stranger.status == "departed"
    with pytest.raises(ValidationError):
        access.create_token(corp, "sales", employee_id=stranger.id)


def test_tokens_are_listed_and_revoked_from_the_cli(shop, app, client):
    runner, key = app.test_cli_runner(), shop["corp"].corp_key
    listed = runner.invoke(args=["token", "list", "--corp", key])
    assert listed.exit_code == 0, listed.output
    assert "sales" in listed.output and "li (李)" in listed.output and "live" in listed.output
    assert shop["sales"] not in listed.output and access._hash(shop["sales"]) not in listed.output
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.token_hash == access._hash(shop["sales"])))
    done = runner.invoke(args=["token", "revoke", "--corp", key, str(token_id)])
    assert done.exit_code == 0 and f"revoked token {token_id}" in done.output
    assert call(client, "GET", "/customers", shop["sales"]).status_code == 401
    assert "revoked" in runner.invoke(args=["token", "list", "--corp", key]).output
    missing = runner.invoke(args=["token", "revoke", "--corp", key, "987654"])
    assert missing.exit_code != 0 and "no token 987654" in missing.output


def test_the_tokens_api_is_admin_only_and_shows_the_secret_once(shop, client):
    assert call(client, "GET", "/tokens", shop["sales"]).status_code == 403
    assert call(client, "POST", "/tokens", shop["sales"], json={"role": "admin"}).status_code == 403
    made = call(client, "POST", "/tokens", shop["admin"], json={"role": "sales", "employee_id": shop["li"].id,
                                                                "label": "手机"})
    assert made.status_code == 201, made.json
    secret = made.json["token"]
    assert made.json["employee"]["host_id"] == "li" and made.json["revoked_at"] is None
    assert ids(call(client, "GET", "/customers", secret)) == [shop["customer"]]
    listing = call(client, "GET", "/tokens", shop["admin"])
    assert listing.status_code == 200 and len(listing.json["items"]) == 3
    assert secret not in listing.get_data(as_text=True) and access._hash(secret) not in listing.get_data(as_text=True)
    assert all("token" not in item for item in listing.json["items"])
    gone = call(client, "DELETE", f"/tokens/{made.json['id']}", shop["admin"])
    assert gone.status_code == 200 and gone.json["revoked_at"]
    assert call(client, "GET", "/customers", secret).status_code == 401
    other = make_corp()
    stranger = access.create_token(other, "admin")
    assert call(client, "DELETE", f"/tokens/{made.json['id']}", stranger).status_code == 404
    assert call(client, "POST", "/tokens", shop["admin"], json={"role": "sales"}).status_code == 422


# ---------------------------------------------------------------- a colleague's relationship

@pytest.fixture
def team(app, fake_host):
    corp = make_corp()
    depts = departments(corp, ("1", None), ("2", "1"), ("3", "1"))
    e1, e2, boss, far = (make_employee(corp, host_id=h) for h in ("e1", "e2", "boss", "far"))
    member(e1, depts["2"]), member(e2, depts["2"]), member(boss, depts["2"]), member(far, depts["3"])
    cust = make_customer(corp, host_id="wmT")
    rels = {e.host_id: follow(corp, e, cust) for e in (e1, e2)}
    with unit_of_work():
        upsert_tag_group(corp, HostTagGroup(id="g", name="意向", tags=[HostTag(id="hi", name="高")]))
        hi = db.session.scalar(select(Tag.id).where(Tag.corp_id == corp.id))
        for rid in rels.values():
            set_relationship_tags(db.session.get(Relationship, rid), [hi])
    for e in ("e1", "e2"):
        fake_host.add_friend(e, "wmT")
    far_cust = make_customer(corp, host_id="wmF")
    follow(corp, far, far_cust)
    return {"corp": corp, "customer": cust.id, "rels": rels, "e1": e1,
            "tokens": {"e2": access.create_token(corp, "sales", employee_id=e2.id),
                       "boss": access.create_token(corp, "manager", employee_id=boss.id),
                       "far": access.create_token(corp, "manager", employee_id=far.id),
                       "admin": access.create_token(corp, "admin")}}


@pytest.mark.parametrize("method, suffix, body", [
    ("PATCH", "", {"remark": "被改了"}),
    ("PUT", "/tags", {"tag_ids": []}),
])
def test_a_salesperson_cannot_edit_a_colleagues_relationship(team, client, fake_host, method, suffix, body):
    c, theirs, own = team["customer"], team["rels"]["e1"], team["rels"]["e2"]
    resp = call(client, method, f"/customers/{c}/relationships/{theirs}{suffix}", team["tokens"]["e2"], json=body)
    assert resp.status_code == 403 and resp.json["code"] == "forbidden"
    assert "own relationships" in resp.json["message"]
    assert fake_host.called("set_remark") == [] and fake_host.called("mark_tags") == []
    db.session.expire_all()
    assert db.session.get(Relationship, theirs).remark is None
    assert db.session.scalars(select(RelationshipTag.tag_id).where(RelationshipTag.relationship_id == theirs)).all()
    assert call(client, method, f"/customers/{c}/relationships/{own}{suffix}", team["tokens"]["e2"],
                json=body).status_code == 200
    assert call(client, "POST", f"/customers/{c}/notes", team["tokens"]["e2"], json={"body": "跟进"}).status_code == 201


def test_managers_edit_within_their_departments_and_admins_everywhere(team, client, fake_host):
    c, theirs = team["customer"], team["rels"]["e1"]
    path = f"/customers/{c}/relationships/{theirs}"
    assert call(client, "PATCH", path, team["tokens"]["boss"], json={"remark": "经理改"}).status_code == 200
    assert call(client, "PATCH", path, team["tokens"]["admin"], json={"remark": "管理员改"}).status_code == 200
    assert len(fake_host.called("set_remark")) == 2
    # a manager of a sibling department does not even see the customer
    assert call(client, "PATCH", path, team["tokens"]["far"], json={"remark": "x"}).status_code == 404
    assert len(fake_host.called("set_remark")) == 2


def test_a_manager_who_sees_the_customer_cannot_edit_a_relationship_outside_their_departments(team, client,
                                                                                              fake_host):
    corp = team["corp"]
    far = db.session.scalar(select(Employee).where(Employee.host_id == "far"))
    rel = follow(corp, far, db.session.get(Customer, team["customer"]))
    resp = call(client, "PUT", f"/customers/{team['customer']}/relationships/{team['rels']['e1']}/tags",
                team["tokens"]["far"], json={"tag_ids": []})
    assert resp.status_code == 403 and "departments" in resp.json["message"]
    assert call(client, "PUT", f"/customers/{team['customer']}/relationships/{rel}/tags", team["tokens"]["far"],
                json={"tag_ids": []}).status_code == 200
    assert fake_host.called("mark_tags") == []  # neither changed a tag on the host


def test_a_relationship_of_another_customer_is_404_not_403(team, client):
    other = make_customer(team["corp"], host_id="wmO")
    e2 = db.session.scalar(select(Employee).where(Employee.host_id == "e2"))
    follow(team["corp"], e2, other)
    resp = call(client, "PATCH", f"/customers/{other.id}/relationships/{team['rels']['e1']}", team["tokens"]["e2"],
                json={"remark": "x"})
    assert resp.status_code == 404


# ---------------------------------------------------------------- manager scope

@pytest.fixture
def tree(app):
    """1 (root) ── 2 sales ── 4 east ── 5 shanghai;  1 ── 3 support. Everyone is also in the root, as on DingTalk."""
    corp = make_corp(platform="dingtalk")
    d = departments(corp, ("1", None), ("2", "1"), ("3", "1"), ("4", "2"), ("5", "4"))
    people = {h: make_employee(corp, host_id=h) for h in ("head", "east", "sh", "support", "ceo")}
    for h, dept in (("head", "2"), ("east", "4"), ("sh", "5"), ("support", "3")):
        member(people[h], d["1"], d[dept])
    member(people["ceo"], d["1"])
    customers = {}
    for h in ("east", "sh", "support"):
        customers[h] = make_customer(corp, host_id=f"wm-{h}").id
        follow(corp, people[h], db.session.get(Customer, customers[h]))
    lost = make_customer(corp, host_id="wm-lost")
    follow(corp, people["sh"], lost, status="removed_by_customer")
    customers["lost"] = lost.id
    tokens = {h: access.create_token(corp, "manager", employee_id=people[h].id) for h in people}
    tokens["admin"] = access.create_token(corp, "admin")
    return {"corp": corp, "customers": customers, "tokens": tokens, "root": d["1"].id}


def test_a_parent_departments_manager_sees_the_whole_subtree(tree, client):
    c, t = tree["customers"], tree["tokens"]
    assert ids(call(client, "GET", "/customers", t["head"])) == sorted([c["east"], c["sh"]])
    assert ids(call(client, "GET", "/customers", t["east"])) == sorted([c["east"], c["sh"]])
    assert ids(call(client, "GET", "/customers", t["sh"])) == [c["sh"]]
    assert call(client, "GET", f"/customers/{c['sh']}", t["head"]).status_code == 200


def test_root_membership_does_not_widen_a_managers_scope(tree, client):
    c, t = tree["customers"], tree["tokens"]
    assert ids(call(client, "GET", "/customers", t["support"])) == [c["support"]]
    assert call(client, "GET", f"/customers/{c['east']}", t["support"]).status_code == 404
    # the root counts for a manager whose only department it is
    assert ids(call(client, "GET", "/customers", t["ceo"])) == sorted([c["east"], c["sh"], c["support"]])


def test_a_department_known_only_by_id_is_not_taken_for_the_root(tree, client):
    # an employee event named a department no sync has read yet: no parent, no name
    corp, t = tree["corp"], tree["tokens"]
    new = departments(corp, ("99", None))["99"]
    support = db.session.scalar(select(Employee).where(Employee.host_id == "support"))
    with unit_of_work():
        db.session.execute(delete(EmployeeDepartment).where(EmployeeDepartment.employee_id == support.id,
                                                            EmployeeDepartment.department_id != tree["root"]))
    member(support, new)
    assert ids(call(client, "GET", "/customers", t["support"])) == [tree["customers"]["support"]]


def test_ended_relationships_give_managers_no_access_and_admins_keep_them(tree, client):
    c, t = tree["customers"], tree["tokens"]
    for who in ("head", "sh", "ceo"):
        assert c["lost"] not in ids(call(client, "GET", "/customers", t[who]))
        assert ids(call(client, "GET", "/customers", t[who], query_string={"status": "lost"})) == []
        page = call(client, "GET", "/customers", t[who], query_string={"limit": 1}).json
        assert page["total"] == customer_desk.count(access.authenticate(t[who]), {})
        assert call(client, "GET", f"/customers/{c['lost']}", t[who]).status_code == 404
    assert ids(call(client, "GET", "/customers", t["admin"], query_string={"status": "lost"})) == [c["lost"]]
    assert call(client, "GET", f"/customers/{c['lost']}", t["admin"]).status_code == 200
    assert call(client, "GET", "/customers", t["head"], query_string={"limit": 1}).json["total"] == 2


def test_a_deep_tree_is_walked_on_the_database(app):
    corp = make_corp()
    chain = [("1", None)] + [(str(n), str(n - 1)) for n in range(2, 60)]
    d = departments(corp, *chain)
    boss, leaf = make_employee(corp), make_employee(corp)
    member(boss, d["2"]), member(leaf, d["59"])
    cust = make_customer(corp)
    follow(corp, leaf, cust)
    principal = access.authenticate(access.create_token(corp, "manager", employee_id=boss.id))
    assert customer_desk.count(principal, {}) == 1
    assert access.can_see(principal, cust.id)
