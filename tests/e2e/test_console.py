"""The console in headless Chromium against the embedded default: a sandbox WeCom corp synced, an admin signing in,
creating a channel code from the form, customers scanning it (signed callbacks), and the channel's statistics drawn
by ECharts with the very numbers the API answers. Every page is looked at on a phone and on a desktop, and the
strict CSP is never violated."""
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from scrm.extensions import db
from scrm.models import Channel, Employee, Tag
from scrm.services import sync, web_identity
from scrm.services.corps import get_corp
from tests.e2e.test_embedded import embedded  # noqa: F401  (the fixture: product + sandbox on one live server)
from tests.e2e.test_landing import CHROMIUM, CHROMIUM_FLAGS, SHOTS, SIZES, _need

ECHARTS = Path(__file__).resolve().parents[2] / "console" / "static" / "vendor" / "echarts.js"
PASSWORD = "console-e2e-password"
NAME = "地铁海报<b>春季</b>"


@pytest.fixture
def corp(embedded):  # noqa: F811
    from scrm.embedded import connect_sandbox_corp

    info = connect_sandbox_corp(embedded, "wecom", employees=3, customers=0)
    db.session.commit()
    corp = get_corp(info["corp_key"])
    assert sync.run_sync(sync.start(corp).id).status == "done"
    web_identity.create_user("ops", PASSWORD, corp=corp)
    embedded.extensions["scrm.console_login_limiter"].reset()
    control = embedded.extensions["scrm.sandbox"].extensions["sandbox_control"]
    return {"corp": corp, "sbx": info["corp_id"], "control": control, "base": embedded.config["BASE_URL"],
            "app": embedded}


def _watch(page, violations: list) -> None:
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: violations.append(f"script error: {exc}"))


def _shot(page, name: str, size: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"console-{name}-{size}.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{name} on the {size} is {width}px wide"  # no sideways scrolling


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}/console/channels")
    assert "/console/login?next=" in page.url
    page.fill("#username", "ops")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("#login-submit")
    assert page.url.endswith("/console/channels")


