"""The channel landing page against the fake host: the employee card, the form and its checks, escaping, CSRF,
signed employee tokens, closed and unknown codes, host failures, rate limits, security headers and WeCom's QR page."""
import re
from html import unescape
from pathlib import Path

import pytest
from flask import g
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from scrm.extensions import db
from scrm.host import Capability, HostTag, HostTagGroup, HostUnavailable
from scrm.models import Customer, Relationship, TimelineEntry
from scrm.services import channels
from scrm.services.tags import upsert_tag_group
from tests.builders import make_corp, make_employee
from tests.conftest import IN_CI
from tests.fakes import FakeHost

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
WEUI = Path(__file__).resolve().parents[2] / "h5" / "static" / "vendor" / "weui.min.css"


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture(autouse=True)
def _fresh_limits(request):
    """Rate-limit counters live in Redis on the MySQL leg: start every test from zero."""
    if "app" in request.fixturenames:
        request.getfixturevalue("app").extensions["scrm.h5_limiter"].reset()


@pytest.fixture
def dingtalk(fake_host):
    """The fake host without contact ways, like DingTalk: channels point to our own landing form."""
    fake_host.capabilities = (FakeHost.capabilities - {Capability.CREATE_CHANNEL_CODE}) | {Capability.CUSTOMER_NEEDS_TAG}
    return fake_host


@pytest.fixture
def corp(app, dingtalk):
    corp = make_corp(platform="dingtalk", name="示例科技", app_key="dingappkey")
    for host_id, name, position, mobile in (("zhang", "张三", "销售经理", "13900000001"),
                                            ("li", "李四", "客户顾问", "13900000002")):
        dingtalk.add_employee(host_id, name)
        make_employee(corp, host_id=host_id, name=name, position=position, mobile=mobile)
    dingtalk.tag_groups["g"] = HostTagGroup(id="g", name="来源", tags=[HostTag(id="101", name="门店海报")])
    upsert_tag_group(corp, dingtalk.tag_groups["g"])
    return corp


def emp(corp, host_id):
    from scrm.services.org import find_employee

    return find_employee(corp, host_id)


@pytest.fixture
def channel(corp):
    from scrm.models import Tag

    return channels.create_channel(corp, {
        "name": "春季门店海报",
        "members": [{"employee_id": emp(corp, "zhang").id}, {"employee_id": emp(corp, "li").id}],
        "tags": [db.session.scalar(select(Tag.id).where(Tag.name == "门店海报"))],
        "welcome_mode": "channel",
        "welcome": {"text": "{customer_name}您好，我是{employee_name}\n欢迎来到「{channel}」"}})


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return unescape(found.group(1))


def open_form(client, code: str) -> dict:
    page = client.get(f"/h5/c/{code}")
    assert page.status_code == 200, page.text
    return {"csrf_token": hidden(page.text, "csrf_token"), "t": hidden(page.text, "t")}


def submit(client, code: str, **fields):
    form = open_form(client, code)
    form.update({"name": "王小明", "mobile": "13812345678", "consent": "on"})
    form.update(fields)
    return client.post(f"/h5/c/{code}", data={k: v for k, v in form.items() if v is not None})


# ---------------------------------------------------------------- the page


def test_the_page_shows_the_allocated_employee_and_never_their_mobile(client, channel):
    page = client.get(f"/h5/c/{channel.code}")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.text
    assert "张三" in html and "销售经理" in html and 'id="employee-card"' in html
    assert "13900000001" not in html and "13900000002" not in html
    assert 'maxlength="32"' in html and 'name="mobile"' in html and 'type="checkbox"' in html
    assert "个人信息使用说明" in html and "姓名和手机号码" in html and "与您联系" in html
    assert hidden(html, "csrf_token") and hidden(html, "t")
    assert 'href="/h5/static/vendor/weui.min.css"' in html and "weui-form" in html
    assert 'name="viewport"' in html
    assert not re.search(r'(src|href|action)="(https?:)?//', html)  # nothing from outside: no CDN


