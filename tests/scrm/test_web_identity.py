"""Signing in to the pages: a host's login code to an employee (refused for customers, members outside the app's
range and departed employees), local console accounts, the session re-checked on every request, the API used with
a session and its CSRF token, and the JS-SDK signatures (doc 96909's official example)."""
import pytest
from flask_wtf.csrf import generate_csrf

from scrm import web_session
from scrm.errors import ValidationError
from scrm.host import HostError
from scrm.models import EmployeeDepartment
from scrm.services import access, org, web_identity
from scrm.services.web_identity import Identity, Refused
from tests.builders import make_corp, make_employee
from scrm.db import unit_of_work
from scrm.extensions import db

VECTOR = {"ticket": "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
          "noncestr": "Wm3WZYTPz0wzccnW", "timestamp": 1414587457, "url": "http://mp.weixin.qq.com?params=value",
          "signature": "0f9de62fce790f9a083d5c99e95740ceb90c27ed"}


@pytest.fixture
def world(app, fake_host):
    a, b = make_corp(name="甲公司"), make_corp(name="乙公司")
    li = make_employee(a, host_id="li", name="李雷")
    return {"a": a, "b": b, "li": li}


def test_a_login_code_names_the_employee_and_refuses_everyone_else(world, fake_host):
    a, li = world["a"], world["li"]
    assert web_identity.sign_in_with_code(a, "code-li") == Identity(a.id, employee_id=li.id)
    with pytest.raises(Refused) as unknown:  # a member outside the app's visible range was never synced
        web_identity.sign_in_with_code(a, "code-stranger")
    assert unknown.value.reason == "not_visible"
    with pytest.raises(HostError):  # an expired or reused code: the host's error
        web_identity.sign_in_with_code(a, "bogus")
    for bad in ("", "x" * 513, None):
        with pytest.raises(Refused) as malformed:
            web_identity.sign_in_with_code(a, bad)
        assert malformed.value.reason == "bad_code"
    with unit_of_work():
        org.mark_departed(a, "li", None)
    with pytest.raises(Refused) as departed:
        web_identity.sign_in_with_code(a, "code-li")
    assert departed.value.reason == "departed"


def test_roles_come_from_the_corp_and_the_org_and_end_with_the_employee(world):
    a, li = world["a"], world["li"]
    me = Identity(a.id, employee_id=li.id)
    assert web_identity.principal(me).role == "sales"
    lead = make_employee(a, host_id="boss")
    from scrm.models import Department
    with unit_of_work():
        dept = Department(corp_id=a.id, host_id="2", name="销售部", parent_host_id="1")
        db.session.add(dept)
        db.session.flush()
        db.session.add(EmployeeDepartment(employee_id=lead.id, department_id=dept.id, is_leader=True))
    assert web_identity.principal(Identity(a.id, employee_id=lead.id)).role == "manager"
    with unit_of_work():
        a.options = {**(a.options or {}), "admins": ["li"]}
    assert web_identity.principal(me).role == "admin"
    with unit_of_work():
        li.status = "departed"
    assert web_identity.principal(me) is None  # access ends when the employee leaves
    assert web_identity.principal(Identity(world["b"].id, employee_id=lead.id)) is None  # another corp's id
    for forged in ({"c": "1"}, {"c": True}, [], None, {"c": 1, "e": 1.5}):
        assert Identity.load(forged) is None


def test_local_accounts(world):
    with pytest.raises(ValidationError):
        web_identity.create_user("ops", "short")
    with pytest.raises(ValidationError):
        web_identity.create_user("two words", "long-enough-password")
    web_identity.create_user("ops", "long-enough-password")
    with pytest.raises(ValidationError):
        web_identity.create_user("ops", "another-long-password")
    for name, password in (("ops", "wrong-password!"), ("nobody", "long-enough-password")):
        with pytest.raises(Refused) as refused:
            web_identity.sign_in_local(name, password)
        assert refused.value.reason == "bad_password"
    me = web_identity.sign_in_local("ops", "long-enough-password")
    assert me.corp_id is None and web_identity.principal(me) is None  # two corps: one must be chosen
    chosen = web_identity.switch_corp(me, world["b"].id)
    assert web_identity.principal(chosen).role == "admin" and web_identity.principal(chosen).corp.id == world["b"].id
    own = web_identity.create_user("a-admin", "long-enough-password", corp=world["a"])
    mine = web_identity.sign_in_local("a-admin", "long-enough-password")
    assert mine.corp_id == world["a"].id
    with pytest.raises(Refused):
        web_identity.switch_corp(mine, world["b"].id)  # an account of one corp stays there
    assert web_identity.principal(Identity(world["b"].id, user_id=own.id)) is None
    web_identity.disable_user("ops")
    assert web_identity.principal(chosen) is None
    with pytest.raises(Refused):
        web_identity.sign_in_local("ops", "long-enough-password")
    web_identity.set_password("ops", "a-new-long-password")
    assert web_identity.principal(chosen) is not None


