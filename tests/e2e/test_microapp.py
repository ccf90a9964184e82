"""The DingTalk micro-app end to end in headless Chromium: a sandbox DingTalk org connected and synced on the live
embedded server, the page opened with DingTalk's User-Agent, signed in through a test double of the host's JS
bridge (dd.requestAuthCode answers a real free-login code of the sandbox, which the DingTalk connector exchanges
against the sandbox), then my customers listed and searched, one opened and noted on, the pool and the handovers
looked at; every page screenshotted in both windows, and no CSP violation anywhere."""
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.models import Customer, Employee, Handover, HandoverLine, Note, Relationship, utcnow
from scrm.services import pool, sync
from scrm.services.corps import get_corp
from tests.e2e.test_embedded import embedded  # noqa: F401  (the fixture: product + sandbox on one live server)
from tests.e2e.test_landing import CHROMIUM, CHROMIUM_FLAGS, SHOTS, SIZES, WEUI, _need

DINGTALK_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
               "Mobile/15E148 AliApp(DingTalk/7.6.0) com.laiwang.DingTalk/32436046 Channel/201200 language/zh-Hans-CN")
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def org(embedded):  # noqa: F811
    """A sandbox DingTalk org, connected and synced (employees, labels, external contacts), and the salesperson
    with the most customers; one of them with a hostile nickname, a customer in the pool and a handover to look at."""
    from scrm.embedded import connect_sandbox_corp

    info = connect_sandbox_corp(embedded, "dingtalk", employees=4, customers=30, seed=7)
    db.session.commit()
    corp = get_corp(info["corp_key"])
    run = sync.run_sync(sync.start(corp).id)
    assert run.status == "done"
    counts = db.session.execute(select(Employee, func.count(Relationship.id)).join(
        Relationship, Relationship.employee_id == Employee.id).where(
        Employee.corp_id == corp.id, Employee.status == "active", Relationship.status == "active")
        .group_by(Employee.id).order_by(func.count(Relationship.id).desc(), Employee.id)).all()
    me, followed = counts[0]
    colleague = next(e for e, _n in counts[1:]) if len(counts) > 1 else None
    assert followed >= 3, counts
    mine = list(db.session.scalars(select(Customer).join(Relationship, Relationship.customer_id == Customer.id).where(
        Relationship.employee_id == me.id, Relationship.status == "active").order_by(Customer.id)))
    with unit_of_work():
        db.session.get(Customer, mine[0].id).name = XSS
        lost = Customer(corp_id=corp.id, host_id="wmPoolE2E", name="公海里的客户")
        db.session.add(lost)
        db.session.flush()
        pool.enter(corp.id, lost.id, "ended", colleague.id if colleague else None, utcnow() - timedelta(hours=2))
        if colleague is not None:
            handover = Handover(corp_id=corp.id, kind="onjob", from_employee_id=colleague.id, requested_by="cli",
                                status="running")
            db.session.add(handover)
            db.session.flush()
            theirs = db.session.scalar(select(Relationship.customer_id).where(
                Relationship.employee_id == colleague.id, Relationship.status == "active").limit(1))
            if theirs is not None:
                db.session.add(HandoverLine(handover_id=handover.id, corp_id=corp.id, customer_id=theirs,
                                            host_id="e2e", from_employee_id=colleague.id, to_employee_id=me.id,
                                            state="waiting", requested_at=utcnow()))
    control = embedded.extensions["scrm.sandbox"].extensions["sandbox_control"]
    return {"corp": corp, "sbx": info["corp_id"], "me": me, "mine": mine, "control": control,
            "base": embedded.config["BASE_URL"]}


def _bridge(code: str) -> str:
    """The test double of dingtalk-jsapi: requestAuthCode answers the sandbox's code, once, for this corp."""
    return ("window.dd = {requestAuthCode: function (args) { console.log('requestAuthCode ' + JSON.stringify(args)); "
            f"return Promise.resolve({{code: {json.dumps(code)}}}); }}}};")