def test_a_registration_creates_the_contact_records_it_and_notifies_the_employee(client, channel, dingtalk):
    answer = submit(client, channel.code)
    assert answer.status_code == 303
    assert re.match(rf"^(http://scrm\.test)?/h5/c/{channel.code}/done$", answer.headers["Location"])
    (created,) = dingtalk.called("create_customer")
    assert (created["employee_id"], created["name"], created["mobile"]) == ("zhang", "王小明", "13812345678")
    assert created["tag_ids"] == ["101"] and created["state"] == channel.state
    (sent,) = dingtalk.called("send_app_message")
    assert sent["user_ids"] == ["zhang"] and "王小明" in sent["text"] and "春季门店海报" in sent["text"]
    customer = db.session.scalar(select(Customer).where(Customer.mobile == "13812345678"))
    rel = db.session.scalar(select(Relationship).where(Relationship.customer_id == customer.id))
    assert (rel.status, rel.channel_id) == ("active", channel.id)
    assert count(TimelineEntry, TimelineEntry.kind == "added", TimelineEntry.channel_id == channel.id) == 1
    done = client.get(answer.headers["Location"])
    assert done.status_code == 200
    assert "提交成功" in done.text and "张三" in done.text and "销售经理" in done.text
    assert "王小明您好，我是张三<br>欢迎来到「春季门店海报」" in done.text
    assert "13812345678" not in done.text and "13900000001" not in done.text


def test_the_same_mobile_again_creates_nothing_and_tells_the_follower(client, channel, dingtalk):
    assert submit(client, channel.code).status_code == 303
    again = submit(client, channel.code, name="小明")
    assert again.status_code == 303
    assert len(dingtalk.called("create_customer")) == 1 and count(Customer) == 1
    first, second = dingtalk.called("send_app_message")
    assert first["user_ids"] == second["user_ids"] == ["zhang"]
    assert "再次登记" in second["text"] and "小明" in second["text"] and "13812345678" in second["text"]
    assert "小明，感谢您的登记" in client.get(again.headers["Location"]).text


def _visible(response) -> tuple:
    """What a visitor sees of a response, without the per-request tokens (CSRF, session cookie)."""
    body = re.sub(r'name="(csrf_token|t)" value="[^"]*"', "", response.get_data(as_text=True))
    headers = sorted((k, v) for k, v in response.headers.items() if k not in ("Set-Cookie",))
    return response.status_code, headers, body


def test_a_known_mobile_looks_exactly_like_a_new_one(app, corp, channel, dingtalk):
    from scrm.db import unit_of_work
    from tests.builders import make_customer

    known = make_customer(corp, name="李四先生", mobile="13700000000")
    with unit_of_work():
        db.session.add(Relationship(corp_id=corp.id, customer_id=known.id, employee_id=emp(corp, "li").id,
                                    status="active"))
    seen = []
    for mobile in ("13700000000", "13611112222"):
        g.pop("csrf_token", None)  # the test's app context outlives requests: each browser gets its own token
        client = app.test_client()
        form = client.get(f"/h5/c/{channel.code}")
        answer = submit(client, channel.code, name="访客", mobile=mobile)
        assert answer.status_code == 303, (answer.status_code, answer.text)
        done = client.get(answer.headers["Location"])
        seen.append((_visible(form), _visible(answer), _visible(done)))
        assert "李四先生" not in done.text and "13700000000" not in done.text
        assert "访客，感谢您的登记" in done.text
    assert seen[0] == seen[1]
    texts = [(m["user_ids"], m["text"]) for m in dingtalk.called("send_app_message")]
    assert texts[0][0] == ["li"] and "再次登记" in texts[0][1]  # the follower still hears of it
    assert texts[1][0] == ["zhang"] and "新客户" in texts[1][1]


def test_a_mobile_the_host_has_already_looks_like_a_new_one(app, channel, dingtalk):
    from scrm.host import HostError

    dingtalk.fail_next["create_customer"] = HostError(22005, "external contact exists")
    first = app.test_client()
    answer = submit(first, channel.code)
    assert answer.status_code == 303 and count(Customer) == 0
    assert "王小明，感谢您的登记" in first.get(answer.headers["Location"]).text
    (sent,) = dingtalk.called("send_app_message")
    assert sent["user_ids"] == ["zhang"] and "13812345678" in sent["text"]


def test_the_thank_you_page_shows_only_what_this_browser_sent(app, client, channel):
    assert submit(client, channel.code, name="王小明").status_code == 303
    assert "王小明" in client.get(f"/h5/c/{channel.code}/done").text
    g.pop("csrf_token", None)
    stranger = app.test_client()  # no form sent: nothing to show, whatever the query says
    for query in ("", "?t=1", "?cu=1&e=1&c=1"):
        page = stranger.get(f"/h5/c/{channel.code}/done{query}")
        assert page.status_code == 400 and "王小明" not in page.text


