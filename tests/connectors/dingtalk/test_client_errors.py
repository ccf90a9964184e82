"""DingTalk's answers to typed errors: errcode 88's sub_code, the rate codes the retry layer knows."""
import pytest

from connectors.dingtalk.client import DingTalkClient, error_for
from connectors.runtime import make_runtime
from scrm.host import CorpAccess, HostError, HostPermissionError, HostRateLimited


class _Answer:
    status_code = 200
    headers = {"Content-Type": "application/json"}

    def __init__(self, body: dict):
        self.body = body

    def json(self) -> dict:
        return self.body


class _Http:
    """Answers each request with the next body and records the access_token it was sent with."""

    def __init__(self, *bodies: dict):
        self.bodies, self.tokens = list(bodies), []

    def request(self, method, url, params=None, headers=None, data=None, timeout=None):
        if url.endswith("/v1.0/oauth2/accessToken"):
            return _Answer({"accessToken": f"t{len(self.tokens)}", "expireIn": 7200})
        self.tokens.append(params["access_token"])
        return _Answer(self.bodies.pop(0))


def client(http: _Http) -> DingTalkClient:
    access = CorpAccess(corp_key="k", platform="dingtalk", corp_id="ding1", agent_id="1", secret="s", app_key="a",
                        api_base="http://dingtalk.invalid")
    return DingTalkClient(access, make_runtime(sleep=lambda s: None), http=http)


@pytest.mark.parametrize("code", ["Forbidden.AccessDenied.QpmLimitForAppkeyAndApi", 90001, 90002, 90003, 90004,
                                  90005, 90006, 90018])
def test_rate_codes_are_rate_limits(code):
    assert isinstance(error_for(code, "too often", "api"), HostRateLimited)


@pytest.mark.parametrize("wrapped", [
    {"errcode": 88, "errmsg": "ding talk error[subcode=40014,submsg=不合法的access_token]", "sub_code": "40014",
     "sub_msg": "不合法的access_token"},
    {"errcode": 88, "errmsg": "ding talk error[subcode=40014,submsg=不合法的access_token]"},
    {"errcode": 88, "errmsg": "鉴权异常", "subCode": 42001},
])
def test_a_token_error_inside_88_refreshes_the_token_and_retries_once(wrapped):
    http = _Http(wrapped, {"errcode": 0, "result": {"userid": "u1"}})
    assert client(http).get_user("u1") == {"userid": "u1"}
    assert len(http.tokens) == 2 and http.tokens[0] != http.tokens[1]


def test_88_with_another_sub_code_is_that_error_and_without_one_a_permission_error():
    with pytest.raises(HostRateLimited) as err:
        client(_Http({"errcode": 88, "errmsg": "x", "sub_code": "90018", "sub_msg": "qps"}, *[
            {"errcode": 88, "errmsg": "x", "sub_code": "90018"}] * 5)).get_user("u1")
    assert err.value.errcode == 90018
    with pytest.raises(HostPermissionError) as err:
        client(_Http({"errcode": 88, "errmsg": "鉴权异常"})).get_user("u1")
    assert err.value.errcode == 88
    with pytest.raises(HostError) as err:
        client(_Http({"errcode": 88, "errmsg": "x", "sub_code": "isv.invalid"})).get_user("u1")
    assert err.value.errcode == 88
