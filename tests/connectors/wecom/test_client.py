"""WeComClient over a recorded-JSON transport: tokens, retries, errcode mapping, limits, URLs and signatures."""
from __future__ import annotations

import hashlib
import json
import logging
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors.runtime import make_runtime
from connectors.wecom.client import WeComClient, error_for, sign_jsapi
from scrm.host import (CorpAccess, HostCredentialsError, HostError, HostNotFound, HostPermissionError,
                       HostRateLimited, HostUnavailable)

SECRET = "s3cr3t-corp-secret-value"


class FakeResponse:
    def __init__(self, payload: Any, status: int = 200):
        self.status_code = status
        self.content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()


class FakeHTTP:
    """Answers per API path from queued recorded JSON (the last answer repeats); records every request."""

    def __init__(self, routes: dict[str, list[Any]] | None = None):
        self.routes: dict[str, list[Any]] = {"gettoken": [{"errcode": 0, "access_token": "T1", "expires_in": 7200}]}
        self.routes.update(routes or {})
        self.calls: list[dict[str, Any]] = []

    def request(self, method, url, params=None, data=None, headers=None, timeout=None):
        path = urlsplit(url).path.split("/cgi-bin/", 1)[1]
        body = json.loads(data) if data else None
        self.calls.append({"method": method, "url": url, "api": path, "params": dict(params or {}), "body": body,
                           "timeout": timeout})
        queue = self.routes[path]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            answer = answer(self.calls[-1])
        return answer if isinstance(answer, FakeResponse) else FakeResponse(answer)

    def count(self, api: str) -> int:
        return sum(1 for c in self.calls if c["api"] == api)


class RecordingLimiter:
    """Wraps the runtime's limiter and records what went through it."""

    def __init__(self, inner):
        self.inner = inner
        self.throttled: list[tuple[str, str]] = []
        self.slots: list[tuple[str, str, int]] = []

    def throttle(self, corp_key: str, api: str) -> None:
        self.throttled.append((corp_key, api))
        self.inner.throttle(corp_key, api)

    def block(self, *args, **kwargs) -> float:
        return self.inner.block(*args, **kwargs)

    @contextmanager
    def concurrency(self, corp_key: str, group: str, limit: int):
        self.slots.append((corp_key, group, limit))
        with self.inner.concurrency(corp_key, group, limit):
            yield


def access(**overrides) -> CorpAccess:
    values = dict(corp_key="acme", platform="wecom", corp_id="wwacme", agent_id="1000002", secret=SECRET,
                  api_base=None)
    values.update(overrides)
    return CorpAccess(**values)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def runtime(sleeps):
    rt = make_runtime(sleep=sleeps.append, attempts=4)
    rt.limiter = RecordingLimiter(rt.limiter)
    return rt


def make(runtime, routes=None, **kw) -> tuple[WeComClient, FakeHTTP]:
    http = FakeHTTP(routes)
    return WeComClient(access(**kw), runtime, http=http), http


OK = {"errcode": 0, "errmsg": "ok"}


# ---------------------------------------------------------------- tokens


def test_token_is_fetched_once_and_shared_between_clients(runtime):
    client, http = make(runtime, {"user/get": [{**OK, "userid": "zhangsan", "name": "张三"}]})
    assert client.user.get("zhangsan")["name"] == "张三"
    client.user.get("zhangsan")
    other, other_http = make(runtime, {"user/get": [{**OK, "userid": "lisi"}]})
    other.user.get("lisi")
    assert http.count("gettoken") == 1 and other_http.count("gettoken") == 0
    token_call = http.calls[0]
    assert token_call["params"] == {"corpid": "wwacme", "corpsecret": SECRET}
    assert all(c["params"]["access_token"] == "T1" for c in http.calls[1:])
    assert runtime.tokens.get("wecom:acme:token") == "T1"


@pytest.mark.parametrize("code", [40014, 42001])
def test_rejected_token_is_refreshed_and_the_call_retried_once(runtime, code):
    client, http = make(runtime, {
        "gettoken": [{**OK, "access_token": "OLD", "expires_in": 7200},
                     {**OK, "access_token": "NEW", "expires_in": 7200}],
        "user/get": [{"errcode": code, "errmsg": "token"}, {**OK, "userid": "zhangsan"}],
    })
    assert client.user.get("zhangsan")["userid"] == "zhangsan"
    assert [c["params"].get("access_token") for c in http.calls if c["api"] == "user/get"] == ["OLD", "NEW"]
    assert http.count("gettoken") == 2
    assert runtime.tokens.get("wecom:acme:token") == "NEW"


