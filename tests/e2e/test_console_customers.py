"""The console's customer pages in headless Chromium against the embedded default: a sandbox WeCom corp synced with
its customers, one more scanning a channel code under a name that is markup, the customer list and a 360 (a note
added, the stage moved), the funnel drawn by ECharts with the very `reached` numbers of GET /api/v1/funnel, and the
quick-reply library kept from its forms (an image uploaded). Every page is looked at on a phone and on a desktop,
and the strict CSP is never violated."""
import struct
import zlib

from sqlalchemy import select

from scrm.extensions import db
from scrm.models import Customer, Employee
from scrm.services import channels, customers, quick_replies
from tests.e2e.test_console import ECHARTS, _shot, _sign_in, _watch, corp  # noqa: F401  (the fixture)
from tests.e2e.test_embedded import embedded  # noqa: F401  (the fixture corp uses)
from tests.e2e.test_landing import CHROMIUM, CHROMIUM_FLAGS, SIZES, _need

XSS = "<img src=x onerror=alert(1)>"


def _png(path, size=48) -> None:
    """A small green PNG written without an image library."""
    row = b"\x00" + b"\x07\xc1\x60" * size
    raw = zlib.compress(row * size)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def _seed(corp) -> dict:  # noqa: F811  (the fixture's value)
    """Customers of the corp in several stages, one of them named with markup and scanned in through a code."""
    the_corp = corp["corp"]
    staff = list(db.session.scalars(select(Employee).where(Employee.corp_id == the_corp.id,
                                                           Employee.status == "active").order_by(Employee.id)))
    code = channels.create_channel(the_corp, {"name": "门店海报", "members": [{"employee_id": staff[0].id}]})
    for name in (XSS, "陈一", "林二", "周三", "吴四"):
        corp["control"].play(corp["sbx"], "scan_one", config_id=code.config_id, name=name, wait=True)
    db.session.expire_all()
    found = {c.name: c for c in db.session.scalars(select(Customer).where(Customer.corp_id == the_corp.id))}
    assert XSS in found and len(found) >= 5
    for name, path in (("陈一", ("contacted", "intent", "won")), ("林二", ("contacted", "intent")),
                       ("周三", ("contacted",)), ("吴四", ("lost",))):
        for stage in path:
            customers.set_stage(the_corp, found[name].id, stage)
    customers.add_note(the_corp, found[XSS].id, "客户说：" + XSS)
    group = quick_replies.create_group(the_corp, "产品介绍", 10)
    quick_replies.create(the_corp, group_id=group["id"], title="开场白",
                         content={"type": "text", "text": "您好，我是您的专属顾问，有任何问题随时找我。"})
    quick_replies.create(the_corp, group_id=group["id"], title="官网",
                         content={"type": "link", "title": "了解我们", "url": "https://example.com/about",
                                  "desc": "公司介绍与案例"})
    return {"xss": found[XSS], "chen": found["陈一"], "code": code}


