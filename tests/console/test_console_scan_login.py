"""Scanning the host's login QR code into the console: the host's page with a state bound to the session, the
code exchanged for the employee (admins per the corp's option reach the console, salespeople the sidebar's hint),
refused people told why, a forged or reused state refused, and the login page naming no corp it was not asked for."""
import pytest

from scrm.db import unit_of_work
from tests.builders import make_corp, make_employee
from tests.console.test_console import _fresh_limits, _token_per_request  # noqa: F401  (autouse fixtures)


@pytest.fixture
def corp(app, fake_host):
    corp = make_corp(name="甲公司")
    make_employee(corp, host_id="boss", name="老板")
    make_employee(corp, host_id="li", name="李雷")
    with unit_of_work():
        corp.options = {"admins": ["boss"]}
    return corp


def scan(client, corp, userid: str, fake_host):
    start = client.get(f"/console/login/scan/{corp.corp_key}?next=/console/channels")
    assert start.status_code == 302 and start.headers["Location"].startswith("https://fake.host/login")
    asked = fake_host.called("login_page_url")[-1]
    assert asked["redirect_uri"].endswith("/console/login/scanned")
    return client.get(f"/console/login/scanned?code=code-{userid}&state={asked['state']}")


def test_an_admin_scans_into_the_console_and_a_salesperson_is_sent_to_the_sidebar(app, client, corp, fake_host):
    login = client.get("/console/login").text
    assert "企业微信扫码登录" in login  # the only corp: its scan button
    done = scan(client, corp, "boss", fake_host)
    assert done.status_code == 303 and done.headers["Location"] == "/console/channels"
    assert client.get("/console").status_code == 200
    other = app.test_client()
    scan(other, corp, "li", fake_host)
    page = other.get("/console")
    assert page.status_code == 403 and "聊天侧边栏" in page.text


def test_refused_people_forged_and_reused_states(client, corp, fake_host):
    stranger = scan(client, corp, "stranger", fake_host)
    assert stranger.status_code == 403 and "可见范围" in stranger.text
    client.get(f"/console/login/scan/{corp.corp_key}")
    state = fake_host.called("login_page_url")[-1]["state"]
    assert client.get("/console/login/scanned?code=code-boss&state=" + "0" * 32).status_code == 400
    assert client.get(f"/console/login/scanned?code=code-boss&state={state}").status_code == 400  # popped above
    bad = scan(client, corp, "boss", fake_host).headers  # a good scan still works
    assert bad["Location"] == "/console/channels"
    assert client.get("/console/login/scan/nosuchcorp").status_code == 404


def test_with_several_corps_the_page_offers_only_the_corp_it_was_asked_for(client, corp):
    make_corp(name="乙公司")
    assert "扫码登录" not in client.get("/console/login").text
    asked = client.get(f"/console/login?corp={corp.corp_key}").text
    assert "扫码登录" in asked and "乙公司" not in asked

