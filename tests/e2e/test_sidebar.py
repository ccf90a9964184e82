"""The WeCom chat sidebar in headless Chromium against the embedded sandbox: the real WeCom connector signs in
through the sandbox's OAuth page and signs the JS-SDK with the sandbox's tickets, while the host's JS bridge
(`ww`, the file vendor/wecom.js) is replaced by a test double that answers the chat's context and records what the
page sends. A salesperson tags a customer (the sandbox receives mark_tag), writes a note that a colleague's sidebar
then shows, sends a quick reply (the double records sendChatMessage's payload); an XSS nickname stays text; another
corp's customer is unreachable. Every page is screenshot on a phone and a desktop window."""
import hashlib
import json
import re

import pytest
from sqlalchemy import select

from sandbox.wecom.models import Follow
from scrm.extensions import db
from scrm.host import ChannelCodeSpec
from scrm.models import Employee, Tag
from scrm.services import quick_replies, sync
from scrm.services.corps import get_corp, host_for
from tests.e2e.test_embedded import embedded  # noqa: F401  (the fixture: product + sandbox on one live server)
from tests.e2e.test_landing import CHROMIUM, CHROMIUM_FLAGS, SHOTS, SIZES, WEUI, _need

WECOM_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130 "
            "wxwork/4.1.30 MicroMessenger/7.0.1 Language/zh")
XSS = "<img src=x onerror=alert(1)>"

#: the double of @wecom/jssdk: ww.register asks for both signatures as the real SDK does, the chat APIs answer
#: only once both came back (the real ones fail without them), sendChatMessage is recorded
DOUBLE = """
(function () {
  var chat = %s;
  var seen = window.__ww = {registered: null, signatures: null, sent: [], registrations: 0, refused: 0};
  var ready = null;
  function after(answer) {
    return function () { return ready.then(function () { return answer; }); };
  }
  window.ww = {
    register: function (options) {
      seen.registered = {corpId: options.corpId, agentId: options.agentId, jsApiList: options.jsApiList};
      seen.registrations += 1;
      var url = location.href;
      ready = Promise.all([options.getConfigSignature(url), options.getAgentConfigSignature(url)])
        .then(function (both) { seen.signatures = {url: url.split("#")[0], corp: both[0], agent: both[1]}; });
    },
    getContext: after({entry: chat.entry, shareTicket: ""}),
    getCurExternalContact: after({userId: chat.userId}),
    getCurExternalChat: after({chatId: chat.chatId}),
    sendChatMessage: function (message) {
      return ready.then(function () {
        if (chat.refuseFirstSend && seen.refused === 0) {  // a stale app ticket: "no permission" once
          seen.refused += 1;
          throw {errMsg: "sendChatMessage:fail no permission"};
        }
        seen.sent.push(message);
        return {errMsg: "sendChatMessage:ok"};
      });
    }
  };
})();
"""