def test_a_token_rejected_twice_fails_without_looping(runtime):
    client, http = make(runtime, {
        "gettoken": [{**OK, "access_token": "A"}, {**OK, "access_token": "B"}, {**OK, "access_token": "C"}],
        "user/get": [{"errcode": 40014, "errmsg": "invalid access_token"}],
    })
    with pytest.raises(HostError) as err:
        client.user.get("zhangsan")
    assert err.value.errcode == 40014 and not err.value.transient
    assert http.count("user/get") == 2 and http.count("gettoken") == 2


def test_wrong_secret_raises_at_once(runtime, sleeps):
    client, http = make(runtime, {"gettoken": [{"errcode": 40001, "errmsg": "invalid credential"}],
                                  "user/get": [{**OK}]})
    with pytest.raises(HostCredentialsError) as err:
        client.user.get("zhangsan")
    assert err.value.errcode == 40001
    assert http.count("gettoken") == 1 and http.count("user/get") == 0 and sleeps == []
    assert SECRET not in str(err.value)


@pytest.mark.parametrize("code", [40001, 40013, 40091])
def test_credential_errors_from_any_api_are_not_retried(runtime, code, sleeps):
    client, http = make(runtime, {"department/list": [{"errcode": code, "errmsg": "bad"}]})
    with pytest.raises(HostCredentialsError):
        client.department.get()
    assert http.count("department/list") == 1 and http.count("gettoken") == 1 and sleeps == []


def test_gettoken_without_token_is_unavailable(runtime):
    client, http = make(runtime, {"gettoken": [{**OK}], "user/get": [OK]})
    with pytest.raises(HostUnavailable):
        client.user.get("x")
    assert http.count("gettoken") == runtime.attempts


# ---------------------------------------------------------------- errcode mapping and retries


@pytest.mark.parametrize("code,cls", [
    (45033, HostRateLimited), (-1, HostUnavailable),
    (48002, HostPermissionError), (60011, HostPermissionError), (84074, HostPermissionError),
    (40096, HostNotFound), (84061, HostNotFound), (60111, HostNotFound),
    (41051, HostError), (40068, HostError), (40029, HostError),
])
def test_errcode_to_exception(runtime, code, cls, sleeps):
    client, http = make(runtime, {"externalcontact/mark_tag": [{"errcode": code, "errmsg": f"e{code}"}]})
    with pytest.raises(cls) as err:
        client.external_contact.mark_tag("zhangsan", "wm1", ["et1"])
    assert type(err.value) is cls and err.value.errcode == code and err.value.api == "externalcontact/mark_tag"
    expected_calls = runtime.attempts if cls.transient else 1
    assert http.count("externalcontact/mark_tag") == expected_calls
    assert len(sleeps) == expected_calls - 1
    assert type(error_for(code)) is cls


def test_rate_limit_backoff_is_bounded_and_grows(runtime, sleeps):
    client, http = make(runtime, {"externalcontact/remark": [{"errcode": 45033, "errmsg": "api concurrent out of limit"}]})
    with pytest.raises(HostRateLimited) as err:
        client.external_contact.remark("zhangsan", "wm1", remark="VIP")
    assert http.count("externalcontact/remark") == 4 and err.value.retry_after is None
    assert len(sleeps) == 3 and all(0 < s <= 8.0 for s in sleeps)
    assert max(sleeps) > min(sleeps) or sleeps[0] <= sleeps[-1]


def test_45009_blocks_the_api_for_its_window_and_is_not_retried_within_it(runtime, sleeps):
    """WeCom blocks an API for 60 s after its per-minute limit trips (doc 90312): no retry within seconds, and no
    call of that corp and API reaches the host before the block ends; other APIs still go."""
    clock = [1000.0]
    runtime.limiter.inner.clock = lambda: clock[0]
    client, http = make(runtime, {"externalcontact/remark": [{"errcode": 45009, "errmsg": "api freq out of limit"},
                                                             OK, {"errcode": 45009, "errmsg": "api freq out of limit"}],
                                  "user/get": [OK]})
    with pytest.raises(HostRateLimited) as err:
        client.external_contact.remark("zhangsan", "wm1", remark="VIP")
    assert err.value.errcode == 45009 and err.value.retry_after == 60 and sleeps == []
    clock[0] += 30
    with pytest.raises(HostRateLimited) as err:
        client.external_contact.remark("zhangsan", "wm1", remark="VIP")
    assert err.value.errcode == "blocked" and err.value.retry_after == pytest.approx(30)
    assert http.count("externalcontact/remark") == 1
    client.user.get("zhangsan")  # another API is not blocked
    clock[0] += 31
    client.external_contact.remark("zhangsan", "wm1", remark="VIP")
    # a second block moments after the first: the per-hour limit tripped, which blocks for an hour
    with pytest.raises(HostRateLimited) as err:
        client.external_contact.remark("zhangsan", "wm1", remark="VIP")
    assert err.value.retry_after == 3600 and http.count("externalcontact/remark") == 3


