"""The API docs page in headless Chromium, phone and desktop sized: Swagger UI served from this backend renders the
operations under the page's Content-Security-Policy, in Chinese by default and in English on request."""
import pytest

from tests.e2e.test_embedded import embedded  # noqa: F401  (the fixture: product + sandbox on one live server)
from tests.e2e.test_landing import CHROMIUM, CHROMIUM_FLAGS, SHOTS, SIZES, _need

VENDOR = "scrm/api/static/vendor/swagger-ui-bundle.js"


@pytest.mark.timeout(180)
def test_the_docs_page_renders_the_operations_on_a_phone_and_a_desktop(embedded):  # noqa: F811
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    _need(CHROMIUM, "install Debian's chromium (make test does)")
    _need(Path(__file__).resolve().parents[2] / VENDOR, "run make setup (it copies Swagger UI from npm)")
    base = embedded.config["BASE_URL"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            for name, size, mobile in SIZES:
                page = browser.new_page(viewport=size, is_mobile=mobile, locale="zh-CN")
                problems = []
                page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
                page.on("request", lambda req: problems.append(req.url) if not req.url.startswith(base) else None)
                page.goto(f"{base}/api/v1/docs", wait_until="networkidle")
                page.wait_for_selector(".opblock-summary-path", timeout=30000)
                paths = page.locator(".opblock-summary-path").all_inner_texts()
                assert any("/api/v1/customers" in p for p in paths), paths
                assert page.locator("text=客户列表").count() >= 1  # the Chinese summaries
                assert page.locator(".info .title").inner_text().startswith("SCRM 接口文档")
                assert page.locator(".info .renderedMarkdown code").count() >= 1  # Markdown, no raw backticks
                assert "`" not in page.locator(".info").inner_text()
                assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
                page.screenshot(path=SHOTS / f"api-docs-{name}.png")
                create = page.locator(".opblock-post", has=page.locator(".opblock-summary-path", has_text="/api/v1/channels"))
                create.first.locator(".opblock-summary").click()
                body = page.wait_for_selector(".opblock-section-request-body", timeout=10000)
                assert "application/json" in body.inner_text()
                create.first.locator(".opblock-section-request-body").scroll_into_view_if_needed()
                page.screenshot(path=SHOTS / f"api-docs-operation-{name}.png", full_page=False)
                assert not problems, problems
                page.close()
            english = browser.new_page(viewport={"width": 1280, "height": 800})
            english.goto(f"{base}/api/v1/docs?lang=en", wait_until="networkidle")
            english.wait_for_selector(".opblock-summary-path", timeout=30000)
            assert english.locator("text=List customers").count() >= 1
            english.locator(".docs-links a", has_text="中文").click()
            english.wait_for_selector("text=客户列表", timeout=30000)
            english.screenshot(path=SHOTS / "api-docs-desktop-switched.png")
        finally:
            browser.close()
