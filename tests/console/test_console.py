"""The console against the fake host: signing in (one answer for a wrong name and a wrong password, failed attempts
limited, a safe `next`), the corp chosen by an account of every corp, CSRF on every POST, roles (managers read,
salespeople are sent to the sidebar), another corp's channels invisible, names escaped, the channel form, and
statistics and CSV equal to the API's."""
import json
import re
import time
from datetime import datetime, timezone
from html import unescape

import flask_babel
import pytest
from flask import g, request_finished
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, select

from scrm import web_session
from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.host import HostTag, HostTagGroup
from scrm.models import Channel, Department, EmployeeDepartment
from scrm.services import channels, web_identity
from scrm.services.channels import local_now
from scrm.services.tags import upsert_tag_group
from scrm.services.web_identity import Identity
from tests import wecom_payloads as wx
from tests.builders import make_corp, make_employee
from tests.scrm.services.test_processing import ingest

PASSWORD = "correct-horse-battery"
XSS = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def _fresh_limits(request):
    """Failed sign-ins are counted in Redis on the MySQL leg: every test starts from zero."""
    if "app" in request.fixturenames:
        request.getfixturevalue("app").extensions["scrm.console_login_limiter"].reset()


@pytest.fixture(autouse=True)
def _token_per_request(make_app):
    """The tests' app context outlives each request, and flask-wtf and Flask-Babel keep the CSRF token and the
    locale of a request on it: drop them when a request ends, as a server's per-request context does, or a new
    session would be shown the old token and a new language choice the old language."""
    def drop(sender, **extra):
        g.pop("csrf_token", None)
        flask_babel.refresh()

    request_finished.connect(drop)
    yield
    request_finished.disconnect(drop)


@pytest.fixture
def world(app, fake_host):
    corp, other = make_corp(name="甲公司"), make_corp(name="乙公司")
    zhang = make_employee(corp, host_id="zhang", name="张三")
    li = make_employee(corp, host_id="li", name="李四")
    outsider = make_employee(other, host_id="x", name="外人")
    for host_id, name in (("zhang", "张三"), ("li", "李四"), ("x", "外人")):
        fake_host.add_employee(host_id, name)
    fake_host.tag_groups["g"] = HostTagGroup(id="g", name="来源", tags=[HostTag(id="t1", name="门店")])
    group = upsert_tag_group(corp, fake_host.tag_groups["g"])
    web_identity.create_user("ops", PASSWORD, corp=corp)
    theirs = channels.create_channel(other, {"name": "乙的渠道", "members": [{"employee_id": outsider.id}]})
    return {"corp": corp, "other": other, "zhang": zhang, "li": li, "theirs": theirs,
            "tag": group.tags[0]}


def token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return unescape(found.group(1))


def sign_in(client, username="ops", password=PASSWORD, next_path=None):
    page = client.get("/console/login")
    data = {"csrf_token": token(page.text), "username": username, "password": password}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/console/login", data=data)


def csrf(client, path="/console") -> str:
    return token(client.get(path).text)


def as_employee(client, corp, employee) -> None:
    with client.session_transaction() as s:
        s[web_session.WHO] = Identity(corp.id, employee_id=employee.id).dump()


def make_manager(corp, employee) -> None:
    with unit_of_work():
        dept = Department(corp_id=corp.id, host_id="2", name="销售部", parent_host_id="1")
        db.session.add(dept)
        db.session.flush()
        db.session.add(EmployeeDepartment(employee_id=employee.id, department_id=dept.id, is_leader=True))


def create(client, world, **fields):
    data = {"csrf_token": csrf(client, "/console/channels/new"), "name": "双十一直播",
            f"member_{world['zhang'].id}": "on", f"cap_{world['zhang'].id}": "50",
            f"member_{world['li'].id}": "on", f"weight_{world['li'].id}": "2",
            "allocation": "weighted", "tags": str(world["tag"].id), "welcome_mode": "channel",
            "welcome_text": "{customer_name}您好", "skip_verify": "on", **fields}
    return client.post("/console/channels/new", data=data)


def test_pages_ask_to_sign_in_and_come_back_after(client, world):
    page = client.get("/console/channels?x=1")
    assert page.status_code == 302 and page.location == "/console/login?next=/console/channels?x%3D1"
    login = client.get(page.location)
    assert login.status_code == 200 and 'name="next" value="/console/channels?x=1"' in login.text
    csp = login.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and login.headers["Cache-Control"] == "no-store"
    assert re.search(r"\sstyle=|<style|<script>", login.text) is None  # nothing inline: the CSP allows none
    done = sign_in(client, next_path="/console/channels?x=1")
    assert done.status_code == 303 and done.location == "/console/channels?x=1"
    assert "甲公司" in client.get("/console").text