def test_an_employee_opens_the_micro_app_in_dingtalk_lists_customers_and_notes_on_one(org):
    _need(CHROMIUM, "install Debian's chromium (`make setup` does)")
    _need(WEUI, "`make setup` copies WeUI from node_modules (npm ci)")
    from playwright.sync_api import sync_playwright

    corp, base, me = org["corp"], org["base"], org["me"]
    violations, errors, asked = [], [], []
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            for size, viewport, mobile in SIZES:
                code = org["control"].play(org["sbx"], "login", userid=me.host_id)["result"]["code"]
                context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile,
                                              user_agent=DINGTALK_UA, locale="zh-CN")
                script = _bridge(code)
                context.route("**/h5/static/vendor/dingtalk.js", lambda route: route.fulfill(
                    status=200, content_type="application/javascript", body=script))
                page = context.new_page()
                page.on("console", lambda msg: violations.append(msg.text)
                        if "Content Security Policy" in msg.text else None)
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("console", lambda msg: asked.append(json.loads(msg.text.split(" ", 1)[1]))
                        if msg.text.startswith("requestAuthCode ") else None)

                with page.expect_navigation(url=re.compile(r"/h5/app\?corp=")):
                    page.goto(f"{base}/h5/app?corp={corp.corp_key}")  # the sign-in page, then back here
                page.wait_for_selector("#customers")
                assert asked.pop() == {"corpId": corp.corp_id, "clientId": corp.app_key} and asked == []
                rows = page.locator("#customers .app-row")
                assert rows.count() == min(len(org["mine"]), 20)  # a salesperson's own customers, 20 a page
                assert page.locator("#customer-total").inner_text() == f"共 {len(org['mine'])} 位"
                assert page.locator("img").count() == 0  # the nickname is text, never markup
                assert XSS in page.locator("#customers").inner_text()
                page.screenshot(path=SHOTS / f"app-customers-{size}.png", full_page=True)
                if size == "desktop":  # the phone's column, centred, and the tab bar sits under it
                    column = page.locator("main.page").bounding_box()
                    bar = page.locator(".tabbar").bounding_box()
                    assert column["width"] <= 480 and abs(column["x"] * 2 + column["width"] - 1280) <= 2
                    assert abs(bar["x"] - column["x"]) <= 1 and abs(bar["width"] - column["width"]) <= 1
                assert page.locator(".tabbar").bounding_box()["y"] + 40 >= viewport["height"] - 80

                target = org["mine"][1]
                page.fill("#q", target.name)
                with page.expect_navigation():
                    page.click("#filter")
                assert target.name in page.locator("#customers").inner_text()
                page.screenshot(path=SHOTS / f"app-search-{size}.png", full_page=True)
                with page.expect_navigation(url=re.compile(r"/h5/app/c/\d+$")):
                    page.locator("#customers .app-row", has_text=target.name).first.click()
                assert page.locator("#customer-name").inner_text() == target.name
                assert page.locator("#replies").count() == 0
                page.screenshot(path=SHOTS / f"app-customer-{size}.png", full_page=True)

                body = f"{size}：电话沟通，<b>下周</b>再约"
                page.fill("#note-body", body)
                with page.expect_navigation(url=re.compile(r"#notes$")):
                    page.click("#add-note")
                assert page.locator(".toast-line_ok").inner_text() == "已保存"
                assert body in page.locator(".notes").inner_text() and page.locator(".notes b").count() == 0
                page.evaluate("window.scrollTo(0, 0)")  # a full-page shot draws the sticky bar where it was scrolled to
                page.screenshot(path=SHOTS / f"app-note-{size}.png", full_page=True)

                with page.expect_navigation(url=re.compile(r"/h5/app/pool$")):
                    page.click("#tab-pool")
                assert "公海里的客户" in page.locator("#pool").inner_text()
                page.screenshot(path=SHOTS / f"app-pool-{size}.png", full_page=True)
                with page.expect_navigation(url=re.compile(r"/h5/app/handovers$")):
                    page.click("#tab-handovers")
                page.screenshot(path=SHOTS / f"app-handovers-{size}.png", full_page=True)
                primary = page.locator("#tab-handovers").evaluate("el => getComputedStyle(el).color")
                assert primary == "rgb(22, 119, 255)"  # app.css loaded under the CSP: the tab is marked
                context.close()
        finally:
            browser.close()
    assert violations == [] and errors == []
    db.session.expire_all()
    notes = list(db.session.scalars(select(Note).where(Note.author_id == me.id).order_by(Note.id)))
    assert [n.customer_id for n in notes] == [org["mine"][1].id] * 2
    assert notes[0].body == "phone：电话沟通，<b>下周</b>再约"


def test_in_a_pc_browser_the_app_signs_in_with_dingtalks_qr_login(org):
    """No DingTalk client: the page offers DingTalk's QR login; the sandbox's login page (a member picked, as
    scanning does) sends the browser back with an authCode that the real connector exchanges."""
    import requests

    with requests.Session() as browser:
        outside = browser.get(f"{org['base']}/h5/app?corp={org['corp'].corp_key}", timeout=30)
        assert outside.status_code == 403 and "扫码登录" in outside.text
        link = re.search(r'id="scan-sign-in" class="[^"]+" href="([^"]+)"', outside.text).group(1)
        login = browser.get(org["base"] + link.replace("&amp;", "&"), timeout=30)
        assert "/sandbox/dingtalk/login/oauth2/auth" in login.url and "scope=openid" in login.url
        picked = browser.get(f"{login.url}&userid={org['me'].host_id}", timeout=30)
        assert picked.status_code == 200 and picked.url.startswith(f"{org['base']}/h5/app")
        assert "我的客户" in picked.text
