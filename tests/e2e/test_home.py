"""The home page `/`: in the embedded default, the mode, the connected corps (callback URLs, counts, commands) and
their channels; in production a public page that reveals no corp. Then both `/` and `/sandbox/` in headless
Chromium, on a phone and on a desktop, under the pages' CSP."""
import pytest
from sqlalchemy import select

from scrm.extensions import db
from scrm.models import Employee, Tag
from scrm.services import channels, corps, overview, sync
from tests.e2e.test_embedded import embedded  # noqa: F401  (the fixture: product + sandbox on one live server)
from tests.e2e.test_landing import CHROMIUM, CHROMIUM_FLAGS, SHOTS, SIZES, _need

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture
def connected(embedded):  # noqa: F811
    """Both sandbox corps connected, the DingTalk one synced and with a channel; a corp named like markup."""
    from scrm.embedded import connect_sandbox_corp

    wecom = connect_sandbox_corp(embedded, "wecom", employees=2, customers=3)
    ding = connect_sandbox_corp(embedded, "dingtalk", employees=2, customers=0)
    db.session.commit()
    corp = corps.get_corp(ding["corp_key"])
    assert sync.run_sync(sync.start(corp).id).status == "done"
    staff = list(db.session.scalars(select(Employee).where(Employee.corp_id == corp.id)))
    label = db.session.scalars(select(Tag).where(Tag.corp_id == corp.id, Tag.host_id.is_not(None))).first()
    channel = channels.create_channel(corp, {"name": "门店海报 <b>春季</b>", "tags": [label.id],
                                             "members": [{"employee_id": staff[0].id}]})
    # a corp named like markup (connected by hand, to a real host that is never called here)
    evil = corps.register_corp(platform="wecom", name=EVIL, corp_id="wwevil", agent_id="1", secret="s3cr3t-value")
    return {"wecom": wecom, "ding": ding, "channel": channel, "evil": evil, "base": embedded.config["BASE_URL"]}


def test_the_embedded_home_shows_mode_corps_callback_urls_counts_and_commands(connected, embedded):  # noqa: F811
    page = embedded.test_client().get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "style-src 'self'" in page.headers["Content-Security-Policy"] and "<style" not in html
    assert "<script" not in html and 'style="' not in html
    assert "嵌入式默认模式" in html and "进程内执行" in html and "已开启" in html
    uri = embedded.config["SQLALCHEMY_DATABASE_URI"]
    assert f'<code id="mode-database">{overview.mask_url(uri)}</code>' in html and uri not in html  # masked
    for href in ('href="/api/v1/docs"', 'href="/readyz"', 'href="/sandbox/"'):
        assert href in html
    base = connected["base"]
    for info in (connected["wecom"], connected["ding"]):
        key = info["corp_key"]
        assert info["name"] in html and info["corp_id"] in html
        assert f"{base}/callbacks/{info['platform']}/{key}</pre>" in html
        assert f".venv/bin/scrm token create --corp {key} --role admin" in html
    assert "企业微信" in html and "钉钉" in html
    channel = connected["channel"]
    assert f'href="/h5/c/{channel.code}"' in html and "门店海报 &lt;b&gt;春季&lt;/b&gt;" in html
    assert "<strong>2</strong><span>员工</span>" in html  # the synced DingTalk corp's employees
    assert "成功" in html  # its last sync
    assert f"Authorization: Bearer &lt;令牌&gt;\" {base}/api/v1/channels" in html


def test_a_wecom_channel_shows_its_state_qr_endpoint_and_the_scan_command(connected, embedded):  # noqa: F811
    corp = corps.get_corp(connected["wecom"]["corp_key"])
    assert sync.run_sync(sync.start(corp).id).status == "done"
    staff = db.session.scalars(select(Employee).where(Employee.corp_id == corp.id)).first()
    channel = channels.create_channel(corp, {"name": "展会", "members": [{"employee_id": staff.id}]})
    assert channel.qr_url  # the host's own QR: no landing page of ours
    html = embedded.test_client().get("/").get_data(as_text=True)
    assert f"GET /api/v1/channels/{channel.id}/qr.png" in html and channel.state in html
    assert f".venv/bin/scrm sandbox play scan --corp {corp.corp_key} --channel {channel.id}" in html
    assert f'href="/h5/c/{channel.code}"' not in html