@pytest.mark.parametrize("next_path", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/h5/x"])
def test_next_stays_in_the_console(client, world, next_path):
    assert sign_in(client, next_path=next_path).location == "/console"


def test_a_wrong_name_and_a_wrong_password_get_the_same_answer(client, world):
    wrong_password = sign_in(client, password="not-the-password")
    wrong_name = sign_in(client, username="nobody")
    assert wrong_password.status_code == wrong_name.status_code == 401

    def message(r):
        return re.search(r'id="login-error"[^>]*>([^<]+)<', r.text).group(1)

    assert message(wrong_password) == message(wrong_name) == "用户名或密码错误。"
    assert client.get("/console").status_code == 302  # still signed out


def test_failed_sign_ins_are_limited_per_address(make_app, fake_host):
    app = make_app(CONSOLE_LOGIN_FAILURES="2 per minute")
    with app.app_context():
        app.extensions["scrm.console_login_limiter"].reset()
        corp = make_corp()
        web_identity.create_user("ops", PASSWORD, corp=corp)
        client = app.test_client()
        assert [sign_in(client, password="wrong-password!").status_code for _ in range(2)] == [401, 401]
        refused = sign_in(client)  # even the right password, until the window passes
        assert refused.status_code == 429 and "尝试次数过多" in refused.text
        other = app.test_client()
        assert sign_in(other, password=PASSWORD).status_code == 429  # the same address
        app.extensions["scrm.console_login_limiter"].reset()
        assert sign_in(client).status_code == 303


def test_every_post_needs_the_pages_csrf_token(client, world, fake_host):
    refused = client.post("/console/login", data={"username": "ops", "password": PASSWORD})
    assert refused.status_code == 400 and "页面已过期" in refused.text
    sign_in(client)
    before = len(fake_host.called("create_channel_code"))
    stale = create(client, world, csrf_token="forged")
    assert stale.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Channel).where(
        Channel.corp_id == world["corp"].id)) == 0
    assert len(fake_host.called("create_channel_code")) == before
    assert client.post("/console/logout").status_code == 400  # a cross-site form cannot sign anyone out
    assert client.get("/console").status_code == 200


def test_sign_out(client, world):
    sign_in(client)
    out = client.post("/console/logout", data={"csrf_token": csrf(client)})
    assert out.status_code == 303 and out.location == "/console/login"
    assert client.get("/console").status_code == 302


def test_an_account_of_every_corp_chooses_one(client, world):
    web_identity.create_user("root", PASSWORD)
    signed = sign_in(client, username="root", next_path="/console/channels")
    assert signed.status_code == 303 and signed.location.startswith("/console/corps")
    assert client.get("/console").location.startswith("/console/corps?next=")
    page = client.get(signed.location)
    assert "甲公司" in page.text and "乙公司" in page.text
    chosen = client.post("/console/corps", data={"csrf_token": token(page.text), "corp_id": world["other"].id,
                                                 "next": "/console/channels"})
    assert chosen.status_code == 303 and chosen.location == "/console/channels"
    listed = client.get("/console/channels")
    assert "乙的渠道" in listed.text and 'id="switch-corp"' in listed.text
    bogus = client.post("/console/corps", data={"csrf_token": token(listed.text), "corp_id": "999999"})
    assert bogus.status_code == 303 and "乙的渠道" in client.get("/console/channels").text  # unchanged


def test_salespeople_are_sent_to_the_sidebar_and_managers_only_read(client, world):
    made = channels.create_channel(world["corp"], {"name": "门店", "members": [{"employee_id": world["li"].id}]})
    as_employee(client, world["corp"], world["li"])
    for path in ("/console", "/console/channels", f"/console/channels/{made.id}/stats"):
        page = client.get(path)
        assert page.status_code == 403 and "侧边栏" in page.text and 'href="/console/channels"' not in page.text, path
    make_manager(world["corp"], world["zhang"])
    as_employee(client, world["corp"], world["zhang"])
    assert client.get("/console").status_code == 200
    listed = client.get("/console/channels")
    assert listed.status_code == 200 and "门店" in listed.text and "/edit" not in listed.text
    assert client.get(f"/console/channels/{made.id}/stats").status_code == 200
    assert client.get(f"/console/channels/{made.id}/stats.csv").status_code == 200
    for path in ("/console/channels/new", f"/console/channels/{made.id}/edit"):
        assert client.get(path).status_code == 403
    paused = client.post(f"/console/channels/{made.id}/pause", data={"csrf_token": csrf(client)})
    assert paused.status_code == 403
    db.session.expire_all()
    assert db.session.get(Channel, made.id).status == "active"


