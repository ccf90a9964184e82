"""Tokens, frequency limits and concurrency limits of the WeCom sandbox."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from .conftest import WeComCaller


def _gettoken(sandbox, **params):
    return requests.get(f"{sandbox.wecom_base}/cgi-bin/gettoken", params=params, timeout=5).json()


def test_gettoken_rejects_bad_corpid_and_secret(sandbox, corp):
    assert _gettoken(sandbox, corpid="wwnope", corpsecret=corp.secret)["errcode"] == 40013
    assert _gettoken(sandbox, corpid=corp.corp_id, corpsecret=corp.secret + "x")["errcode"] == 40001
    assert _gettoken(sandbox, corpsecret=corp.secret)["errcode"] == 41002
    body = _gettoken(sandbox, corpid=corp.corp_id, corpsecret=corp.secret)
    assert body["errcode"] == 0 and body["expires_in"] == 7200 and len(body["access_token"]) > 32


def test_same_token_until_it_expires_then_42001(sandbox):
    corp = sandbox.create_corp("wecom", token_ttl=60)
    first = _gettoken(sandbox, corpid=corp.corp_id, corpsecret=corp.secret)
    again = _gettoken(sandbox, corpid=corp.corp_id, corpsecret=corp.secret)
    assert again["access_token"] == first["access_token"] and first["expires_in"] == 60
    api = f"{sandbox.wecom_base}/cgi-bin/department/list"
    assert requests.get(api, params={"access_token": first["access_token"]}).json()["errcode"] == 0
    sandbox.clock.advance(61)
    assert requests.get(api, params={"access_token": first["access_token"]}).json()["errcode"] == 42001
    fresh = _gettoken(sandbox, corpid=corp.corp_id, corpsecret=corp.secret)["access_token"]
    assert fresh != first["access_token"]
    assert requests.get(api, params={"access_token": fresh}).json()["errcode"] == 0
    assert sandbox.control.calls(corp.corp_id)["gettoken"] == 3


def test_garbage_or_missing_token(sandbox, corp):
    api = f"{sandbox.wecom_base}/cgi-bin/user/get"
    assert requests.get(api, params={"access_token": "garbage", "userid": "E00001"}).json()["errcode"] == 40014
    assert requests.get(api, params={"userid": "E00001"}).json()["errcode"] == 41001


def test_early_invalidation_scenario(sandbox, wecom):
    assert wecom.get("department/list")["errcode"] == 0
    sandbox.play(wecom.corp, "expire_tokens")
    assert wecom.get("department/list")["errcode"] == 42001


def test_wrong_http_method(wecom):
    assert wecom.get("externalcontact/remark")["errcode"] == 43002
    assert wecom.post("user/get", {"userid": "E00001"})["errcode"] == 43001


def test_per_api_budget_per_minute_gives_45009(sandbox, wecom):
    sandbox.control.set_limits(wecom.corp.corp_id, {"user/get": 3})
    answers = [wecom.get("user/get", userid="E00001")["errcode"] for _ in range(4)]
    assert answers == [0, 0, 0, 45009]
    assert wecom.get("department/list")["errcode"] == 0  # budgets are per API
    sandbox.clock.advance(60)
    assert wecom.get("user/get", userid="E00001")["errcode"] == 0


def test_45009_blocks_the_api_for_60_seconds_not_until_the_next_minute(sandbox, wecom):
    """Doc 90312: the block lasts the window's length from the trip; a new clock minute does not lift it."""
    sandbox.control.set_limits(wecom.corp.corp_id, {"user/get": 1})
    sandbox.clock.advance(60 - sandbox.clock.time() % 60 + 50)  # 50 s into a minute
    assert wecom.get("user/get", userid="E00001")["errcode"] == 0
    assert wecom.get("user/get", userid="E00001")["errcode"] == 45009
    sandbox.clock.advance(20)  # a new minute, 20 s after the trip
    assert wecom.get("user/get", userid="E00001")["errcode"] == 45009
    sandbox.clock.advance(41)
    assert wecom.get("user/get", userid="E00001")["errcode"] == 0


def test_more_than_five_parallel_edits_get_45033(sandbox, wecom):
    # held long enough that all twelve arrive while the first five still hold their slots, even on a busy machine
    sandbox.control.set_limits(wecom.corp.corp_id, {"edit_service_time": 2.0})
    pairs = [(f["userid"], f["external_userid"]) for f in _follows(wecom)[:12]]
    start = threading.Barrier(len(pairs))

    def edit(pair, together=True):
        caller = WeComCaller(sandbox, wecom.corp)
        if together:  # every request in flight at once, each held for the service time
            start.wait(5)
        return caller.post("externalcontact/remark", {"userid": pair[0], "external_userid": pair[1],
                                                      "remark": "并发"})["errcode"]

    with ThreadPoolExecutor(len(pairs)) as pool:
        codes = list(pool.map(edit, pairs))
    assert codes.count(45033) >= 1
    assert 1 <= codes.count(0) <= 5
    assert set(codes) <= {0, 45033}
    # one at a time never trips the limit
    sandbox.control.set_limits(wecom.corp.corp_id, {"edit_service_time": 0})
    assert [edit(p, together=False) for p in pairs[:6]] == [0] * 6


def _follows(wecom):
    depts = [d["id"] for d in wecom.ok("get", "department/list")["department"]]
    users = sorted({u["userid"] for d in depts for u in wecom.ok("get", "user/simplelist", department_id=d)["userlist"]})
    body = wecom.ok("post", "externalcontact/batch/get_by_user", {"userid_list": users, "limit": 100})
    return [{"userid": item["follow_info"]["userid"], "external_userid": item["external_contact"]["external_userid"]}
            for item in body["external_contact_list"]]
