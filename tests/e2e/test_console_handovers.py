"""A handover planned and started from the console in headless Chromium against the embedded default: a sandbox
WeCom corp synced, a salesperson with six customers made to leave (the host's callback), the admin seeing them
waiting and in the pool, previewing the split to two colleagues, confirming, and the progress page showing every
customer asked and waiting on the host. Tokens and the corp's URLs too. Every page is looked at on a phone and on a
desktop, and the strict CSP is never violated."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from scrm.extensions import db
from scrm.models import Employee, Handover, HandoverLine, PoolEntry
from scrm.services import sync, web_identity
from scrm.services.corps import get_corp
from tests.e2e.test_console import _shot, _watch
from tests.e2e.test_embedded import embedded  # noqa: F401  (the fixture: product + sandbox on one live server)
from tests.e2e.test_landing import CHROMIUM, CHROMIUM_FLAGS, SIZES, _need

PASSWORD = "console-e2e-password"
GIVEN = 6


@pytest.fixture
def corp(embedded):  # noqa: F811
    from scrm.embedded import connect_sandbox_corp

    info = connect_sandbox_corp(embedded, "wecom", employees=4, customers=0, seed=3)
    db.session.commit()
    corp = get_corp(info["corp_key"])
    control = embedded.extensions["scrm.sandbox"].extensions["sandbox_control"]
    control.play(info["corp_id"], "give_customers", userid="E00001", count=GIVEN)
    assert sync.run_sync(sync.start(corp).id).status == "done"
    control.play(info["corp_id"], "leave", userid="E00001", wait=True)
    db.session.expire_all()
    web_identity.create_user("ops", PASSWORD, corp=corp)
    embedded.extensions["scrm.console_login_limiter"].reset()
    return {"corp": corp, "sbx": info["corp_id"], "control": control, "base": embedded.config["BASE_URL"]}


def _employee(corp, host_id) -> Employee:
    return db.session.scalar(select(Employee).where(Employee.corp_id == corp.id, Employee.host_id == host_id))


def _sign_in(page, base: str, path: str) -> None:
    page.goto(f"{base}{path}")
    assert "/console/login?next=" in page.url
    page.fill("#username", "ops")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("#login-submit")
    assert page.url.endswith(path)


def test_an_admin_hands_a_departed_salespersons_customers_over_from_the_console(corp):
    _need(CHROMIUM, "install Debian's chromium (`make setup` does)")
    from playwright.sync_api import sync_playwright

    base, the_corp = corp["base"], corp["corp"]
    giver = _employee(the_corp, "E00001")
    takers = [_employee(the_corp, "E00002"), _employee(the_corp, "E00003")]
    assert giver.status == "departed"
    assert db.session.scalar(select(func.count()).select_from(PoolEntry).where(PoolEntry.status == "open")) == GIVEN
    violations: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            phone = browser.new_context(viewport=SIZES[0][1], is_mobile=True, has_touch=True, locale="zh-CN")
            small = phone.new_page()
            _watch(small, violations)
            _sign_in(small, base, "/console/handovers")
            _shot(small, "handovers-waiting", "phone")
            small.goto(f"{base}/console/pool")
            _shot(small, "pool", "phone")

            desktop = browser.new_context(viewport=SIZES[1][1], locale="zh-CN")
            page = desktop.new_page()
            _watch(page, violations)
            _sign_in(page, base, "/console/handovers")
            row = page.locator(f"#waiting-list tr[data-employee-id='{giver.id}']")
            assert row.locator(".person-name").inner_text() == giver.name
            assert re.sub(r"\s", "", row.locator("td.num").first.inner_text()) == str(GIVEN)
            _shot(page, "handovers-waiting", "desktop")
            page.goto(f"{base}/console/pool")
            assert page.locator("#pool tbody tr").count() == GIVEN
            _shot(page, "pool", "desktop")

            page.goto(f"{base}/console/handovers")
            with page.expect_navigation():
                row.locator("a.button").click()
            for taker in takers:
                page.check(f"#to_{taker.id}")
            page.fill("#reason", "离职交接")
            _shot(page, "handover-new", "desktop")
            with page.expect_navigation():
                page.click("#preview-button")
            shown = {int(r.get_attribute("data-taker-id")): int(r.locator(".customers").inner_text())
                     for r in page.locator("#preview-takers tbody tr").all()}
            api = desktop.request.post(  # the same session's dry run over the API: the same split
                f"{base}/api/v1/handovers?dry_run=1",
                headers={"X-CSRFToken": page.locator("meta[name=csrf-token]").get_attribute("content")},
                data={"kind": "departed", "from_employee_id": giver.id, "to_employee_ids": [t.id for t in takers],
                      "reason": "离职交接"}).json()
            assert shown == {t["employee"]["id"]: t["customers"] for t in api["takers"]} == {
                takers[0].id: 3, takers[1].id: 3}
            db.session.expire_all()
            assert db.session.scalar(select(func.count()).select_from(Handover)) == 0  # a preview stores nothing
            _shot(page, "handover-preview", "desktop")

            page.once("dialog", lambda dialog: dialog.accept())  # "the host is asked at once: start?"
            with page.expect_navigation():
                page.click("#confirm")
            assert re.search(r"/console/handovers/\d+$", page.url)
            assert "交接已开始" in page.locator(".notice").inner_text()
            db.session.expire_all()
            handover = db.session.scalar(select(Handover))
            assert handover.status == "running"
            lines = page.locator("#lines tbody tr")
            assert lines.count() == GIVEN
            states = {lines.nth(n).get_attribute("data-state") for n in range(GIVEN)}
            assert states <= {"requested", "waiting"} and states, states
            assert db.session.scalar(select(func.count()).select_from(HandoverLine).where(
                HandoverLine.state.in_(("requested", "waiting")))) == GIVEN
            assert "等待客户确认" in page.locator("#lines").inner_text()
            legend = page.locator("#counts").inner_text()
            assert f"全部 {GIVEN}" in re.sub(r"\s+", " ", legend)
            _shot(page, "handover-progress", "desktop")
            page.goto(f"{base}/console/handovers")
            assert page.locator(f"#handovers tr[data-handover-id='{handover.id}']").count() == 1
            _shot(page, "handovers", "desktop")
            page.goto(f"{base}/console/handovers/{handover.id}?lang=en")
            assert "Waiting for the customer" in page.locator("#lines").inner_text()
            _shot(page, "handover-progress-en", "desktop")
            page.goto(f"{base}/console/pool?lang=zh")  # asked to move: they left the pool
            assert page.locator("#no-pool").count() == 1
            _shot(page, "pool-empty", "desktop")

            page.goto(f"{base}/console/tokens")
            page.select_option("#role", "sales")
            page.select_option("#employee", str(takers[0].id))
            page.fill("#label", "数据同步<b>脚本</b>")
            with page.expect_navigation():
                page.click("#create-token")
            secret = page.locator("#secret").inner_text()
            assert secret.startswith("scrm_")
            assert page.locator("#tokens .token-label").first.inner_text() == "数据同步<b>脚本</b>"
            _shot(page, "tokens-created", "desktop")
            page.goto(f"{base}/console/tokens")
            assert secret not in page.content()
            _shot(page, "tokens", "desktop")
            page.goto(f"{base}/console/corp")
            assert page.locator("#sidebar-url").inner_text() == f"{base}/h5/sidebar?corp={the_corp.corp_key}"
            assert page.locator("#callback-url").inner_text() == f"{base}/callbacks/wecom/{the_corp.corp_key}"
            _shot(page, "corp", "desktop")
            desktop.close()

            page = small
            page.goto(f"{base}/console/handovers")
            _shot(page, "handovers", "phone")
            page.goto(f"{base}/console/handovers/new?giver={takers[1].id}&kind=onjob")
            page.check(f"#to_{takers[0].id}")
            _shot(page, "handover-new", "phone")
            with page.expect_navigation():
                page.click("#preview-button")
            assert page.locator("#preview").count() == 1
            _shot(page, "handover-preview", "phone")
            page.goto(f"{base}/console/handovers/{handover.id}")
            _shot(page, "handover-progress", "phone")
            page.goto(f"{base}/console/pool")
            _shot(page, "pool-empty", "phone")
            page.goto(f"{base}/console/tokens")
            _shot(page, "tokens", "phone")
            page.goto(f"{base}/console/corp")
            _shot(page, "corp", "phone")
            phone.close()
        finally:
            browser.close()
    assert violations == []