def test_a_name_with_markup_is_escaped_in_the_form_and_on_the_thank_you_page(client, channel):
    again = submit(client, channel.code, name=XSS, mobile="12")
    assert again.status_code == 422
    assert XSS not in again.text and f'value="{ESCAPED}"' in again.text
    done = client.get(submit(client, channel.code, name=XSS).headers["Location"])
    assert done.status_code == 200
    assert XSS not in done.text and "<script" not in done.text
    assert done.text.count(ESCAPED) == 2  # the thanks and the welcome text
    assert db.session.scalar(select(Customer.name)) == XSS  # kept as typed: escaping is the page's job


# ---------------------------------------------------------------- refused input


def test_a_missing_or_forged_csrf_token_is_refused_before_anything_happens(client, channel, dingtalk):
    open_form(client, channel.code)
    data = {"name": "王小明", "mobile": "13812345678", "consent": "on"}
    missing = client.post(f"/h5/c/{channel.code}", data=data)
    forged = client.post(f"/h5/c/{channel.code}", data={**data, "csrf_token": "x" * 40})
    assert missing.status_code == forged.status_code == 400
    assert "页面已过期" in missing.text
    assert dingtalk.called("create_customer") == [] and count(Customer) == 0


def test_a_csrf_token_from_another_browser_session_is_refused(app, channel, dingtalk):
    token = open_form(app.test_client(), channel.code)["csrf_token"]
    other = app.test_client()
    answer = other.post(f"/h5/c/{channel.code}", data={"name": "王小明", "mobile": "13812345678", "consent": "on",
                                                       "csrf_token": token})
    assert answer.status_code == 400 and dingtalk.called("create_customer") == []


def test_missing_consent_is_refused_with_its_message_and_the_typed_values_kept(client, channel, dingtalk):
    answer = submit(client, channel.code, consent=None)
    assert answer.status_code == 422
    assert "请阅读并同意个人信息使用说明" in answer.text and 'id="consent-error"' in answer.text
    assert 'value="王小明"' in answer.text and 'value="13812345678"' in answer.text
    assert "张三" in answer.text and hidden(answer.text, "csrf_token")
    assert dingtalk.called("create_customer") == [] and count(Customer) == 0


@pytest.mark.parametrize("mobile", ["12345", "23812345678", "1381234567a", ""])
def test_a_bad_mobile_is_refused_next_to_the_field(client, channel, dingtalk, mobile):
    answer = submit(client, channel.code, mobile=mobile)
    assert answer.status_code == 422
    assert "请填写正确的手机号码" in answer.text and 'id="mobile-error"' in answer.text
    assert "weui-cell_warn" in answer.text and 'value="王小明"' in answer.text
    assert dingtalk.called("create_customer") == []


def test_a_name_too_long_is_refused(client, channel, dingtalk):
    answer = submit(client, channel.code, name="名" * 33)
    assert answer.status_code == 422 and "姓名最多 32 个字" in answer.text and 'id="name-error"' in answer.text
    assert dingtalk.called("create_customer") == []


def test_a_mobile_with_country_code_and_spaces_is_accepted(client, channel, dingtalk):
    assert submit(client, channel.code, mobile="+86 138-1234-5678").status_code == 303
    assert dingtalk.called("create_customer")[0]["mobile"] == "13812345678"


# ---------------------------------------------------------------- the employee token


def test_the_employee_shown_on_the_page_receives_the_customer(client, app, channel, corp, dingtalk):
    from h5.views import employee_token

    form = open_form(client, channel.code)
    form.update(name="王小明", mobile="13812345678", consent="on", t=employee_token(channel, emp(corp, "li")))
    assert client.post(f"/h5/c/{channel.code}", data=form).status_code == 303
    assert dingtalk.called("create_customer")[0]["employee_id"] == "li"


def test_a_forged_employee_token_means_allocate_again(client, channel, corp, dingtalk):
    forged = URLSafeTimedSerializer("not-the-secret-key", salt="scrm.h5.landing.employee").dumps(
        {"c": channel.id, "e": emp(corp, "li").id})
    assert submit(client, channel.code, t=forged).status_code == 303
    assert dingtalk.called("create_customer")[0]["employee_id"] == "zhang"  # whom the rules pick, not "li"