def test_database_and_broker_locations_are_shown_without_credentials_or_home():
    assert overview.mask_url("mysql+pymysql://scrm:pa55@db.internal:3306/scrm?charset=utf8mb4") == \
        "mysql+pymysql://***@db.internal:3306/scrm"
    assert overview.mask_url("redis://:pa55@cache:6379/0") == "redis://***@cache:6379/0"
    assert overview.mask_url("sqlite:////home/someone/data/scrm.db") == "sqlite:///…/scrm.db"
    assert overview.mask_url("not a url") == "（无法解析的地址）"


def test_corp_names_are_data_shown_as_text(connected, embedded):  # noqa: F811
    html = embedded.test_client().get("/").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and EVIL not in html
    assert "s3cr3t-value" not in html


def test_english_on_request(connected, embedded):  # noqa: F811
    html = embedded.test_client().get("/?lang=en").get_data(as_text=True)
    assert 'lang="en"' in html and "Connected corps" in html and "已连接的企业" not in html


def test_without_the_sandbox_the_home_page_reveals_no_corp(make_app):
    app = make_app(SANDBOX=False)
    with app.app_context():
        corps.register_corp(platform="wecom", name="秘密企业", corp_id="wwsecret", agent_id="1", secret="x")
        db.session.commit()
        try:
            page = app.test_client().get("/")
        finally:
            from tests.conftest import _clean_tables

            _clean_tables()
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "SCRM 服务正在运行" in html
    assert 'href="/api/v1/docs"' in html and 'href="/readyz"' in html
    assert "秘密企业" not in html and "wwsecret" not in html and "/callbacks/" not in html
    assert "/sandbox" not in html and "sqlite" not in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_home_and_sandbox_index_in_headless_chromium_on_phone_and_desktop(connected):
    _need(CHROMIUM, "install Debian's chromium (`make setup` does)")
    from playwright.sync_api import sync_playwright

    base = connected["base"]
    violations = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            for size, viewport, mobile in SIZES:
                page = browser.new_page(viewport=viewport, locale="zh-CN", is_mobile=mobile)
                page.on("console", lambda msg: violations.append(msg.text)
                        if "Content Security Policy" in msg.text else None)
                for name, path in (("home", "/"), ("sandbox-index", "/sandbox/")):
                    page.goto(f"{base}{path}")
                    page.screenshot(path=SHOTS / f"{name}-{size}.png", full_page=True)
                    width = page.evaluate("document.documentElement.scrollWidth")
                    assert width <= viewport["width"], f"{path} overflows on the {size}: {width}px"
                    assert page.locator("#title").is_visible()
                page.goto(f"{base}/")
                assert page.locator(".corp__name", has_text=EVIL).count() == 1  # text, not an image
                assert page.locator("main img").count() == 0
                background = page.locator("body").evaluate("el => getComputedStyle(el).backgroundColor")
                assert background == "rgb(244, 245, 247)"  # the stylesheet loaded under the CSP
                page.close()
        finally:
            browser.close()
    assert violations == []


def test_the_public_home_page_in_headless_chromium(make_app):
    _need(CHROMIUM, "install Debian's chromium (`make setup` does)")
    import socket
    import threading

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    app = make_app(SANDBOX=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                for size, viewport, mobile in SIZES:
                    page = browser.new_page(viewport=viewport, locale="zh-CN", is_mobile=mobile)
                    page.goto(f"http://127.0.0.1:{port}/")
                    page.screenshot(path=SHOTS / f"home-public-{size}.png", full_page=True)
                    assert page.locator("#title").inner_text() == "SCRM 服务正在运行"
                    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
                    page.close()
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
