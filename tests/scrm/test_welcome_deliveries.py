"""What an admin sees of welcome messages: the deliveries with the host's reason in words, scoped like customers,
in the API, the customer 360 and `scrm welcomes list`."""
from datetime import timedelta

import pytest

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.models import Channel, Relationship, WelcomeDelivery, utcnow
from scrm.services import access
from tests.builders import make_corp, make_customer, make_employee


def call(client, path, token, **params):
    return client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, query_string=params)


def delivery(corp, emp, cust, status, *, error=None, sent_after=None, channel=None, ago=60):
    at = utcnow() - timedelta(seconds=ago)
    with unit_of_work():
        row = WelcomeDelivery(corp_id=corp.id, employee_host_id=emp.host_id, customer_host_id=cust.host_id,
                              channel_id=channel.id if channel else None, status=status, error=error,
                              received_at=at, sent_at=at + timedelta(seconds=sent_after) if sent_after else None)
        db.session.add(row)
    return row.id


@pytest.fixture
def shop(app):
    corp = make_corp()
    li, wang = make_employee(corp, host_id="li", name="李"), make_employee(corp, host_id="wang", name="王")
    a, b = make_customer(corp, host_id="wmA", name="甲"), make_customer(corp, host_id="wmB", name="乙")
    with unit_of_work():
        channel = Channel(corp_id=corp.id, name="地铁海报", state="metro")
        db.session.add(channel)
        db.session.add_all([Relationship(corp_id=corp.id, employee_id=li.id, customer_id=a.id),
                            Relationship(corp_id=corp.id, employee_id=wang.id, customer_id=b.id)])
    ids = {
        "sent": delivery(corp, li, a, "sent", sent_after=1.25, channel=channel, ago=90),
        "used": delivery(corp, wang, b, "used", error="externalcontact/send_welcome_msg: errcode=41051 already",
                         ago=80),
        "expired": delivery(corp, wang, b, "expired", ago=70),
        "late": delivery(corp, wang, b, "expired", error="externalcontact/send_welcome_msg: errcode=41050 x", ago=60),
        "failed": delivery(corp, li, a, "failed", error="externalcontact/send_welcome_msg: errcode=40003 bad", ago=50),
        "none": delivery(corp, li, a, "none", ago=40),
    }
    other = make_corp()
    stranger = make_customer(other, host_id="wmA")
    return {"corp": corp, "li": li, "wang": wang, "a": a, "b": b, "channel": channel, "ids": ids,
            "stranger": stranger, "admin": access.create_token(corp, "admin"),
            "sales": access.create_token(corp, "sales", employee_id=li.id),
            "other_admin": access.create_token(other, "admin")}


def test_each_delivery_says_why_in_words(shop, client):
    resp = call(client, "/welcome-deliveries", shop["admin"])
    assert resp.status_code == 200, resp.json
    rows = {r["id"]: r for r in resp.json["items"]}
    ids = shop["ids"]
    assert [r["id"] for r in resp.json["items"]] == sorted(ids.values(), reverse=True)  # newest first
    sent = rows[ids["sent"]]
    assert (sent["status"], sent["latency_seconds"], sent["errcode"]) == ("sent", 1.25, None)
    assert sent["customer"] == {"id": shop["a"].id, "name": "甲", "external_userid": "wmA"}
    assert sent["employee"] == {"id": shop["li"].id, "name": "李", "userid": "li"}
    assert sent["channel"] == {"id": shop["channel"].id, "name": "地铁海报"} and sent["at"].endswith("Z")
    assert rows[ids["used"]]["errcode"] == 41051 and "already chatting" in rows[ids["used"]]["reason"]
    assert "another app" in rows[ids["used"]]["reason"]
    assert "window was over" in rows[ids["expired"]]["reason"] and rows[ids["expired"]]["errcode"] is None
    assert rows[ids["late"]]["errcode"] == 41050 and "41050" in rows[ids["late"]]["reason"]
    assert rows[ids["failed"]]["errcode"] == 40003 and "40003 bad" in rows[ids["failed"]]["reason"]
    assert "no welcome configured" in rows[ids["none"]]["reason"]