def test_an_admin_creates_a_channel_and_reads_its_charts(corp):
    _need(CHROMIUM, "install Debian's chromium (`make setup` does)")
    _need(ECHARTS, "`make setup` bundles ECharts from node_modules (npm ci)")
    from playwright.sync_api import sync_playwright

    base, the_corp = corp["base"], corp["corp"]
    staff = list(db.session.scalars(select(Employee).where(Employee.corp_id == the_corp.id,
                                                           Employee.status == "active").order_by(Employee.id)))
    tag = db.session.scalar(select(Tag).where(Tag.corp_id == the_corp.id, Tag.deleted.is_(False)).order_by(Tag.id))
    violations: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            desktop = browser.new_context(viewport=SIZES[1][1], locale="zh-CN")
            page = desktop.new_page()
            _watch(page, violations)
            page.goto(f"{base}/console/login")
            _shot(page, "login", "desktop")
            page.fill("#username", "ops")
            page.fill("#password", "not-the-password")
            page.click("#login-submit")
            assert page.locator("#login-error").inner_text() == "用户名或密码错误。"
            _shot(page, "login-refused", "desktop")
            _sign_in(page, base)
            _shot(page, "channels-empty", "desktop")

            page.click("#new-channel")  # the form, filled in as an admin would
            page.fill("#name", NAME)
            page.check(f"#member_{staff[0].id}")
            page.check(f"#member_{staff[1].id}")
            page.fill(f"input[name=cap_{staff[0].id}]", "30")
            page.check(f"input[name=tags][value='{tag.id}']")
            page.select_option("#welcome_mode", "channel")
            page.fill("#welcome_text", "{customer_name}您好，我是{employee_name}。")
            _shot(page, "channel-new", "desktop")
            with page.expect_navigation():
                page.click("#save")
            assert "已创建" in page.locator(".notice").inner_text()
            db.session.expire_all()
            channel = db.session.scalar(select(Channel).where(Channel.corp_id == the_corp.id))
            assert channel.name == NAME and channel.config_id  # a contact way on the (sandbox) host
            assert {m.employee_id: m.daily_cap for m in channel.members} == {staff[0].id: 30, staff[1].id: None}

            for n in range(3):  # customers scan it; one of them deletes the employee again
                corp["control"].play(corp["sbx"], "scan_one", config_id=channel.config_id, name=f"客户{n}",
                                     wait=True)
            gone = corp["control"].play(corp["sbx"], "customer_deletes_employee", wait=True)
            assert gone["delivered"] == 1

            page.goto(f"{base}/console/channels")
            row = page.locator(f"tr[data-channel-id='{channel.id}']")
            assert row.locator(".channel-name").inner_text() == NAME  # the name as text, never as markup
            assert row.locator(".channel-name b").count() == 0
            assert row.locator(".adds-today").inner_text() == "3"
            _shot(page, "channels", "desktop")
            page.goto(f"{base}/console")
            assert page.locator("[data-key=new]").inner_text() == "3"
            assert page.locator("[data-key=lost]").inner_text() == "1"
            assert page.locator("[data-key=net]").inner_text() == "2"
            _shot(page, "home", "desktop")

            page.goto(f"{base}/console/channels/{channel.id}/stats")
            page.wait_for_selector("#chart-days canvas")
            api = desktop.request.get(f"{base}/api/v1/channels/{channel.id}/stats").json()  # the same session
            option = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-days'))"
                                   ".getOption()")
            assert option["xAxis"][0]["data"] == [d["day"] for d in api["days"]]
            drawn = {s["name"]: s["data"] for s in option["series"]}
            assert drawn == {"新增": [d["new"] for d in api["days"]], "流失": [d["lost"] for d in api["days"]],
                             "员工删除": [d["removed_by_employee"] for d in api["days"]],
                             "净增": [d["net"] for d in api["days"]]}
            assert (api["total"]["new"], api["total"]["lost"]) == (3, 1)
            people = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-employees'))"
                                   ".getOption()")
            assert people["yAxis"][0]["data"] == [e["name"] for e in api["employees"]]
            assert people["series"][0]["data"] == [e["new"] for e in api["employees"]]
            _shot(page, "stats", "desktop")
            with page.expect_download() as download:
                page.click("#csv-day")
            csv = open(download.value.path(), "rb").read()
            query = f"from={api['from']}&to={api['to']}&by=day"
            assert csv == desktop.request.get(f"{base}/api/v1/channels/{channel.id}/stats.csv?{query}").body()

            page.goto(f"{base}/console/channels/{channel.id}/stats?lang=en")  # English, kept by the session
            page.wait_for_selector("#chart-days canvas")
            assert page.locator("h2").first.inner_text() == "Added, lost and net per day"
            _shot(page, "stats-en", "desktop")
            page.goto(f"{base}/console/channels/{channel.id}/edit")
            assert re.search(r"Edit channel code", page.locator("h1").inner_text())
            _shot(page, "channel-edit-en", "desktop")
            page.goto(f"{base}/console?lang=zh")
            page.goto(f"{base}/console/channels/{channel.id + 1000}/stats")
            _shot(page, "not-found", "desktop")
            desktop.close()

            phone = browser.new_context(viewport=SIZES[0][1], is_mobile=True, has_touch=True, locale="zh-CN")
            page = phone.new_page()
            _watch(page, violations)
            page.goto(f"{base}/console/login")
            _shot(page, "login", "phone")
            _sign_in(page, base)
            _shot(page, "channels", "phone")
            page.goto(f"{base}/console")
            _shot(page, "home", "phone")
            page.goto(f"{base}/console/channels/new")
            _shot(page, "channel-new", "phone")
            page.goto(f"{base}/console/channels/{channel.id}/edit")
            _shot(page, "channel-edit", "phone")
            page.goto(f"{base}/console/channels/{channel.id}/stats")
            page.wait_for_selector("#chart-days canvas")
            box = page.locator("#chart-days").bounding_box()
            assert box["width"] <= 390 and box["height"] >= 200
            _shot(page, "stats", "phone")
            page.goto(f"{base}/console/channels/{channel.id + 1000}/stats")
            _shot(page, "not-found", "phone")
            page.click("#logout")
            page.wait_for_url(re.compile(r"/console/login$"))
            phone.close()

            from scrm.embedded import connect_sandbox_corp  # an account of every corp, with two corps to pick from

            connect_sandbox_corp(corp["app"], "dingtalk", employees=1, customers=0)
            db.session.commit()
            web_identity.create_user("root", PASSWORD)
            for size, viewport, mobile in SIZES:
                context = browser.new_context(viewport=viewport, is_mobile=mobile, locale="zh-CN")
                page = context.new_page()
                _watch(page, violations)
                page.goto(f"{base}/console/login")
                page.fill("#username", "root")
                page.fill("#password", PASSWORD)
                with page.expect_navigation():
                    page.click("#login-submit")
                assert "/console/corps" in page.url and page.locator("#corps li").count() == 2
                _shot(page, "corps", size)
                with page.expect_navigation():
                    page.click(f"#corps button:has-text('{the_corp.name}')")
                assert page.locator("#who .corp-name").inner_text() == the_corp.name
                context.close()
        finally:
            browser.close()
    assert violations == []
