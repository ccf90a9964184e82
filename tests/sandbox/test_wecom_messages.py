"""Mass messages, app messages, OAuth login and JS-SDK tickets of the WeCom sandbox."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests


def test_mass_message_lifecycle(sandbox, wecom):
    mine = wecom.ok("get", "externalcontact/list", userid="E00001")["external_userid"]
    created = wecom.ok("post", "externalcontact/add_msg_template",
                       {"chat_type": "single", "sender": "E00001", "external_userid": mine[:3] + ["wmstranger"],
                        "text": {"content": "新品上市，欢迎咨询"}})
    msgid = created["msgid"]
    assert created["fail_list"] == ["wmstranger"]
    now = int(sandbox.clock.time())
    listed = wecom.ok("post", "externalcontact/get_groupmsg_list_v2",
                      {"chat_type": "single", "start_time": now - 3600, "end_time": now + 60})["group_msg_list"]
    assert [m["msgid"] for m in listed] == [msgid] and listed[0]["text"]["content"] == "新品上市，欢迎咨询"
    span = wecom.post("externalcontact/get_groupmsg_list_v2",
                      {"chat_type": "single", "start_time": now - 40 * 86400, "end_time": now})
    assert span["errcode"] == 40058
    tasks = wecom.ok("post", "externalcontact/get_groupmsg_task", {"msgid": msgid})["task_list"]
    assert tasks == [{"userid": "E00001", "status": 0}]
    sandbox.play(wecom.corp, "confirm_mass_message", msgid=msgid)
    tasks = wecom.ok("post", "externalcontact/get_groupmsg_task", {"msgid": msgid})["task_list"]
    assert tasks[0]["status"] == 2 and tasks[0]["send_time"] >= now
    sent = wecom.ok("post", "externalcontact/get_groupmsg_send_result",
                    {"msgid": msgid, "userid": "E00001", "limit": 2})
    assert len(sent["send_list"]) == 2 and sent["next_cursor"]
    rest = wecom.ok("post", "externalcontact/get_groupmsg_send_result",
                    {"msgid": msgid, "userid": "E00001", "cursor": sent["next_cursor"]})
    assert {s["external_userid"] for s in sent["send_list"] + rest["send_list"]} == set(mine[:3])
    assert {s["status"] for s in sent["send_list"] + rest["send_list"]} == {1}
    assert wecom.post("externalcontact/get_groupmsg_task", {"msgid": "nope"})["errcode"] == 41047
    nobody = wecom.post("externalcontact/add_msg_template", {"sender": "E00001", "external_userid": ["wmx"],
                                                             "text": {"content": "x"}})
    assert nobody["errcode"] == 41048


def test_app_message(sandbox, wecom):
    out = wecom.ok("post", "message/send", {"touser": "E00001|ghost", "msgtype": "text",
                                            "agentid": int(wecom.corp.agent_id), "text": {"content": "待办提醒"}})
    assert out["invaliduser"] == "ghost"
    assert wecom.post("message/send", {"touser": "E00001", "msgtype": "text", "agentid": 1,
                                       "text": {"content": "x"}})["errcode"] == 40056


def test_oauth_code_is_single_use_and_short_lived(sandbox, wecom):
    authorize = f"{sandbox.wecom_base}/connect/oauth2/authorize"
    params = {"appid": wecom.corp.corp_id, "redirect_uri": "https://scrm.test/h5/?x=1", "response_type": "code",
              "scope": "snsapi_base", "state": "s1", "agentid": wecom.corp.agent_id}
    page = requests.get(authorize, params=params, timeout=5)
    assert page.status_code == 200 and "E00001" in page.text
    hop = requests.get(authorize, params={**params, "userid": "E00002"}, allow_redirects=False, timeout=5)
    assert hop.status_code == 302
    location = urlsplit(hop.headers["Location"])
    query = parse_qs(location.query)
    assert location.netloc == "scrm.test" and query["state"] == ["s1"] and query["x"] == ["1"]
    code = query["code"][0]
    assert wecom.ok("get", "auth/getuserinfo", code=code)["userid"] == "E00002"
    assert wecom.get("auth/getuserinfo", code=code)["errcode"] == 40029
    late = sandbox.play(wecom.corp, "login", userid="E00003")["result"]["code"]
    sandbox.clock.advance(301)
    fresh = sandbox.wecom_token(wecom.corp)  # the old token is still valid; no matter
    assert wecom.get("auth/getuserinfo", code=late, access_token=fresh)["errcode"] == 40029
    guest = sandbox.play(wecom.corp, "login", external_userid="wmguest")["result"]["code"]
    assert wecom.ok("get", "auth/getuserinfo", code=guest)["external_userid"] == "wmguest"
    assert requests.get(authorize, params={**params, "appid": "wwnope"}, timeout=5).status_code == 400


def test_jsapi_tickets_per_kind(wecom):
    corp_ticket = wecom.ok("get", "get_jsapi_ticket")
    agent_ticket = wecom.ok("get", "ticket/get", type="agent_config")
    assert corp_ticket["ticket"] != agent_ticket["ticket"] and corp_ticket["expires_in"] == 7200
    assert wecom.ok("get", "get_jsapi_ticket")["ticket"] == corp_ticket["ticket"]
    assert wecom.get("ticket/get", type="other")["errcode"] == 40058
    # a ticket is not an access token
    assert wecom.get("department/list", access_token=corp_ticket["ticket"])["errcode"] == 40014