def test_filters_and_keyset_pages(shop, client):
    ids = shop["ids"]
    found = lambda **p: [r["id"] for r in call(client, "/welcome-deliveries", shop["admin"], **p).json["items"]]  # noqa: E731
    assert found(customer_id=shop["b"].id) == [ids["late"], ids["expired"], ids["used"]]
    assert found(employee_id=shop["li"].id, status="failed") == [ids["failed"]]
    assert found(channel_id=shop["channel"].id) == [ids["sent"]]
    cut = (utcnow() - timedelta(seconds=65)).isoformat() + "Z"
    assert found(to=cut) == [ids["expired"], ids["used"], ids["sent"]]
    assert set(found(**{"from": cut})) == {ids["late"], ids["failed"], ids["none"]}
    first = call(client, "/welcome-deliveries", shop["admin"], limit=4).json
    second = call(client, "/welcome-deliveries", shop["admin"], limit=4, after=first["next"]).json
    assert len(first["items"]) == 4 and second["next"] is None
    assert [r["id"] for r in first["items"] + second["items"]] == sorted(ids.values(), reverse=True)


def test_bad_filters_are_4xx_and_another_corps_ids_404(shop, client):
    assert call(client, "/welcome-deliveries", shop["admin"], status="lost").status_code == 422
    assert call(client, "/welcome-deliveries", shop["admin"], customer_id="x").status_code == 422
    assert call(client, "/welcome-deliveries", shop["admin"], limit=0).status_code == 422
    assert call(client, "/welcome-deliveries", shop["admin"], nonsense=1).status_code == 422
    assert call(client, "/welcome-deliveries", shop["admin"], customer_id=shop["stranger"].id).status_code == 404
    for key in ("customer_id", "employee_id", "channel_id"):
        obj = {"customer_id": shop["a"], "employee_id": shop["li"], "channel_id": shop["channel"]}[key]
        assert call(client, "/welcome-deliveries", shop["other_admin"], **{key: obj.id}).status_code == 404
    assert call(client, "/welcome-deliveries", shop["other_admin"]).json["items"] == []
    assert call(client, "/welcome-deliveries", "nope").status_code == 401


def test_sales_see_their_own_relationships_deliveries_only(shop, client):
    ids = shop["ids"]
    got = [r["id"] for r in call(client, "/welcome-deliveries", shop["sales"]).json["items"]]
    assert got == [ids["none"], ids["failed"], ids["sent"]]
    assert call(client, "/welcome-deliveries", shop["sales"], customer_id=shop["b"].id).status_code == 404
    with unit_of_work():  # the relationship ended: its deliveries leave the salesperson's view with the customer
        rel = db.session.query(Relationship).filter_by(employee_id=shop["li"].id).one()
        rel.status = "removed_by_customer"
    assert call(client, "/welcome-deliveries", shop["sales"]).json["items"] == []


def test_the_360_carries_each_relationships_welcome(shop, client):
    resp = client.get(f"/api/v1/customers/{shop['a'].id}", headers={"Authorization": f"Bearer {shop['admin']}"})
    (rel,) = resp.json["relationships"]
    assert rel["welcome"]["status"] == "none" and "no welcome configured" in rel["welcome"]["reason"]
    assert rel["welcome"]["at"].endswith("Z")
    with unit_of_work():
        db.session.add(Relationship(corp_id=shop["corp"].id, employee_id=shop["wang"].id, customer_id=shop["a"].id))
    rels = client.get(f"/api/v1/customers/{shop['a'].id}",
                      headers={"Authorization": f"Bearer {shop['admin']}"}).json["relationships"]
    assert {r["employee"]["name"]: (r["welcome"] or {}).get("status") for r in rels} == {"李": "none", "王": None}


def test_the_cli_lists_deliveries_with_the_reason(shop, app):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["welcomes", "list", "--corp", shop["corp"].corp_key, "--customer", str(shop["b"].id)])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert len(lines) == 3 and "乙 (wmB)" in lines[0] and "41050" in lines[0] and "already chatting" in lines[2]
    out = runner.invoke(args=["welcomes", "list", "--corp", shop["corp"].corp_key, "--external-userid", "wmA",
                              "--status", "sent", "--json"])
    assert out.exit_code == 0 and '"latency_seconds": 1.25' in out.output and "地铁海报" in out.output
    out = runner.invoke(args=["welcomes", "list", "--corp", "nope"])
    assert out.exit_code != 0 and "Traceback" not in out.output and len(out.output.strip().splitlines()) == 1
    out = runner.invoke(args=["welcomes", "list", "--corp", shop["corp"].corp_key, "--customer", "999999999"])
    assert out.exit_code != 0 and "no customer" in out.output