def test_the_customer_pages_funnel_and_library_in_a_browser(corp, tmp_path):  # noqa: F811
    _need(CHROMIUM, "install Debian's chromium (`make setup` does)")
    _need(ECHARTS, "`make setup` bundles ECharts from node_modules (npm ci)")
    from playwright.sync_api import sync_playwright

    base = corp["base"]
    seeded = _seed(corp)
    picture = tmp_path / "price.png"
    _png(picture)
    violations: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            for size, viewport, mobile in SIZES:
                context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile,
                                              locale="zh-CN")
                page = context.new_page()
                _watch(page, violations)
                dialogs: list[str] = []
                page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
                _sign_in(page, base)

                page.goto(f"{base}/console/customers")
                api = context.request.get(f"{base}/api/v1/customers").json()
                assert page.locator("#total").inner_text() == f"共 {api['total']} 位客户"
                rows = page.locator("#customers tbody tr")
                assert rows.count() == len(api["items"])
                row = page.locator(f"tr[data-customer-id='{seeded['xss'].id}'] .customer-name a")
                assert row.inner_text().endswith(XSS) and row.locator("img").count() == 0  # text, never markup
                _shot(page, "customers", size)
                page.click(".tag-filter summary")
                _shot(page, "customers-tags", size)
                page.select_option("#stage-filter", "intent")
                with page.expect_navigation():
                    page.click("#search")
                intent = context.request.get(f"{base}/api/v1/customers?stage=intent").json()
                assert intent["total"] >= 1
                assert page.locator("#customers tbody tr").count() == len(intent["items"])
                assert page.locator("#total").inner_text() == f"共 {intent['total']} 位客户"
                _shot(page, "customers-filtered", size)

                page.goto(f"{base}/console/customers/{seeded['xss'].id}")
                assert page.locator("#customer-name").inner_text() == XSS
                assert page.locator("main img").count() == 0
                assert page.locator("#relationships tbody tr").count() == 1
                assert "门店海报" in page.locator("#relationships").inner_text()
                note = "电话回访：下周二再联系" if size == "phone" else "已发送报价单"
                page.fill("#note-body", note)
                with page.expect_navigation():
                    page.click("#add-note")
                assert "跟进记录已添加。" in page.locator(".notice").inner_text()
                assert note in page.locator("#notes").inner_text()
                page.select_option("#stage-select", "intent" if size == "phone" else "contacted")
                with page.expect_navigation():
                    page.click("#save-stage")
                assert "客户阶段已改为" in page.locator(".notice").inner_text()
                _shot(page, "customer-360", size)

                page.goto(f"{base}/console/funnel")
                page.wait_for_selector("#chart-funnel canvas")
                funnel = context.request.get(f"{base}/api/v1/funnel").json()
                option = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-funnel'))"
                                       ".getOption()")
                drawn = [item["value"] for item in option["series"][0]["data"]]
                assert drawn == [s["reached"] for s in funnel["stages"] if s["in_funnel"]]
                assert [item["name"] for item in option["series"][0]["data"]][:2] == ["新客户", "已联系"]
                table = {r.get_attribute("data-stage"): r.locator(".reached").inner_text()
                         for r in page.locator("#funnel-table tbody tr").all()}
                assert table == {s["stage"]: str(s["reached"]) for s in funnel["stages"]}
                assert funnel["stages"][0]["reached"] == api["total"]
                box = page.locator("#chart-funnel").bounding_box()
                assert box["width"] <= viewport["width"] and box["height"] >= 300
                _shot(page, "funnel", size)
                page.select_option("#channel-filter", str(seeded["code"].id))
                with page.expect_navigation():
                    page.click("#apply")
                page.wait_for_selector("#chart-funnel canvas")
                narrowed = context.request.get(f"{base}/api/v1/funnel?channel_id={seeded['code'].id}").json()
                option = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-funnel'))"
                                       ".getOption()")
                assert [i["value"] for i in option["series"][0]["data"]] == \
                    [s["reached"] for s in narrowed["stages"] if s["in_funnel"]]

                page.goto(f"{base}/console/replies")
                _shot(page, "replies", size)
                page.click("#new-reply")
                title = "价目表" if size == "desktop" else "价目表（手机）"
                page.fill("#title", title)
                page.check("#type-image")
                assert page.locator("#image_file").is_visible() and not page.locator("#text_text").is_visible()
                page.set_input_files("#image_file", str(picture))
                _shot(page, "reply-new", size)
                with page.expect_navigation():
                    page.click("#save")
                assert f"话术「{title}」已添加。" in page.locator(".notice").inner_text()
                thumb = page.locator(".reply-content img.thumb").first
                assert thumb.evaluate("img => img.complete && img.naturalWidth") == 48  # the uploaded image
                if size == "desktop":
                    page.fill("#group-name", "售后")
                    with page.expect_navigation():
                        page.click("#create-group")
                    assert "分组已创建。" in page.locator(".notice").inner_text()
                page.locator(".rename summary").first.click()
                _shot(page, "replies-filled", size)
                reply = next(r for g in quick_replies.library(corp["corp"])["groups"] for r in g["replies"]
                             if r["title"] == title)
                page.goto(f"{base}/console/replies/{reply['id']}/edit")
                _shot(page, "reply-edit", size)
                page.goto(f"{base}/console/replies")
                with page.expect_navigation():
                    page.locator(f"tr[data-reply-id='{reply['id']}'] button:has-text('删除')").click()
                assert dialogs and "话术已删除。" in page.locator(".notice").inner_text()
                context.close()
            english = browser.new_context(viewport=SIZES[1][1], locale="en")
            page = english.new_page()
            _watch(page, violations)
            _sign_in(page, base)
            page.goto(f"{base}/console/funnel?lang=en")
            page.wait_for_selector("#chart-funnel canvas")
            assert page.locator("h1").inner_text() == "Sales funnel"
            _shot(page, "funnel-en", "desktop")
            page.goto(f"{base}/console/customers/{seeded['chen'].id}")
            _shot(page, "customer-360-en", "desktop")
            english.close()
        finally:
            browser.close()
    assert violations == []