def test_transient_errors_then_success(runtime, sleeps):
    client, http = make(runtime, {"externalcontact/list": [
        {"errcode": -1, "errmsg": "system busy"}, FakeResponse(b"<html>bad gateway</html>", 502),
        requests.Timeout("read timed out"), {**OK, "external_userid": ["wm1", "wm2"]}]})
    assert client.external_contact.list("zhangsan")["external_userid"] == ["wm1", "wm2"]
    assert http.count("externalcontact/list") == 4 and len(sleeps) == 3


def test_network_failure_hides_the_url_and_its_secrets(runtime):
    failure = requests.ConnectionError(f"Max retries exceeded with url: /cgi-bin/gettoken?corpsecret={SECRET}")
    client, http = make(runtime, {"gettoken": [failure]})
    with pytest.raises(HostUnavailable) as err:
        client.user.get("x")
    assert SECRET not in str(err.value) and err.value.__cause__ is None and err.value.__suppress_context__
    assert http.count("gettoken") == runtime.attempts


def test_non_json_and_client_errors(runtime):
    client, _ = make(runtime, {"user/get": [FakeResponse(b"not json")]})
    with pytest.raises(HostUnavailable):
        client.user.get("x")
    client, http = make(runtime, {"user/get": [FakeResponse(b"", 404)]})
    with pytest.raises(HostError) as err:
        client.user.get("x")
    assert err.value.errcode == "http_404" and http.count("user/get") == 1


def test_http_429_is_a_rate_limit_and_raw_control_characters_parse(runtime, sleeps):
    client, http = make(runtime, {"user/get": [FakeResponse(b"", 429),
                                               '{"errcode":0,"userid":"a","name":"\u5f20\t\x01"}'.encode()]})
    assert client.user.get("a")["name"] == "\u5f20\t\x01"
    assert http.count("user/get") == 2 and len(sleeps) == 1


def test_timeout_is_the_runtimes(runtime):
    runtime.timeout = 3.5
    client, http = make(runtime, {"user/get": [{**OK, "userid": "x"}]})
    client.user.get("x")
    assert {c["timeout"] for c in http.calls} == {3.5}


# ---------------------------------------------------------------- limiter


def test_every_exchange_is_throttled_and_tag_edits_hold_a_slot(runtime):
    client, http = make(runtime, {"externalcontact/remark": [OK], "externalcontact/mark_tag": [OK],
                                  "externalcontact/list": [{**OK, "external_userid": []}]})
    client.external_contact.remark("zhangsan", "wm1", remark="老客户")
    client.external_contact.mark_tag("zhangsan", "wm1", add_tag=["et1"])
    client.external_contact.list("zhangsan")
    assert runtime.limiter.throttled == [("acme", "wecom:gettoken"), ("acme", "wecom:externalcontact/remark"),
                                         ("acme", "wecom:externalcontact/mark_tag"),
                                         ("acme", "wecom:externalcontact/list")]
    assert runtime.limiter.slots == [("acme", "wecom:tag_edit", 5)] * 2
    remark = next(c for c in http.calls if c["api"] == "externalcontact/remark")
    assert remark["body"] == {"userid": "zhangsan", "external_userid": "wm1", "remark": "老客户"}


def test_limiter_refusal_is_retried_with_backoff(runtime, sleeps):
    class Refusing:
        def __init__(self):
            self.n = 0

        def throttle(self, corp_key, api):
            self.n += 1
            if self.n <= 2:
                raise HostRateLimited("local", "budget spent", api=api)

        def concurrency(self, corp_key, group, limit):
            return runtime.limiter.inner.concurrency(corp_key, group, limit)

    runtime.limiter = Refusing()
    client, http = make(runtime, {"user/get": [{**OK, "userid": "x"}]})
    assert client.user.get("x")["userid"] == "x"
    assert len(sleeps) == 2


# ---------------------------------------------------------------- endpoints and payloads


