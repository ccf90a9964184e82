"""/api/v1/corp, /doctor, /events, /followups: admin tokens only, the token's corp only; host errors as JSON."""
import pytest

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.host import HostUnavailable
from scrm.models import Followup, InboxEvent
from scrm.services import access, corps
from tests.builders import make_corp, make_employee


@pytest.fixture
def world(app, fake_host):
    a, b = make_corp(name="甲公司"), make_corp(name="乙公司")
    sales = make_employee(a, host_id="li")
    rows = {}
    with unit_of_work():
        for corp in (a, b):
            for n, status in enumerate(("dead", "done", "dead")):
                db.session.add(InboxEvent(corp_id=corp.id, platform="wecom", event_type=f"change_external_contact.{n}",
                                          dedupe_key=f"{corp.id}-{n}", payload="{}", status=status, attempts=5))
            db.session.add(Followup(corp_id=corp.id, kind="noop", args="[]", status="dead", attempts=5))
        db.session.flush()
        rows = {"events_b": [e.id for e in db.session.query(InboxEvent).filter_by(corp_id=b.id)],
                "followup_b": db.session.query(Followup).filter_by(corp_id=b.id).one().id,
                "followup_a": db.session.query(Followup).filter_by(corp_id=a.id).one().id}
    tokens = {"admin": access.create_token(a, "admin"), "sales": access.create_token(a, "sales", employee_id=sales.id),
              "manager": access.create_token(a, "manager", employee_id=sales.id)}
    return {"a": a, "b": b, "b_key": b.corp_key, "tokens": tokens, **rows}


def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("method,path", [("get", "/api/v1/corp"), ("patch", "/api/v1/corp"),
                                         ("get", "/api/v1/doctor"), ("get", "/api/v1/events"),
                                         ("get", "/api/v1/followups"), ("post", "/api/v1/events/1/replay"),
                                         ("post", "/api/v1/followups/1/retry")])
@pytest.mark.parametrize("role", ["sales", "manager"])
def test_only_admin_tokens(client, world, method, path, role):
    resp = getattr(client, method)(path, headers=auth(world["tokens"][role]), json={"name": "x"})
    assert resp.status_code == 403 and resp.json["code"] == "forbidden"
    assert getattr(client, method)(path).status_code == 401


def test_get_and_patch_the_corp_secrets_write_only(client, world, app):
    h = auth(world["tokens"]["admin"])
    got = client.get("/api/v1/corp", headers=h).json
    assert got["name"] == "甲公司" and got["callback_url"].endswith(f"/callbacks/wecom/{world['a'].corp_key}")
    assert "secret" not in got
    resp = client.patch("/api/v1/corp", headers=h, json={"name": "新甲", "secret": "new-secret-value",
                                                          "api_base": "http://127.0.0.1:5000/sandbox/wecom"})
    assert resp.status_code == 200 and resp.json["name"] == "新甲" and "new-secret-value" not in resp.text
    db.session.remove()
    assert corps.get_corp(world["a"].corp_key).secret == "new-secret-value"
    assert client.patch("/api/v1/corp", headers=h, json={"api_base": None}).json["api_base"] is None
    bad = client.patch("/api/v1/corp", headers=h, json={"callback_aes_key": "short"})
    assert bad.status_code == 422 and bad.json["field"] == "callback_aes_key"
    assert client.patch("/api/v1/corp", headers=h, json={"corp_id": "other"}).status_code == 422
    assert corps.get_corp(world["b_key"]).name == "乙公司"


def test_events_filtered_paged_and_only_the_corps(client, world):
    h = auth(world["tokens"]["admin"])
    page = client.get("/api/v1/events?status=dead&limit=1", headers=h).json
    assert len(page["items"]) == 1 and page["next_before_id"]
    rest = client.get(f"/api/v1/events?status=dead&limit=1&before_id={page['next_before_id']}", headers=h).json
    assert len(rest["items"]) == 1 and rest["items"][0]["id"] < page["items"][0]["id"]
    everything = client.get("/api/v1/events", headers=h).json["items"]
    assert len(everything) == 3 and not set(e["id"] for e in everything) & set(world["events_b"])
    typed = client.get("/api/v1/events?type=change_external_contact.1", headers=h).json["items"]
    assert [e["status"] for e in typed] == ["done"]
    assert client.get("/api/v1/events?status=bogus", headers=h).status_code == 422
    # a misspelt filter is refused, not ignored into an unfiltered listing
    assert client.get("/api/v1/events?stauts=dead", headers=h).status_code == 422
    assert client.get("/api/v1/followups?colour=red", headers=h).status_code == 422


def test_replay_an_event_of_the_corp_not_another(client, world):
    h = auth(world["tokens"]["admin"])
    dead = client.get("/api/v1/events?status=dead", headers=h).json["items"][0]
    resp = client.post(f"/api/v1/events/{dead['id']}/replay", headers=h)
    assert resp.status_code == 202 and resp.json["status"] == "pending"
    db.session.remove()
    assert db.session.get(InboxEvent, dead["id"]).status == "pending"
    other = world["events_b"][0]
    assert client.post(f"/api/v1/events/{other}/replay", headers=h).status_code == 404
    db.session.remove()
    assert db.session.get(InboxEvent, other).status == "dead"
    assert client.post("/api/v1/events/999999/replay", headers=h).status_code == 404


def test_followups_listed_and_retried_for_the_corp_only(client, world):
    h = auth(world["tokens"]["admin"])
    items = client.get("/api/v1/followups?status=dead", headers=h).json["items"]
    assert [f["id"] for f in items] == [world["followup_a"]]
    assert client.post(f"/api/v1/followups/{world['followup_b']}/retry", headers=h).status_code == 404
    resp = client.post(f"/api/v1/followups/{world['followup_a']}/retry", headers=h)
    assert resp.status_code == 202
    db.session.remove()
    assert db.session.get(Followup, world["followup_b"]).status == "dead"


def test_doctor_shows_the_service_and_this_corp_only(client, world):
    resp = client.get("/api/v1/doctor", headers=auth(world["tokens"]["admin"]))
    assert resp.status_code == 200
    checks = {c["name"]: c for c in resp.json["checks"]}
    assert checks["host"]["ok"] and world["a"].corp_key in checks["callback URL"]["message"]
    assert world["b_key"] not in resp.text
    assert "2 dead" in checks["inbox"]["message"]  # this corp's two, not the other's


def test_an_unreachable_host_is_503_naming_the_url_and_a_refusal_stays_502(app, client, world, fake_host):
    fake_host.fail_next["check_credentials"] = HostUnavailable("network", "ConnectionError", api="gettoken",
                                                               url="https://qyapi.weixin.qq.com/cgi-bin/gettoken"
                                                                   "?corpsecret=hunter2")
    from scrm.services import doctor

    assert "hunter2" not in doctor.check_corp(world["a"])[0].message

    @app.route("/api/v1/_unreachable")
    def unreachable():
        raise HostUnavailable("network", "ConnectionError", api="gettoken",
                              url="https://qyapi.weixin.qq.com/cgi-bin/gettoken?corpsecret=hunter2")

    @app.route("/api/v1/_busy")
    def system_busy():
        raise HostUnavailable(-1, "system busy", api="gettoken")

    resp = client.get("/api/v1/_unreachable")
    assert resp.status_code == 503 and resp.json["code"] == "host_unreachable"
    assert "https://qyapi.weixin.qq.com/cgi-bin/gettoken" in resp.json["message"] and "hunter2" not in resp.text
    busy = client.get("/api/v1/_busy")
    assert busy.status_code == 502 and busy.json["code"] == "host_error"