@pytest.fixture
def office(embedded):  # noqa: F811
    """A sandbox WeCom corp synced into the product: li and wang both follow the XSS-named customer (each through
    a contact way of their own), li owns a group chat with them in it; a second corp with a customer of its own;
    a quick-reply library."""
    from scrm.embedded import connect_sandbox_corp

    info = connect_sandbox_corp(embedded, "wecom", employees=3, customers=0)
    other = connect_sandbox_corp(embedded, "wecom", employees=1, customers=0)
    db.session.commit()
    control = embedded.extensions["scrm.sandbox"].extensions["sandbox_control"]
    corp, foreign = get_corp(info["corp_key"]), get_corp(other["corp_key"])
    assert sync.run_sync(sync.start(corp).id).status == "done"
    host = host_for(corp)
    li, wang = (e.user_id for e in host.list_employees()[:2])
    for userid in (li, wang):
        way = host.create_channel_code(ChannelCodeSpec(state=f"sidebar-{userid}", user_ids=[userid]))
        control.play(info["corp_id"], "scan_one", config_id=way.config_id, name=XSS, external_userid="wmSidebarXSS",
                     wait=True)
    foreign_way = host_for(foreign).create_channel_code(ChannelCodeSpec(
        state="x", user_ids=[host_for(foreign).list_employees()[0].user_id]))
    control.play(other["corp_id"], "scan_one", config_id=foreign_way.config_id, name="别家客户",
                 external_userid="wmForeign", wait=True)
    chat = control.play(info["corp_id"], "group_chat", owner=li, wait=True)["result"]["chat_id"]
    control.play(info["corp_id"], "group_chat", change="update", chat_id=chat, members=1, wait=True)
    group = quick_replies.create_group(corp, "开场白")["id"]
    quick_replies.create(corp, group_id=group, title="问候", content={"type": "text", "text": "您好，我是您的顾问"})
    quick_replies.create(corp, group_id=group, title="官网", content={
        "type": "link", "title": "产品介绍", "url": "https://example.com/p", "desc": "三分钟看懂"})
    db.session.expire_all()
    tag = db.session.scalar(select(Tag).where(Tag.corp_id == corp.id, Tag.host_id.is_not(None)).order_by(Tag.id))
    return {"corp": corp, "sbx": info["corp_id"], "control": control, "li": li, "wang": wang, "chat": chat,
            "tag": tag, "base": embedded.config["BASE_URL"], "host": host}


def _browser(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


def _open(browser, office, userid: str, chat: dict, *, size=SIZES[0], violations: list):
    """A WeCom window of `userid` whose chat is `chat`: signed in through the sandbox's OAuth page (picking the
    member, as the sandbox asks), left on the sidebar's entry page."""
    name, viewport, mobile = size
    context = browser.new_context(viewport=viewport, is_mobile=mobile, user_agent=WECOM_UA, locale="zh-CN")
    page = context.new_page()
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("dialog", lambda dialog: violations.append(f"dialog: {dialog.message}"))
    page.route("**/h5/static/vendor/wecom.js", lambda route: route.fulfill(
        content_type="application/javascript", body=DOUBLE % json.dumps(chat)))
    page.goto(f"{office['base']}/h5/sidebar?corp={office['corp'].corp_key}")
    assert "/sandbox/wecom/connect/oauth2/authorize" in page.url and "agentid=" in page.url
    with page.expect_navigation():
        page.click(f"a[href$='userid={userid}']")
    return page


def _shoot(page, name: str, size) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"sidebar-{name}-{size[0]}.png", full_page=True)


def _sandbox_tags(office, userid: str, external_userid: str) -> list:
    with office["control"].db.session() as s:
        follow = s.scalar(select(Follow).where(Follow.corp_id == office["sbx"], Follow.userid == userid,
                                               Follow.external_userid == external_userid))
        return list(follow.tag_ids)