def test_another_corps_channel_is_not_found(client, world, fake_host):
    sign_in(client)
    theirs = world["theirs"].id
    for path in (f"/console/channels/{theirs}/stats", f"/console/channels/{theirs}/stats.csv",
                 f"/console/channels/{theirs}/edit"):
        assert client.get(path).status_code == 404, path
    for action in ("pause", "edit"):
        assert client.post(f"/console/channels/{theirs}/{action}",
                           data={"csrf_token": csrf(client), "name": "x"}).status_code == 404
    assert "乙的渠道" not in client.get("/console/channels").text
    db.session.expire_all()
    assert (db.session.get(Channel, theirs).name, db.session.get(Channel, theirs).status) == ("乙的渠道", "active")


def test_create_edit_pause_resume_from_the_console(client, world, fake_host):
    sign_in(client)
    before = len(fake_host.called("create_channel_code"))
    form = client.get("/console/channels/new")
    assert form.status_code == 200 and "张三" in form.text and "门店" in form.text
    made = create(client, world, hours_on="on", days=["mon", "tue"], hours_from="09:00", hours_to="18:00")
    assert made.status_code == 303 and made.location == "/console/channels"
    channel = db.session.scalar(select(Channel).where(Channel.corp_id == world["corp"].id))
    assert (channel.name, channel.allocation, channel.welcome_mode) == ("双十一直播", "weighted", "channel")
    members = {m.employee_id: m for m in channel.members}
    assert members[world["zhang"].id].daily_cap == 50 and members[world["li"].id].weight == 2
    assert members[world["li"].id].schedule == {"mon": [["09:00", "18:00"]], "tue": [["09:00", "18:00"]]}
    assert [t.tag_id for t in channel.tags] == [world["tag"].id] and channel.welcome["text"] == "{customer_name}您好"
    assert len(fake_host.called("create_channel_code")) == before + 1  # the host's contact way, like the API
    listed = client.get("/console/channels")
    assert "渠道活码「双十一直播」已创建。" in listed.text and "张三、李四" in listed.text
    assert f"/api/v1/channels/{channel.id}/qr.png" in listed.text
    assert client.get(f"/api/v1/channels/{channel.id}/qr.png").mimetype == "image/png"  # the session is enough

    edit = client.get(f"/console/channels/{channel.id}/edit")
    assert 'value="双十一直播"' in edit.text and 'value="50"' in edit.text
    data = {"csrf_token": token(edit.text), "name": "双十一", f"member_{world['zhang'].id}": "on",
            "welcome_mode": "default", "allocation": "round_robin"}
    assert client.post(f"/console/channels/{channel.id}/edit", data=data).status_code == 303
    db.session.expire_all()
    channel = db.session.get(Channel, channel.id)
    assert channel.name == "双十一" and [m.employee_id for m in channel.members] == [world["zhang"].id]
    assert channel.tags == [] and not channel.skip_verify and channel.welcome_mode == "default"

    assert client.post(f"/console/channels/{channel.id}/pause", data={"csrf_token": csrf(client)}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Channel, channel.id).status == "paused"
    again = client.post(f"/console/channels/{channel.id}/pause", data={"csrf_token": csrf(client)})
    assert "请检查「状态」" in client.get(again.location).text
    assert client.post(f"/console/channels/{channel.id}/resume", data={"csrf_token": csrf(client)}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Channel, channel.id).status == "active"


def test_a_refused_form_comes_back_with_what_was_typed(client, world, fake_host):
    sign_in(client)
    before = len(fake_host.called("create_channel_code"))
    nobody = create(client, world, **{f"member_{world['zhang'].id}": "", f"member_{world['li'].id}": ""})
    assert nobody.status_code == 422 and "请检查「成员」" in nobody.text and 'value="双十一直播"' in nobody.text
    bad_cap = create(client, world, **{f"cap_{world['zhang'].id}": "lots"})
    assert bad_cap.status_code == 422 and "每日上限" in bad_cap.text
    no_text = create(client, world, welcome_text="")
    assert no_text.status_code == 422 and "欢迎语" in no_text.text
    assert len(fake_host.called("create_channel_code")) == before


