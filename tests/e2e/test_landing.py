"""The DingTalk landing page end to end: a sandbox DingTalk org synced into the product, a channel code, and a
customer filling the form over real HTTP (requests, then headless Chromium), down to the external contact and the
work notification the sandbox keeps."""
import os
import re
from html import unescape
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from sandbox.dingtalk.models import DtContact, DtMessage
from scrm.extensions import db
from scrm.models import Channel, Customer, Employee, Relationship, Tag, TimelineEntry
from scrm.services import channels, sync
from scrm.services.corps import get_corp
from tests.conftest import IN_CI
from tests.e2e.test_embedded import embedded  # noqa: F401  (the fixture: product + sandbox on one live server)

CHROMIUM = "/usr/bin/chromium"
#: where the browser test leaves its screenshots, to be looked at (instance/ is not tracked)
SHOTS = Path(__file__).resolve().parents[2] / "instance" / "screenshots"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
WEUI = Path(__file__).resolve().parents[2] / "h5" / "static" / "vendor" / "weui.min.css"
#: the two windows every page is looked at in: (name, viewport, is_mobile)
SIZES = (("phone", {"width": 390, "height": 844}, True), ("desktop", {"width": 1280, "height": 800}, False))


def _need(path: str | Path, hint: str) -> None:
    """A file this test needs; missing fails the run in CI (never a skip there), and skips elsewhere."""
    if os.path.exists(path):
        return
    if IN_CI:
        pytest.fail(f"{path} is missing: {hint}")
    pytest.skip(f"{path} is missing: {hint}")


@pytest.fixture
def org(embedded):  # noqa: F811
    """A sandbox DingTalk org, connected and synced (employees and labels), and a channel over two employees."""
    from scrm.embedded import connect_sandbox_corp

    info = connect_sandbox_corp(embedded, "dingtalk", employees=3, customers=0)
    db.session.commit()
    corp = get_corp(info["corp_key"])
    run = sync.run_sync(sync.start(corp).id)
    assert run.status == "done"
    staff = list(db.session.scalars(select(Employee).where(Employee.corp_id == corp.id, Employee.status == "active")
                                    .order_by(Employee.id)))
    labels = list(db.session.scalars(select(Tag).where(Tag.corp_id == corp.id, Tag.host_id.is_not(None))
                                     .order_by(Tag.id)))[:2]
    assert len(staff) == 3 and len(labels) == 2
    channel = channels.create_channel(corp, {
        "name": "门店海报", "members": [{"employee_id": e.id} for e in staff[:2]], "tags": [t.id for t in labels],
        "welcome_mode": "channel", "welcome": {"text": "{customer_name}您好！我是{employee_name}，很高兴认识您。"}})
    assert channel.qr_url is None and channel.config_id is None  # DingTalk: our own landing page
    embedded.extensions["scrm.h5_limiter"].reset()
    control = embedded.extensions["scrm.sandbox"].extensions["sandbox_control"]
    return {"corp": corp, "sbx": info["corp_id"], "channel": channel, "staff": staff, "labels": labels,
            "control": control, "base": embedded.config["BASE_URL"]}


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return unescape(found.group(1))


def register(base: str, code: str, name: str, mobile: str) -> tuple[requests.Response, str]:
    """Open the landing page like a phone would, then submit its form; returns the final answer and whom the page
    showed."""
    with requests.Session() as browser:
        page = browser.get(f"{base}/h5/c/{code}", timeout=30)
        assert page.status_code == 200, page.text
        shown = re.search(r'class="employee-name">([^<]+)<', page.text).group(1)
        answer = browser.post(f"{base}/h5/c/{code}", timeout=60, data={
            "csrf_token": hidden(page.text, "csrf_token"), "t": hidden(page.text, "t"),
            "name": name, "mobile": mobile, "consent": "on"})
    return answer, unescape(shown)


def contacts(org, mobile: str) -> list[DtContact]:
    with org["control"].db.session() as s:
        rows = list(s.scalars(select(DtContact).where(DtContact.corp_id == org["sbx"], DtContact.mobile == mobile)))
        s.expunge_all()
    return rows


def messages(org, userid: str) -> list[dict]:
    with org["control"].db.session() as s:
        return [m.msg for m in s.scalars(select(DtMessage).where(DtMessage.corp_id == org["sbx"],
                                                                  DtMessage.userid == userid))]