def test_a_salesperson_uses_the_sidebar_of_a_single_chat(office):
    _need(CHROMIUM, "install Debian's chromium (`make test` does)")
    _need(WEUI, "`make setup` builds the pages' assets (npm ci)")
    from playwright.sync_api import sync_playwright

    chat = {"entry": "single_chat_tools", "userId": "wmSidebarXSS", "refuseFirstSend": True}
    violations: list = []
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = _open(browser, office, office["li"], chat, violations=violations)
            page.wait_for_url(re.compile(r"/h5/sidebar/c/wmSidebarXSS$"))
            assert page.locator("#customer-name").inner_text() == XSS  # the nickname is text
            assert page.locator("#customer-name img").count() == 0 and page.locator("img[src=x]").count() == 0
            seen = page.evaluate("window.__ww")
            assert seen["registered"]["corpId"] == office["corp"].corp_id
            assert seen["registered"]["agentId"] == office["corp"].agent_id
            assert {"getCurExternalContact", "sendChatMessage"} <= set(seen["registered"]["jsApiList"])
            jsapi = office["host"].client.jsapi  # the signatures are the sandbox tickets' (doc 96909)
            for part, ticket in (("corp", jsapi.get_jsapi_ticket()), ("agent", jsapi.get_agent_jsapi_ticket())):
                signed = seen["signatures"][part]
                raw = (f"jsapi_ticket={ticket}&noncestr={signed['nonceStr']}&timestamp={signed['timestamp']}"
                       f"&url={seen['signatures']['url']}")
                assert signed["signature"] == hashlib.sha1(raw.encode()).hexdigest()
            wang = db.session.scalar(select(Employee.name).where(Employee.corp_id == office["corp"].id,
                                                                 Employee.host_id == office["wang"]))
            assert page.locator("#colleagues .colleague .row__title").all_inner_texts() == [wang]
            _shoot(page, "customer", SIZES[0])

            page.check(f"input[name=tag][value='{office['tag'].id}']", force=True)  # the tag on the host too
            with page.expect_navigation():
                page.click("#save-tags")
            assert office["tag"].host_id in _sandbox_tags(office, office["li"], "wmSidebarXSS")
            assert "已保存" in page.inner_text(".toast-line")
            page.fill("#note-body", "约了周五面谈 <script>alert(2)</script>")
            with page.expect_navigation():
                page.click("#add-note")
            assert "约了周五面谈 <script>alert(2)</script>" in page.locator("#notes .note__body").first.inner_text()

            page.click(".reply[data-search*='问候'] .send")  # a quick reply into the chat
            page.wait_for_function("() => window.__ww.sent.length === 1")
            page.click(".reply[data-search*='官网'] .send")
            page.wait_for_function("() => window.__ww.sent.length === 2")
            seen = page.evaluate("window.__ww")  # refused once: signed again with fresh tickets, sent once
            assert (seen["refused"], seen["registrations"], len(seen["sent"])) == (1, 2, 2)
            sent = seen["sent"]
            assert sent[0] == {"msgtype": "text", "text": {"content": "您好，我是您的顾问"}}
            assert sent[1]["msgtype"] == "news" and set(sent[1]) == {"msgtype", "news"}
            assert sent[1]["news"]["link"] == "https://example.com/p" and sent[1]["news"]["imgUrl"].startswith("http")
            page.fill("#reply-search", "官网")
            assert page.locator(".reply:not([hidden])").count() == 1

            page.goto(f"{office['base']}/h5/sidebar/c/wmForeign")  # another corp's customer
            assert "没有找到" in page.content() and "别家客户" not in page.content()
            _shoot(page, "not-found", SIZES[0])

            colleague = _open(browser, office, office["wang"], chat, size=SIZES[1], violations=violations)
            colleague.wait_for_url(re.compile(r"/h5/sidebar/c/wmSidebarXSS$"))
            assert "约了周五面谈" in colleague.locator("#notes").inner_text()  # li's note, on wang's sidebar
            assert colleague.locator("#notes script").count() == 0
            _shoot(colleague, "customer", SIZES[1])
        finally:
            browser.close()
    assert violations == []
    assert quick_replies.library(office["corp"])["groups"][0]["replies"][0]["uses"] == 1


def test_the_group_sidebar_and_the_pages_that_say_why_not(office):
    _need(CHROMIUM, "install Debian's chromium (`make test` does)")
    from playwright.sync_api import sync_playwright

    violations: list = []
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            for size in SIZES:
                page = _open(browser, office, office["li"], {"entry": "group_chat_tools", "chatId": office["chat"]},
                             size=size, violations=violations)
                page.wait_for_url(re.compile(rf"/h5/sidebar/g/{office['chat']}$"))
                assert page.locator("#customers .member").count() >= 1
                _shoot(page, "group", size)
                boot = _open(browser, office, office["li"], {"entry": "normal"}, size=size, violations=violations)
                boot.wait_for_selector("#boot-title:has-text('工具栏')")
                _shoot(boot, "boot-no-chat", size)
                outside = browser.new_page(viewport=size[1], is_mobile=size[2], locale="zh-CN")
                outside.goto(f"{office['base']}/h5/sidebar?corp={office['corp'].corp_key}")
                assert "请在企业微信中打开" in outside.content()
                assert outside.locator("#page-qr").evaluate("img => img.naturalWidth") > 0
                _shoot(outside, "outside", size)
        finally:
            browser.close()
    assert violations == []