def test_the_api_takes_a_pages_session_and_wants_its_csrf_token_for_changes(app, client, world):
    a, li = world["a"], world["li"]
    with client.session_transaction() as s:
        s[web_session.WHO] = Identity(a.id, employee_id=li.id).dump()
    assert client.get("/api/v1/quick-replies").status_code == 200  # reading needs the session only
    refused = client.post("/api/v1/jssdk/config", json={"url": app.config["BASE_URL"] + "/h5/sidebar"})
    assert refused.status_code == 400 and refused.json["code"] == "csrf"
    with app.test_request_context():  # a token bound to this client's session, as the page embeds it
        with client.session_transaction() as s:
            from flask import session
            session.update(s)
            token = generate_csrf()
            s.update(session)
    ok = client.post("/api/v1/jssdk/config", json={"url": app.config["BASE_URL"] + "/h5/sidebar#x"},
                     headers={"X-CSRFToken": token})
    assert ok.status_code == 200 and ok.json == {"url": app.config["BASE_URL"] + "/h5/sidebar"}
    with unit_of_work():
        db.session.get(type(li), li.id).status = "departed"
    assert client.get("/api/v1/quick-replies").status_code == 401  # the session ends with the employee


def test_only_this_deployments_pages_are_signed(app, client, world):
    token = access.create_token(world["a"], "sales", employee_id=world["li"].id)
    base = app.config["BASE_URL"]
    for url in ("https://evil.example/h5/sidebar", "javascript:alert(1)", base.replace("http", "ftp") + "/x",
                "", "x" * 3000):
        r = client.post("/api/v1/jssdk/config", json={"url": url}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code in (400, 422), (url, r.json)
    r = client.post("/api/v1/jssdk/config", json={"url": base + "/h5/sidebar", "extra": 1},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422


def test_the_signatures_reproduce_the_official_example_of_doc_96909(make_app, monkeypatch):
    """The real WeCom connector behind the endpoint: the corp's ticket and the app's ticket cached as the host
    gave them, the example's nonce and time: both signatures equal the documented one."""
    import connectors.wecom.client as wecom_client

    app = make_app(BASE_URL="http://mp.weixin.qq.com")
    with app.app_context():
        corp = make_corp(name="示例企业", corp_id="wwexample", agent_id="1000002")
        tokens = app.extensions["scrm.host_runtime"].tokens
        for key in (f"wecom:{corp.corp_key}:ticket:corp", f"wecom:{corp.corp_key}:ticket:agent:1000002"):
            tokens.get_or_fetch(key, lambda: (VECTOR["ticket"], 7200))
        token = access.create_token(corp, "admin")
        monkeypatch.setattr(wecom_client, "_nonce", lambda: VECTOR["noncestr"])
        monkeypatch.setattr(wecom_client.WeComClient.__init__, "__kwdefaults__",
                            {**wecom_client.WeComClient.__init__.__kwdefaults__, "now": lambda: VECTOR["timestamp"]})
        r = app.test_client().post("/api/v1/jssdk/config", json={"url": VECTOR["url"] + "#top"},
                                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.json
    assert r.json["corp"] == {"beta": True, "appId": "wwexample", "timestamp": VECTOR["timestamp"],
                              "nonceStr": VECTOR["noncestr"], "signature": VECTOR["signature"]}
    assert r.json["agent"] == {"corpid": "wwexample", "agentid": "1000002", "timestamp": VECTOR["timestamp"],
                               "nonceStr": VECTOR["noncestr"], "signature": VECTOR["signature"]}