def test_a_customer_registers_on_the_landing_page_and_becomes_a_dingtalk_external_contact(org):
    channel, base = org["channel"], org["base"]
    answer, shown = register(base, channel.code, "韩梅梅", "13711112222")
    assert answer.status_code == 200 and [r.status_code for r in answer.history] == [303]
    assert answer.url.endswith("/done") and "提交成功" in answer.text
    receiver = next(e for e in org["staff"] if e.name == shown)
    assert receiver.id == org["staff"][0].id  # round robin starts with the first member
    assert f"韩梅梅您好！我是{receiver.name}，很高兴认识您。" in answer.text

    (contact,) = contacts(org, "13711112222")  # on the host: follower and labels as the channel says
    assert (contact.name, contact.follower_user_id) == ("韩梅梅", receiver.host_id)
    assert sorted(contact.label_ids) == sorted(int(t.host_id) for t in org["labels"])

    db.session.expire_all()  # in the product: customer, relationship attributed to the channel, timeline
    customer = db.session.scalar(select(Customer).where(Customer.mobile == "13711112222"))
    assert customer is not None and (customer.host_id, customer.name) == (contact.userid, "韩梅梅")
    rel = db.session.scalar(select(Relationship).where(Relationship.customer_id == customer.id))
    assert (rel.employee_id, rel.status, rel.channel_id) == (receiver.id, "active", channel.id)
    entry = db.session.scalar(select(TimelineEntry).where(TimelineEntry.customer_id == customer.id))
    assert (entry.kind, entry.channel_id, entry.payload["channel_id"]) == ("added", channel.id, channel.id)

    notes = messages(org, receiver.host_id)  # the employee's work notification
    assert len(notes) == 1 and notes[0]["msgtype"] == "text"
    assert "韩梅梅" in notes[0]["text"]["content"] and "门店海报" in notes[0]["text"]["content"]

    again, promised = register(base, channel.code, "韩梅梅", "137 1111 2222")  # the same mobile again
    assert again.status_code == 200 and promised in again.text  # what a new number is told: who is next
    assert len(contacts(org, "13711112222")) == 1
    notes = messages(org, receiver.host_id)  # the follower hears of it
    assert len(notes) == 2 and "再次登记" in notes[1]["text"]["content"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Customer).where(Customer.mobile == "13711112222")) == 1

    nxt, second = register(base, channel.code, "李雷", "13722223333")  # the next customer meets the next member
    assert nxt.status_code == 200 and second == org["staff"][1].name
    assert contacts(org, "13722223333")[0].follower_user_id == org["staff"][1].host_id


def test_a_paused_channel_tells_the_customer_over_http(org):
    from scrm.services.channels import pause_channel

    pause_channel(org["corp"], org["channel"].id)
    page = requests.get(f"{org['base']}/h5/c/{org['channel'].code}", timeout=30)
    assert page.status_code == 410 and "活动已结束或暂停" in page.text


def test_a_customer_fills_the_form_in_headless_chromium(org):
    _need(CHROMIUM, "install Debian's chromium (`make setup` does)")
    _need(WEUI, "`make setup` copies WeUI from node_modules (npm ci)")
    from playwright.sync_api import sync_playwright

    channel, base = org["channel"], org["base"]
    violations = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
            page.on("console", lambda msg: violations.append(msg.text)
                    if "Content Security Policy" in msg.text else None)
            page.goto(f"{base}/h5/c/{channel.code}")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SHOTS / "landing-form-phone.png", full_page=True)
            desktop = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            desktop.goto(f"{base}/h5/c/{channel.code}")
            desktop.screenshot(path=SHOTS / "landing-form-desktop.png", full_page=True)
            # on a desktop the page keeps a phone's column, centred
            column = desktop.locator("main.page").bounding_box()
            assert column["width"] <= 480 and abs(column["x"] * 2 + column["width"] - 1280) <= 2
            desktop.close()
            assert page.locator("#employee-card").inner_text().startswith(org["staff"][0].name)
            primary = page.locator("#submit").evaluate("el => getComputedStyle(el).backgroundColor")
            assert primary == "rgb(7, 193, 96)"  # WeUI's primary green: the stylesheet loaded under the CSP
            page.fill("#name", "<b>小红</b>")
            page.fill("#mobile", "13733334444")
            page.click("#submit")  # consent not ticked: the browser itself holds the form back
            assert page.locator("#consent").evaluate("el => el.validity.valueMissing") is True
            assert "/done" not in page.url and contacts(org, "13733334444") == []
            page.check("#consent")
            with page.expect_navigation(url=re.compile(r"/done$")):
                page.click("#submit")
            page.screenshot(path=SHOTS / "landing-done-phone.png", full_page=True)
            assert page.locator(".weui-msg__title").inner_text() == "提交成功"
            assert "<b>小红</b>" in page.locator("#thanks").inner_text()  # shown as text, never as markup
            assert page.locator("#thanks b").count() == 0
            assert org["staff"][0].name in page.locator("#employee-card").inner_text()
        finally:
            browser.close()
    assert violations == []
    (contact,) = contacts(org, "13733334444")
    assert contact.follower_user_id == org["staff"][0].host_id
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Channel)) == 1
    assert db.session.scalar(select(Customer.name).where(Customer.mobile == "13733334444")) == "<b>小红</b>"


def test_the_360_shows_the_mobile_and_remark_a_dingtalk_customer_has_on_the_host(org):
    from scrm.services import access, customer_desk

    channel, base = org["channel"], org["base"]
    answer, shown = register(base, channel.code, "陈女士", "13755556666")
    assert answer.status_code == 200
    db.session.expire_all()
    customer = db.session.scalar(select(Customer).where(Customer.mobile == "13755556666"))
    admin = access.Principal(org["corp"], "admin", None)
    view = customer_desk.view(admin, customer.id)
    (rel,) = view["relationships"]
    (contact,) = contacts(org, "13755556666")
    assert view["mobile"] == "13755556666"  # what the landing page collected
    assert (rel["remark"], rel["remark_mobiles"]) == (contact.remark, ["13755556666"])
    assert rel["welcome"] is None  # DingTalk has no welcome codes: nothing was attempted

    with org["control"].db.session() as s:  # the follower edits the remark in DingTalk
        s.get(DtContact, contact.id).remark = "老客户陈"
        s.commit()
    assert sync.run_sync(sync.start(org["corp"], "customers").id).status == "done"
    db.session.expire_all()
    view = customer_desk.view(admin, customer.id)
    (rel,) = view["relationships"]
    assert (view["mobile"], rel["remark"], rel["remark_mobiles"]) == ("13755556666", "老客户陈", ["13755556666"])