def test_names_are_shown_escaped(client, world, fake_host):
    sign_in(client)
    made = channels.create_channel(world["corp"], {"name": XSS, "members": [{"employee_id": world["zhang"].id}]})
    with unit_of_work():
        world["zhang"].name = "</script><img src=x onerror=alert(1)>"
    for path in ("/console/channels", f"/console/channels/{made.id}/stats", f"/console/channels/{made.id}/edit"):
        page = client.get(path).text
        assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
        assert "<img src=x" not in page
    fake_host.add_friend("zhang", "wm1", state=made.state)
    ingest(world["corp"], wx.added("zhang", "wm1", state=made.state))
    page = client.get(f"/console/channels/{made.id}/stats").text
    block = re.search(r'<script type="application/json" id="stats-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in block  # the JSON cannot close its script element
    assert json.loads(block)["employees"][0]["name"] == "</script><img src=x onerror=alert(1)>"


def test_statistics_and_csv_are_the_apis(client, world, fake_host):
    sign_in(client)
    assert create(client, world).status_code == 303
    channel = db.session.scalar(select(Channel).where(Channel.corp_id == world["corp"].id))
    now = int(time.time())
    today = local_now(world["corp"]).date()
    if local_now(world["corp"]).hour == 0 and local_now(world["corp"]).minute < 3:
        time.sleep(180)  # the adds below belong to today
    for n in range(3):
        fake_host.add_friend("zhang", f"wm{n}", state=channel.state,
                             created_at=datetime.fromtimestamp(now - 60, timezone.utc).replace(tzinfo=None))
        ingest(world["corp"], wx.added("zhang", f"wm{n}", state=channel.state, at=now - 60))
    fake_host.remove_friend("zhang", "wm0")
    ingest(world["corp"], wx.removed_by_customer("zhang", "wm0", at=now - 30))
    today = local_now(world["corp"]).date()
    query = f"from={today.replace(day=1).isoformat()}&to={today.isoformat()}"
    page = client.get(f"/console/channels/{channel.id}/stats?{query}")
    assert page.status_code == 200
    embedded = json.loads(re.search(r'id="stats-data">(.*?)</script>', page.text, re.S).group(1))
    api = client.get(f"/api/v1/channels/{channel.id}/stats?{query}")
    assert api.status_code == 200 and embedded == api.json
    assert (api.json["total"]["new"], api.json["total"]["lost"], api.json["total"]["net"]) == (3, 1, 2)
    for by in ("day", "employee"):
        mine = client.get(f"/console/channels/{channel.id}/stats.csv?{query}&by={by}")
        theirs = client.get(f"/api/v1/channels/{channel.id}/stats.csv?{query}&by={by}")
        assert mine.mimetype == "text/csv" and mine.data == theirs.data and mine.data.startswith("\ufeff".encode())
    backwards = client.get(f"/console/channels/{channel.id}/stats?from={today}&to=2000-01-01")
    assert backwards.status_code == 200 and "请检查「结束日期」" in backwards.text  # and the default week shown

    home = client.get("/console").text
    numbers = dict(re.findall(r'data-key="(\w+)">(-?\d+)<', home))
    assert numbers == {"new": "3", "lost": "1", "net": "2", "active_channels": "1", "open_handovers": "0",
                       "pool": "0"}
    row = re.search(r'data-channel-id="%d".*?</tr>' % channel.id, client.get("/console/channels").text, re.S).group(0)
    assert re.search(r'adds-today">3<', row) and re.search(r'adds-total">3<', row)


def test_the_language_switch(client, world):
    page = client.get("/console/login?lang=en")
    assert 'lang="en"' in page.text and "Sign in" in page.text and "登录控制台" not in page.text
    sign_in(client)
    home = client.get("/console")
    assert "Today" in home.text and 'href="/console?lang=zh"' in home.text  # the choice outlived the sign-in
    assert "今日新增客户" in client.get("/console?lang=zh").text


def test_a_generate_csrf_token_from_another_session_is_refused(client, world):
    sign_in(client)
    with client.application.test_request_context():
        foreign = generate_csrf()
    assert client.post("/console/channels/new", data={"csrf_token": foreign, "name": "x"}).status_code == 400