def test_an_expired_employee_token_means_allocate_again(client, channel, corp, dingtalk, monkeypatch):
    from h5 import views

    token = views.employee_token(channel, emp(corp, "li"))
    monkeypatch.setattr(views, "EMPLOYEE_TOKEN_MAX_AGE", -1)
    assert submit(client, channel.code, t=token).status_code == 303
    assert dingtalk.called("create_customer")[0]["employee_id"] == "zhang"


def test_a_token_of_another_channel_means_allocate_again(client, channel, corp, dingtalk):
    from h5.views import employee_token

    other = channels.create_channel(corp, {"name": "另一个", "members": [{"employee_id": emp(corp, "li").id}],
                                           "tags": [t.tag_id for t in channel.tags]})
    assert submit(client, channel.code, t=employee_token(other, emp(corp, "li"))).status_code == 303
    assert dingtalk.called("create_customer")[0]["employee_id"] == "zhang"


def test_a_forged_thank_you_session_shows_nothing(client, channel, corp):
    from flask import Flask

    forger = Flask("forger")
    forger.secret_key = "not-the-secret-key"
    forged = forger.session_interface.get_signing_serializer(forger).dumps(
        {"h5_done": {"c": channel.id, "n": "冒充", "e": emp(corp, "zhang").id}})
    client.set_cookie("session", forged)
    answer = client.get(f"/h5/c/{channel.code}/done")
    assert answer.status_code == 400 and "链接已失效" in answer.text and "冒充" not in answer.text


# ---------------------------------------------------------------- closed, unknown, host down


def test_an_unknown_code_is_a_404_page(client, app, fake_host):
    answer = client.get("/h5/c/no-such-code")
    assert answer.status_code == 404 and "页面不存在" in answer.text and "weui-msg" in answer.text
    assert client.get("/h5/c/no-such-code/qr.png").status_code == 404
    assert client.get("/h5/c/no-such-code/done?t=x").status_code == 404


def test_a_paused_channel_answers_410_on_the_page_and_the_form(client, channel, corp, dingtalk):
    form = open_form(client, channel.code)
    channels.pause_channel(corp, channel.id)
    page = client.get(f"/h5/c/{channel.code}")
    assert page.status_code == 410 and "活动已结束或暂停" in page.text
    posted = client.post(f"/h5/c/{channel.code}", data={**form, "name": "王小明", "mobile": "13812345678",
                                                        "consent": "on"})
    assert posted.status_code == 410 and "活动已结束或暂停" in posted.text
    assert dingtalk.called("create_customer") == []


def test_a_deleted_channel_is_unknown(client, channel, corp):
    channels.delete_channel(corp, channel.id)
    assert client.get(f"/h5/c/{channel.code}").status_code == 404


def test_a_host_failure_is_a_502_page_and_nothing_is_recorded(client, channel, dingtalk):
    dingtalk.fail_next["create_customer"] = HostUnavailable(-1, "系统繁忙")
    answer = submit(client, channel.code)
    assert answer.status_code == 502 and "系统繁忙，请稍后再试" in answer.text
    assert count(Customer) == count(Relationship) == count(TimelineEntry) == 0
    assert dingtalk.called("send_app_message") == []
    assert submit(client, channel.code).status_code == 303  # and the customer can simply try again


def test_a_failed_notification_does_not_fail_the_customer(client, channel, dingtalk):
    class AlwaysDown(dict):
        def pop(self, key, default=None):
            return HostUnavailable(-1, "busy") if key == "send_app_message" else super().pop(key, default)

    dingtalk.fail_next = AlwaysDown()  # every attempt of the task (and its retries) fails
    answer = submit(client, channel.code)
    assert answer.status_code == 303 and count(Customer) == 1 and dingtalk.called("send_app_message")
    assert client.get(answer.headers["Location"]).status_code == 200


def test_a_host_contact_way_takes_no_form(client, channel, corp, fake_host):
    form = open_form(client, channel.code)  # a valid CSRF token of this session
    fake_host.capabilities = FakeHost.capabilities  # contact ways, like WeCom
    wecom = channels.create_channel(corp, {"name": "企微活码", "members": [{"employee_id": emp(corp, "zhang").id}]})
    answer = client.post(f"/h5/c/{wecom.code}", data={**form, "name": "王小明", "mobile": "13812345678",
                                                      "consent": "on"})
    assert answer.status_code == 404 and fake_host.called("create_customer") == []


# ---------------------------------------------------------------- rate limits


