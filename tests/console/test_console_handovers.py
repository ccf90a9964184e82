"""The console's handover, pool, token and corp pages against the fake host: a plan previewed with the API's very
numbers, created and started from the console up to the host's transfer call, its progress per state and per
customer; the pool listed, filtered and assigned; tokens created (the secret shown once) and revoked; the corp's
URLs to paste. Roles (managers read, salespeople are sent away), another corp's ids (404), CSRF on every POST, and
customer and employee names shown as text.

Corp a: 孙 left with five customers (one of them named like markup); 李 and 刘 are with the corp, 张 manages them.
Corp b: 赵, with a handover of its own."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.models import ApiToken, Corp, Department, EmployeeDepartment, Handover, PoolEntry, Relationship, utcnow
from scrm.services import access, pool, web_identity
from tests.builders import make_corp, make_customer, make_employee
from tests.console.test_console import (PASSWORD, _fresh_limits, _token_per_request, as_employee,  # noqa: F401
                                        csrf, sign_in, token)

XSS = "<img src=x onerror=alert(1)>"
GONE = 5


def _follow(corp, fake_host, employee, customer):
    with unit_of_work():
        db.session.add(Relationship(corp_id=corp.id, employee_id=employee.id, customer_id=customer.id,
                                    status="active"))
    fake_host.add_friend(employee.host_id, customer.host_id)


@pytest.fixture
def world(app, fake_host):
    a, b = make_corp(name="甲公司"), make_corp(name="乙公司")
    people = {}
    for host_id, name in (("zhang", "张"), ("li", "李"), ("liu", f"刘{XSS}")):
        people[host_id] = make_employee(a, host_id=host_id, name=name)
        fake_host.add_employee(host_id, name)
    people["sun"] = make_employee(a, host_id="sun", name="孙", status="departed", departed_at=utcnow())
    fake_host.add_employee("sun", "孙")
    fake_host.employees["sun"].active = False
    with unit_of_work():
        east = Department(corp_id=a.id, host_id="2", name="华东", parent_host_id="1")
        db.session.add(east)
        db.session.flush()
        db.session.add_all([EmployeeDepartment(employee_id=people[h].id, department_id=east.id,
                                               is_leader=h == "zhang") for h in ("zhang", "li", "liu", "sun")])
    gone = [make_customer(a, name=XSS if n == 0 else f"孙的客户{n}", host_id=f"wmsun{n}") for n in range(GONE)]
    for c in gone:
        _follow(a, fake_host, people["sun"], c)
    zhao = make_employee(b, host_id="zhao", name="赵")
    qian = make_employee(b, host_id="qian", name="钱", status="departed", departed_at=utcnow())
    web_identity.create_user("ops", PASSWORD, corp=a)
    return {"a": a, "b": b, "e": {k: v.id for k, v in people.items()}, "people": people, "gone": [c.id for c in gone],
            "zhao": zhao.id, "qian": qian.id, "admin": access.create_token(a, "admin")}


def api(client, method, path, world, **kw):
    return client.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {world['admin']}"}, **kw)


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def cells(html: str, cls: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(rf'class="[^"]*\b{cls}\b[^"]*"[^>]*>(.*?)</td>', html, re.S)]


def plan_form(client, world, step="preview", takers=("li", "liu"), **fields):
    data = {"csrf_token": csrf(client, f"/console/handovers/new?giver={world['e']['sun']}"),
            "giver": world["e"]["sun"], "kind": "departed", "split": "even", "reason": "离职交接", "step": step,
            "to": [world["e"][t] for t in takers], **fields}
    return client.post("/console/handovers/new", data=data)


# ================================================================ handovers


def test_the_list_names_who_left_with_customers_waiting(client, world, fake_host):
    sign_in(client)
    page = client.get("/console/handovers")
    assert page.status_code == 200
    assert 'aria-current="page">客户交接<' in page.text
    row = re.search(rf'<tr data-employee-id="{world["e"]["sun"]}">(.*?)</tr>', page.text, re.S).group(1)
    assert "孙" in row and f">{GONE}<" in row.replace(" ", "")
    assert f'/console/handovers/new?giver={world["e"]["sun"]}&amp;kind=departed' in row
    assert 'id="no-handovers"' in page.text


def test_the_preview_is_the_apis_dry_run_and_stores_nothing(client, world, fake_host):
    sign_in(client)
    form = client.get(f"/console/handovers/new?giver={world['e']['sun']}")
    assert form.status_code == 200 and 'id="giver-name"' in form.text
    assert f'value="{world["e"]["li"]}"' in form.text and f'name="to" value="{world["e"]["sun"]}"' not in form.text
    assert 'name="message"' not in form.text  # only an on-job handover tells the customer
    page = plan_form(client, world)
    assert page.status_code == 200, page.text
    dry = api(client, "POST", "/handovers?dry_run=1", world,
              json={"kind": "departed", "from_employee_id": world["e"]["sun"],
                    "to_employee_ids": [world["e"]["li"], world["e"]["liu"]], "reason": "离职交接"}).json
    shown = {int(taker): (int(c), int(g)) for taker, c, g in re.findall(
        r'data-taker-id="(\d+)">.*?class="num customers">(\d+)<.*?class="num chats">(\d+)<', page.text, re.S)}
    assert shown == {t["employee"]["id"]: (t["customers"], t["group_chats"]) for t in dry["takers"]}
    assert sorted(c for c, _g in shown.values()) == [2, 3]
    assert f"共 {GONE} 位客户" in page.text
    assert 'id="confirm"' in page.text and 'name="step" value="start"' in page.text
    assert count(Handover) == 0 and fake_host.called("transfer_customers") == []
    assert XSS not in page.text and "刘&lt;img src=x onerror=alert(1)&gt;" in page.text


def test_a_customer_already_moving_is_skipped_with_its_reason(client, world, fake_host):
    sign_in(client)
    api(client, "POST", "/handovers", world, json={"kind": "departed", "from_employee_id": world["e"]["sun"],
                                                    "to_employee_ids": [world["e"]["li"]],
                                                    "customer_ids": world["gone"][:2]})
    page = plan_form(client, world, takers=("liu",))
    assert page.status_code == 200
    skipped = re.findall(r'<li data-customer-id="(\d+)"><span class="customer-name">(.*?)</span>：(.*?)</li>',
                         page.text)
    # the host's unassigned list still names all five: two are in the first handover already
    assert {int(i) for i, _n, _w in skipped} == set(world["gone"][:2])
    assert all(why == "已在另一项交接中" for _i, _n, why in skipped)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text and XSS not in page.text


def test_confirm_creates_and_starts_it_up_to_the_hosts_transfer(client, world, fake_host):
    sign_in(client)
    done = plan_form(client, world, step="start")
    assert done.status_code == 303, done.text
    handover = db.session.scalar(select(Handover))
    assert done.location == f"/console/handovers/{handover.id}"
    assert (handover.status, handover.reason, handover.requested_by) == ("running", "离职交接", "admin:corp")
    sent = fake_host.called("transfer_customers")
    assert sorted(h for s in sent for h in s["customer_ids"]) == sorted(f"wmsun{n}" for n in range(GONE))
    assert {s["takeover_id"] for s in sent} == {"li", "liu"} and all(s["departed"] for s in sent)
    page = client.get(done.location)
    assert page.status_code == 200 and "交接已开始" in page.text
    api_view = api(client, "GET", f"/handovers/{handover.id}", world).json
    counts = dict(re.findall(r'<li data-state="(\w+)">.*?<b class="n">(\d+)</b>', page.text, re.S))
    assert {k: int(v) for k, v in counts.items()} == api_view["counts"] == {"waiting": GONE}
    assert page.text.count('<rect class="seg state-waiting"') == 1
    assert page.text.count("<tr data-line-id=") == GONE
    assert sorted(cells(page.text, "customer-name")) == sorted([XSS] + [f"孙的客户{n}" for n in range(1, GONE)])
    assert XSS not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "等待客户确认" in page.text and "转接请求" in page.text
    # starting it again from the console sends nothing twice
    again = client.post(f"/console/handovers/{handover.id}/start", data={"csrf_token": csrf(client)})
    assert again.status_code == 303 and fake_host.called("transfer_customers") == sent
    # the list shows it with its counts
    listed = client.get("/console/handovers").text
    assert f'data-handover-id="{handover.id}"' in listed and "离职继承" in listed and "进行中" in listed


def test_the_progress_pages_and_filters_lines(client, world, fake_host, monkeypatch):
    import console.handovers

    sign_in(client)
    plan_form(client, world, step="start")
    handover_id = db.session.scalar(select(Handover.id))
    monkeypatch.setattr(console.handovers, "LINES_PAGE", 2)
    first = client.get(f"/console/handovers/{handover_id}")
    assert first.text.count("<tr data-line-id=") == 2
    nxt = re.search(r'href="([^"]+)" id="next-lines"', first.text).group(1)
    second = client.get(unescape(nxt))
    third = client.get(unescape(re.search(r'href="([^"]+)" id="next-lines"', second.text).group(1)))
    assert third.text.count("<tr data-line-id=") == 1 and 'id="next-lines"' not in third.text
    ids = [re.findall(r'data-line-id="(\d+)"', p.text) for p in (first, second, third)]
    assert len({i for page in ids for i in page}) == GONE
    none = client.get(f"/console/handovers/{handover_id}?state=done")
    assert 'id="no-lines"' in none.text
    bad = client.get(f"/console/handovers/{handover_id}?state=<x>&after=abc")  # ignored, not an error
    assert bad.status_code == 200 and bad.text.count("<tr data-line-id=") == 2


def test_an_on_job_plan_carries_its_message(client, world, fake_host):
    sign_in(client)
    li, liu = world["people"]["li"], world["people"]["liu"]
    mine = make_customer(world["a"], name="李的客户", host_id="wmli0")
    _follow(world["a"], fake_host, li, mine)
    form = client.get(f"/console/handovers/new?giver={li.id}&kind=onjob")
    assert 'name="message"' in form.text
    data = {"csrf_token": token(form.text), "giver": li.id, "kind": "onjob", "to": [liu.id], "split": "load",
            "message": "您好，今后由刘为您服务", "reason": "", "step": "start"}
    done = client.post("/console/handovers/new", data=data)
    assert done.status_code == 303, done.text
    [sent] = fake_host.called("transfer_customers")
    assert sent["message"] == "您好，今后由刘为您服务" and not sent["departed"] and sent["customer_ids"] == ["wmli0"]


def test_a_refused_plan_comes_back_with_why(client, world, fake_host):
    sign_in(client)
    page = plan_form(client, world, takers=())
    assert page.status_code == 422 and "请检查「接替成员」" in page.text
    page = plan_form(client, world, takers=("li",), reason="x" * 300)
    assert page.status_code == 422 and "请检查「原因」" in page.text
    assert count(Handover) == 0


# ================================================================ the pool


def test_the_pool_is_listed_filtered_and_assigned(client, world, fake_host):
    pool.refresh(db.session.get(Corp, world["a"].id))
    sign_in(client)
    page = client.get("/console/pool")
    assert page.status_code == 200 and "共 5 位" in page.text
    assert sorted(cells(page.text, "customer-name")) == sorted([XSS] + [f"孙的客户{n}" for n in range(1, GONE)])
    assert XSS not in page.text and "跟进人已离职" in page.text
    assert 'id="no-pool"' in client.get("/console/pool?reason=stage_lost").text
    assert client.get("/console/pool?reason=departed").text.count("<tr data-customer-id=") == GONE
    picked = world["gone"][:2]
    done = client.post("/console/pool/claim", data={"csrf_token": csrf(client, "/console/pool"),
                                                    "employee_id": world["e"]["li"], "customer_ids": picked})
    assert done.status_code == 303
    assert count(PoolEntry, PoolEntry.status == "claimed", PoolEntry.claimed_by == world["e"]["li"]) == 2
    after = client.get("/console/pool")
    assert "已分配 2 位客户" in after.text and "共 3 位" in after.text
    # 孙 still follows them on the host: each claim started a handover to 李
    assert sorted(h for s in fake_host.called("transfer_customers") for h in s["customer_ids"]) == ["wmsun0", "wmsun1"]
    # claimed already: refused, and said so
    again = client.post("/console/pool/claim", data={"csrf_token": csrf(client, "/console/pool"),
                                                     "employee_id": world["e"]["liu"], "customer_ids": picked[:1]},
                        follow_redirects=True)
    assert "1 位客户未分配：已不在公海中" in again.text


def test_another_corps_pool_customer_is_not_assigned(client, world, fake_host):
    other = make_customer(world["b"], name="别家客户", host_id="wmB")
    with unit_of_work():
        db.session.add(PoolEntry(corp_id=world["b"].id, customer_id=other.id, reason="ended", entered_at=utcnow(),
                                 status="open"))
    sign_in(client)
    assert "别家客户" not in client.get("/console/pool").text
    r = client.post("/console/pool/claim", data={"csrf_token": csrf(client), "employee_id": world["e"]["li"],
                                                 "customer_ids": [other.id]}, follow_redirects=True)
    assert "已不在公海中" in r.text and count(PoolEntry, PoolEntry.status == "claimed") == 0


# ================================================================ tokens and the corp


def test_tokens_are_created_once_shown_and_revoked(client, world):
    sign_in(client)
    page = client.get("/console/tokens")
    assert page.status_code == 200 and 'aria-current="page">API 令牌<' in page.text
    made = client.post("/console/tokens", data={"csrf_token": token(page.text), "role": "sales",
                                                "employee_id": world["e"]["liu"], "label": XSS})
    assert made.status_code == 200
    secret = re.search(r'<code class="paste" id="secret">([^<]+)</code>', made.text).group(1)
    assert secret.startswith("scrm_") and XSS not in made.text and "&lt;img src=x onerror=alert(1)&gt;" in made.text
    assert client.get("/api/v1/customers", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listed = client.get("/console/tokens").text
    assert secret not in listed and "销售" in listed  # the secret is shown once, on the answer only
    row = db.session.scalar(select(ApiToken).where(ApiToken.label == XSS))
    assert row.role == "sales" and row.employee_id == world["e"]["liu"]
    refused = client.post("/console/tokens", data={"csrf_token": csrf(client), "role": "manager", "employee_id": ""})
    assert refused.status_code == 422 and "请检查「成员」" in refused.text
    gone = client.post(f"/console/tokens/{row.id}/revoke", data={"csrf_token": csrf(client)})
    assert gone.status_code == 303 and gone.location == "/console/tokens"
    assert client.get("/api/v1/customers", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert "已撤销" in client.get("/console/tokens").text


def test_the_corp_page_has_the_urls_to_paste_and_no_secret(client, world):
    sign_in(client)
    page = client.get("/console/corp")
    assert page.status_code == 200
    key = world["a"].corp_key
    assert f"http://scrm.test/callbacks/wecom/{key}" in page.text
    assert f"http://scrm.test/h5/sidebar?corp={key}" in page.text and "scrm.test</code>" in page.text
    corp = db.session.get(Corp, world["a"].id)
    for secret in (corp.secret, corp.callback_aes_key):
        assert secret not in page.text
    ding = make_corp(name="钉钉企业", platform="dingtalk", app_key="dingkey", agent_id=None)
    web_identity.create_user("ding", PASSWORD, corp=ding)
    other = client.application.test_client()
    sign_in(other, "ding")
    shown = other.get("/console/corp").text
    assert f"http://scrm.test/h5/app?corp={ding.corp_key}" in shown and "/h5/sidebar" not in shown
    assert f"http://scrm.test/callbacks/dingtalk/{ding.corp_key}" in shown and "dingkey" in shown


# ================================================================ roles, tenants, CSRF


def test_managers_read_and_salespeople_are_sent_away(client, world, fake_host):
    sign_in(client)
    plan_form(client, world, step="start")
    handover_id = db.session.scalar(select(Handover.id))
    client.post("/console/logout", data={"csrf_token": csrf(client)})
    as_employee(client, world["a"], world["people"]["zhang"])  # a leader of 华东
    for path in ("/console/handovers", f"/console/handovers/{handover_id}", "/console/pool"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'id="confirm"' not in page.text and 'id="claim"' not in page.text and 'id="start"' not in page.text
        assert "/console/tokens" not in page.text  # admins' entries are not in a manager's navigation
    for path in (f"/console/handovers/new?giver={world['e']['sun']}", "/console/tokens", "/console/corp"):
        assert client.get(path).status_code == 403, path
    posts = {"/console/handovers/new": {"giver": world["e"]["sun"], "to": world["e"]["li"], "step": "start"},
             f"/console/handovers/{handover_id}/start": {}, "/console/tokens": {"role": "admin"},
             "/console/tokens/1/revoke": {},
             "/console/pool/claim": {"employee_id": world["e"]["li"], "customer_ids": world["gone"][0]}}
    for path, data in posts.items():
        assert client.post(path, data={"csrf_token": csrf(client), **data}).status_code == 403, path
    assert count(Handover) == 1 and count(ApiToken) == 1
    as_employee(client, world["a"], world["people"]["li"])
    for path in ("/console/handovers", f"/console/handovers/{handover_id}", "/console/pool", "/console/tokens",
                 "/console/corp", f"/console/handovers/new?giver={world['e']['sun']}"):
        page = client.get(path)
        assert page.status_code == 403 and "侧边栏" in page.text, path


def test_another_corps_ids_are_not_found(client, world, fake_host):
    theirs = api(client, "POST", "/handovers", world, json={"kind": "departed", "from_employee_id": world["e"]["sun"],
                                                            "to_employee_ids": [world["e"]["li"]]}).json["id"]
    b_token = access.create_token(world["b"], "admin")
    b_row = db.session.scalar(select(ApiToken.id).order_by(ApiToken.id.desc()))
    web_identity.create_user("bops", PASSWORD, corp=world["b"])
    sign_in(client, "bops")
    for path in (f"/console/handovers/{theirs}", f"/console/handovers/new?giver={world['e']['sun']}",
                 "/console/handovers/987654321", "/console/handovers/new?giver=abc"):
        page = client.get(path)
        assert page.status_code == 404 and "孙" not in page.text, path
    assert f'data-handover-id="{theirs}"' not in client.get("/console/handovers").text
    r = client.post(f"/console/handovers/{theirs}/start", data={"csrf_token": csrf(client)})
    assert r.status_code == 404
    r = client.post("/console/handovers/new", data={"csrf_token": csrf(client), "giver": world["e"]["sun"],
                                                    "to": world["zhao"], "step": "start"})
    assert r.status_code == 404
    client.post("/console/logout", data={"csrf_token": csrf(client)})
    sign_in(client)
    assert client.post(f"/console/tokens/{b_row}/revoke", data={"csrf_token": csrf(client)}).status_code == 404
    assert client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {b_token}"}).status_code == 200
    assert f'data-token-id="{b_row}"' not in client.get("/console/tokens").text
    assert fake_host.called("transfer_customers") == []
    # corp b's departed 钱 is no giver for corp a's admin
    assert client.get(f"/console/handovers/new?giver={world['qian']}").status_code == 404


def test_every_post_needs_the_pages_csrf_token(client, world, fake_host):
    pool.refresh(db.session.get(Corp, world["a"].id))
    sign_in(client)
    posts = {"/console/handovers/new": {"giver": world["e"]["sun"], "to": world["e"]["li"], "step": "start"},
             "/console/tokens": {"role": "admin"}, "/console/tokens/1/revoke": {},
             "/console/pool/claim": {"employee_id": world["e"]["li"], "customer_ids": world["gone"][0]}}
    for path, data in posts.items():
        for extra in ({}, {"csrf_token": "forged"}):
            page = client.post(path, data={**data, **extra})
            assert page.status_code == 400 and "页面已过期" in page.text, path
    assert count(Handover) == 0 and count(ApiToken) == 1 and count(PoolEntry, PoolEntry.status == "claimed") == 0
    assert db.session.scalar(select(ApiToken.revoked_at)) is None
    assert fake_host.called("transfer_customers") == []


def test_the_pages_carry_no_inline_script_or_style(client, world, fake_host):
    pool.refresh(db.session.get(Corp, world["a"].id))
    sign_in(client)
    plan_form(client, world, step="start")
    handover_id = db.session.scalar(select(Handover.id))
    for path in ("/console/handovers", f"/console/handovers/new?giver={world['e']['sun']}",
                 f"/console/handovers/{handover_id}", "/console/pool", "/console/tokens", "/console/corp"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
        assert re.search(r"\sstyle=|<style|<script>|<img", page.text) is None, path
    english = client.get(f"/console/handovers/{handover_id}?lang=en").text
    assert "Waiting for the customer" in english and "Handover #" in english


def test_claims_beyond_the_daily_number_are_refused_and_said_so(client, world, fake_host):
    with unit_of_work():
        db.session.get(Corp, world["a"].id).options = {"pool": {"daily_claims": 1}}
    pool.refresh(db.session.get(Corp, world["a"].id))
    sign_in(client)
    r = client.post("/console/pool/claim", data={"csrf_token": csrf(client, "/console/pool"),
                                                 "employee_id": world["e"]["li"], "customer_ids": world["gone"][:3]},
                    follow_redirects=True)
    assert "已分配 1 位客户" in r.text and "2 位客户未分配：已达今日领取上限" in r.text
    assert count(PoolEntry, PoolEntry.status == "claimed") == 1