def test_base_url_follows_api_base(runtime):
    client, http = make(runtime, {"department/list": [{**OK, "department": []}]})
    client.department.get()
    assert all(c["url"].startswith("https://qyapi.weixin.qq.com/cgi-bin/") for c in http.calls)
    client, http = make(runtime, {"department/list": [{**OK, "department": []}]},
                        api_base="http://127.0.0.1:9/sandbox/wecom/", corp_key="sbx")
    client.department.get()
    assert [c["url"] for c in http.calls] == ["http://127.0.0.1:9/sandbox/wecom/cgi-bin/gettoken",
                                              "http://127.0.0.1:9/sandbox/wecom/cgi-bin/department/list"]


def test_endpoints_wechatpy_lacks_post_the_documented_bodies(runtime):
    routes = {name: [OK] for name in (
        "externalcontact/batch/get_by_user", "externalcontact/transfer_customer", "externalcontact/transfer_result",
        "externalcontact/resigned/transfer_customer", "externalcontact/resigned/transfer_result",
        "externalcontact/get_unassigned_list", "externalcontact/groupchat/transfer",
        "externalcontact/groupchat/onjob_transfer", "externalcontact/get_groupmsg_list_v2",
        "externalcontact/get_groupmsg_task", "externalcontact/get_groupmsg_send_result",
        "externalcontact/add_msg_template", "externalcontact/get_corp_tag_list")}
    routes["auth/getuserinfo"] = [{**OK, "userid": "zhangsan"}]
    client, http = make(runtime, routes)
    ec, gc = client.external_contact, client.external_contact_group_chat
    ec.batch_get_by_user(["a", "b"], cursor="c1", limit=100)
    ec.transfer_customer("a", "b", ["wm1"], "你好")
    ec.transfer_result("a", "b", cursor="c2")
    ec.resigned_transfer_customer("a", "b", ["wm1"])
    ec.resigned_transfer_result("a", "b")
    ec.get_unassigned_list(page_size=500, cursor="c3")
    gc.transfer(["wr1"], "b")
    gc.onjob_transfer(["wr2"], "b")
    ec.get_groupmsg_list_v2("single", 1700000000, 1700086400, creator="a", cursor="c4")
    ec.get_groupmsg_task("msg1", cursor="c5")
    ec.get_groupmsg_send_result("msg1", "a")
    ec.add_msg_template({"chat_type": "single", "external_userid": ["wm1"], "text": {"content": "hi"}})
    ec.get_corp_tag_list(group_ids=["g1"])
    client.oauth.get_user_info("CODE")
    bodies = [(c["api"], c["body"] if c["method"] == "POST" else c["params"]) for c in http.calls[1:]]
    assert bodies == [
        ("externalcontact/batch/get_by_user", {"userid_list": ["a", "b"], "cursor": "c1", "limit": 100}),
        ("externalcontact/transfer_customer", {"handover_userid": "a", "takeover_userid": "b",
                                               "external_userid": ["wm1"], "transfer_success_msg": "你好"}),
        ("externalcontact/transfer_result", {"handover_userid": "a", "takeover_userid": "b", "cursor": "c2"}),
        ("externalcontact/resigned/transfer_customer", {"handover_userid": "a", "takeover_userid": "b",
                                                        "external_userid": ["wm1"]}),
        ("externalcontact/resigned/transfer_result", {"handover_userid": "a", "takeover_userid": "b"}),
        ("externalcontact/get_unassigned_list", {"page_size": 500, "cursor": "c3"}),
        ("externalcontact/groupchat/transfer", {"chat_id_list": ["wr1"], "new_owner": "b"}),
        ("externalcontact/groupchat/onjob_transfer", {"chat_id_list": ["wr2"], "new_owner": "b"}),
        ("externalcontact/get_groupmsg_list_v2", {"chat_type": "single", "start_time": 1700000000,
                                                  "end_time": 1700086400, "creator": "a", "filter_type": 2,
                                                  "limit": 100, "cursor": "c4"}),
        ("externalcontact/get_groupmsg_task", {"msgid": "msg1", "limit": 1000, "cursor": "c5"}),
        ("externalcontact/get_groupmsg_send_result", {"msgid": "msg1", "userid": "a", "limit": 1000}),
        ("externalcontact/add_msg_template", {"chat_type": "single", "external_userid": ["wm1"],
                                              "text": {"content": "hi"}}),
        ("externalcontact/get_corp_tag_list", {"group_id": ["g1"]}),
        ("auth/getuserinfo", {"code": "CODE", "access_token": "T1"}),
    ]


# ---------------------------------------------------------------- JS-SDK and OAuth


def test_jsapi_signature_official_vector():
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    expected = "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    assert sign_jsapi(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value") == expected
    assert sign_jsapi(ticket, "Wm3WZYTPz0wzccnW", "1414587457", "http://mp.weixin.qq.com?params=value#frag") == expected