def test_the_form_answers_429_past_the_per_address_limit(app, client, channel):
    allowed = int(app.config["LANDING_RATE_PER_ADDRESS"].split()[0])
    assert allowed == 20  # the default
    for _ in range(allowed):
        assert client.post(f"/h5/c/{channel.code}", data={}).status_code == 400
    limited = client.post(f"/h5/c/{channel.code}", data={})
    assert limited.status_code == 429 and "提交过于频繁" in limited.text
    assert limited.headers["Content-Security-Policy"]
    assert client.get(f"/h5/c/{channel.code}").status_code == 200  # pages are not limited, only the form
    other = client.post(f"/h5/c/{channel.code}", data={}, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert other.status_code == 400  # another customer is not


def test_the_form_answers_429_past_the_per_channel_limit(make_app, fake_host):
    app = make_app(LANDING_RATE_PER_CODE="3 per minute")
    with app.app_context():
        app.extensions["scrm.h5_limiter"].reset()
        client = app.test_client()
        codes = []
        for n in range(5):
            answer = client.post("/h5/c/same-code", data={}, environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"})
            codes.append(answer.status_code)
        assert codes == [400, 400, 400, 429, 429]
        assert client.post("/h5/c/other-code", data={}, environ_base={"REMOTE_ADDR": "198.51.100.9"}).status_code \
            == 400


def test_the_api_and_the_callbacks_are_not_limited_by_the_landing_limits(make_app, fake_host):
    app = make_app(LANDING_RATE_PER_ADDRESS="1 per minute")
    with app.app_context():
        app.extensions["scrm.h5_limiter"].reset()
        client = app.test_client()
        for _ in range(3):
            assert client.get("/api/v1/customers").status_code == 401
            assert client.post("/callbacks/wecom/nobody", data="x").status_code != 429
        assert [client.post("/h5/c/code", data={}).status_code for _ in range(2)] == [400, 429]
        assert client.get("/api/v1/customers").status_code == 401


def _statuses(client, code, sends):
    return [client.post(f"/h5/c/{code}", data={}, environ_base={"REMOTE_ADDR": remote},
                        headers={"X-Forwarded-For": forwarded} if forwarded else {}).status_code
            for remote, forwarded in sends]


def test_by_default_no_forwarded_for_is_believed_so_it_cannot_dodge_the_limit(make_app, fake_host):
    app = make_app(LANDING_RATE_PER_ADDRESS="2 per minute")
    with app.app_context():
        app.extensions["scrm.h5_limiter"].reset()
        sends = [("10.0.0.2", f"198.51.100.{n}, 10.0.0.{n}") for n in range(4)]  # all private hops, each new
        assert _statuses(app.test_client(), "code", sends) == [400, 400, 429, 429]


def test_a_trusted_load_balancer_network_gives_each_customer_their_own_limit(make_app, fake_host):
    app = make_app(LANDING_RATE_PER_ADDRESS="2 per minute", TRUSTED_PROXIES="100.64.0.0/10, 10.0.0.0/8")
    with app.app_context():
        app.extensions["scrm.h5_limiter"].reset()
        client = app.test_client()
        # two customers behind a CGNAT-range load balancer and a private reverse proxy
        first = [("10.0.0.2", "203.0.113.7, 100.64.3.4")] * 3
        assert _statuses(client, "code", first) == [400, 400, 429]
        assert _statuses(client, "code", [("10.0.0.2", "203.0.113.8, 100.64.3.4")]) == [400]
        # what the first customer writes in front of their own address changes nothing
        assert _statuses(client, "code", [("10.0.0.2", "1.2.3.4, 203.0.113.7, 100.64.3.4")]) == [429]


def test_a_hop_count_believes_that_many_proxies(make_app, fake_host):
    app = make_app(LANDING_RATE_PER_ADDRESS="1 per minute", TRUSTED_PROXIES="1")
    with app.app_context():
        app.extensions["scrm.h5_limiter"].reset()
        sends = [("10.0.0.2", "203.0.113.7"), ("10.0.0.2", "9.9.9.9, 203.0.113.7"), ("10.0.0.2", "203.0.113.8")]
        assert _statuses(app.test_client(), "code", sends) == [400, 429, 400]


# ---------------------------------------------------------------- headers, cookies, assets


def _assert_security_headers(response):
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "img-src 'self' data:" in csp and "script-src 'self'" in csp
    assert "http" not in csp and "unsafe" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_every_h5_response_carries_the_security_headers(client, channel):
    page = client.get(f"/h5/c/{channel.code}")
    _assert_security_headers(page)
    assert page.headers["Cache-Control"] == "no-store"
    _assert_security_headers(client.get("/h5/c/unknown"))
    _assert_security_headers(client.post(f"/h5/c/{channel.code}", data={}))
    _assert_security_headers(submit(client, channel.code, mobile="1"))
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # BASE_URL is http here
    assert "Content-Security-Policy" not in client.get("/healthz").headers  # the rest of the app is left alone


def test_the_session_cookie_is_secure_when_the_site_is_https(make_app, dingtalk):
    app = make_app(BASE_URL="https://scrm.example.com")
    with app.app_context():
        corp = make_corp(platform="dingtalk")
        employee = make_employee(corp, name="张三")
        group = upsert_tag_group(corp, HostTagGroup(id="g", name="来源", tags=[HostTag(id="101", name="门店海报")]))
        channel = channels.create_channel(corp, {"name": "c", "members": [{"employee_id": employee.id}],
                                                 "tags": [t.id for t in group.tags]})
        cookie = app.test_client().get(f"/h5/c/{channel.code}", base_url="https://scrm.example.com") \
            .headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        from tests.conftest import _clean_tables

        _clean_tables()


def test_weui_is_served_from_the_backend_itself(client):
    if not WEUI.exists():
        message = f"{WEUI} is missing: `make setup` copies it from node_modules (npm ci)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    css = client.get("/h5/static/vendor/weui.min.css")
    assert css.status_code == 200 and css.mimetype == "text/css" and b".weui-form" in css.data
    _assert_security_headers(css)
    assert not re.search(rb"url\((['\"]?)(https?:)?//", css.data)  # the stylesheet fetches nothing from outside


# ---------------------------------------------------------------- WeCom: the host's QR code


def test_a_wecom_channel_shows_the_hosts_qr_code_to_long_press(client, corp, fake_host):
    fake_host.capabilities = FakeHost.capabilities  # contact ways, like WeCom
    wecom = channels.create_channel(corp, {"name": "企微活码", "members": [{"employee_id": emp(corp, "zhang").id}]})
    assert wecom.qr_url
    page = client.get(f"/h5/c/{wecom.code}")
    assert page.status_code == 200
    assert "长按识别二维码，添加好友" in page.text and f'src="/h5/c/{wecom.code}/qr.png"' in page.text
    assert 'name="mobile"' not in page.text
    _assert_security_headers(page)
    image = client.get(f"/h5/c/{wecom.code}/qr.png")
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data.startswith(b"\x89PNG")
    assert fake_host.called("fetch_channel_qr") == [{"qr_url": wecom.qr_url}]


def test_a_channel_without_host_tags_is_refused_where_customers_need_one(app, client, corp, channel, dingtalk):
    """extcontact/create needs label_ids (60204): a channel without one would answer 502 to every customer."""
    from scrm.db import unit_of_work
    from scrm.errors import ValidationError
    from scrm.models import Tag
    from scrm.services import access

    members = [{"employee_id": emp(corp, "zhang").id}]
    with pytest.raises(ValidationError) as err:
        channels.create_channel(corp, {"name": "无标签", "members": members})
    assert err.value.field == "tags" and "标签" in err.value.message
    with unit_of_work():
        local = Tag(corp_id=corp.id, name="本地", group_id=db.session.get(Tag, channel.tags[0].tag_id).group_id)
        db.session.add(local)  # a tag of ours only, not on the host
    with pytest.raises(ValidationError):
        channels.create_channel(corp, {"name": "本地标签", "members": members, "tags": [local.id]})
    token = access.create_token(corp, "admin")
    auth = {"Authorization": f"Bearer {token}"}
    refused = client.post("/api/v1/channels", headers=auth, json={"name": "无标签", "members": members, "tags": []})
    assert refused.status_code == 422 and refused.json["field"] == "tags" and "标签" in refused.json["message"]
    emptied = client.patch(f"/api/v1/channels/{channel.id}", headers=auth, json={"tags": []})
    assert emptied.status_code == 422 and emptied.json["field"] == "tags"
    assert client.patch(f"/api/v1/channels/{channel.id}", headers=auth, json={"name": "改名"}).status_code == 200
    assert [t.tag_id for t in channels.get_channel(corp, channel.id).tags]  # still tagged
    assert dingtalk.called("create_customer") == []