def test_tickets_are_cached_per_corp_and_per_agent(runtime):
    routes = {"get_jsapi_ticket": [{**OK, "ticket": "CORP", "expires_in": 7200}],
              "ticket/get": [{**OK, "ticket": "AGENT-2", "expires_in": 7200}]}
    client, http = make(runtime, routes)
    for _ in range(3):
        client.jsapi.config_params("https://h5.example/p")
        client.jsapi.agent_config_params("https://h5.example/p")
    assert http.count("get_jsapi_ticket") == 1 and http.count("ticket/get") == 1
    assert next(c for c in http.calls if c["api"] == "ticket/get")["params"]["type"] == "agent_config"
    assert runtime.tokens.get("wecom:acme:ticket:corp") == "CORP"
    assert runtime.tokens.get("wecom:acme:ticket:agent:1000002") == "AGENT-2"
    other, other_http = make(runtime, {"ticket/get": [{**OK, "ticket": "AGENT-3", "expires_in": 7200}]},
                             agent_id="1000003")
    other.jsapi.agent_config_params("https://h5.example/p")
    assert other_http.count("ticket/get") == 1
    assert runtime.tokens.get("wecom:acme:ticket:agent:1000003") == "AGENT-3"
    assert runtime.tokens.get("wecom:acme:ticket:agent:1000002") == "AGENT-2"


def test_config_params_sign_with_the_right_ticket(runtime):
    routes = {"get_jsapi_ticket": [{**OK, "ticket": "CORP", "expires_in": 7200}],
              "ticket/get": [{**OK, "ticket": "AGENT", "expires_in": 7200}]}
    client, _ = make(runtime, routes)
    url = "https://h5.example/side?x=1#/chat"
    config = client.jsapi.config_params(url, nonce="n1", timestamp=1700000000)
    agent = client.jsapi.agent_config_params(url, nonce="n2", timestamp=1700000001)
    page = "https://h5.example/side?x=1"
    sha = lambda raw: hashlib.sha1(raw.encode()).hexdigest()  # noqa: E731
    assert config == {"beta": True, "appId": "wwacme", "timestamp": 1700000000, "nonceStr": "n1",
                      "signature": sha(f"jsapi_ticket=CORP&noncestr=n1&timestamp=1700000000&url={page}")}
    assert agent == {"corpid": "wwacme", "agentid": "1000002", "timestamp": 1700000001, "nonceStr": "n2",
                     "signature": sha(f"jsapi_ticket=AGENT&noncestr=n2&timestamp=1700000001&url={page}")}


def test_oauth_authorize_url(runtime):
    client, _ = make(runtime)
    url = client.oauth.authorize_url("https://scrm.example/h5/login?next=/a b", "st4te")
    assert url == ("https://open.weixin.qq.com/connect/oauth2/authorize?appid=wwacme"
                   "&redirect_uri=https%3A%2F%2Fscrm.example%2Fh5%2Flogin%3Fnext%3D%2Fa%20b&response_type=code"
                   "&scope=snsapi_base&state=st4te&agentid=1000002#wechat_redirect")
    sandboxed, _ = make(runtime, api_base="http://127.0.0.1:5000/sandbox/wecom")
    url = sandboxed.oauth.authorize_url("https://scrm.example/cb", "s")
    parts = urlsplit(url)
    assert url.startswith("http://127.0.0.1:5000/sandbox/wecom/connect/oauth2/authorize?")
    assert parse_qs(parts.query)["agentid"] == ["1000002"] and parts.fragment == "wechat_redirect"


# ---------------------------------------------------------------- secrets


def test_secrets_stay_out_of_repr_and_urllib3_logs(runtime, caplog):
    client, _ = make(runtime)
    assert SECRET not in repr(client)
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        logging.getLogger("urllib3.connectionpool").debug(
            '%s://%s:%s "%s %s %s" %s %s', "https", "qyapi.weixin.qq.com", 443, "GET",
            f"/cgi-bin/gettoken?corpid=wwacme&corpsecret={SECRET}", "HTTP/1.1", 200, 80)
        logging.getLogger("urllib3.connectionpool").debug("GET /cgi-bin/user/get?access_token=TOKENVALUE&userid=a")
        logging.getLogger("urllib3.connectionpool").debug("%(url)s", {"url": "/cgi-bin/x?access_token=TOKENVALUE"})
    text = caplog.text
    assert SECRET not in text and "TOKENVALUE" not in text and "corpsecret=***" in text
