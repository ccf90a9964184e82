"""The DingTalk emulator's own rules and the callbacks it plays."""
import json

import requests

from connectors.dingtalk.crypto import DingTalkCrypto


def test_gettoken_legacy_and_v1_and_wrong_secret(sandbox):
    corp = sandbox.create_corp("dingtalk")
    base = sandbox.dingtalk_base
    legacy = requests.get(f"{base}/oapi/gettoken", params={"appkey": corp.app_key, "appsecret": corp.secret}).json()
    assert legacy["errcode"] == 0 and legacy["expires_in"] == 7200
    v1 = requests.post(f"{base}/api/v1.0/oauth2/accessToken", json={"appKey": corp.app_key, "appSecret": corp.secret})
    assert v1.json()["accessToken"] == legacy["access_token"]  # the same token while it is valid
    bad = requests.post(f"{base}/api/v1.0/oauth2/accessToken", json={"appKey": corp.app_key, "appSecret": "x"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalidClientIdOrSecret"
    assert requests.get(f"{base}/oapi/gettoken", params={"appkey": corp.app_key, "appsecret": "x"}).json()[
        "errcode"] == 40089


def test_expired_and_garbage_tokens(sandbox):
    corp = sandbox.create_corp("dingtalk", token_ttl=60)
    sandbox.seed(corp, employees=1, customers=0)
    base = sandbox.dingtalk_base
    token = requests.get(f"{base}/oapi/gettoken", params={"appkey": corp.app_key, "appsecret": corp.secret}).json()[
        "access_token"]
    call = lambda t: requests.post(f"{base}/oapi/topapi/v2/department/listsub", params={"access_token": t},  # noqa
                                   json={"dept_id": 1}).json()
    assert call(token)["errcode"] == 0
    assert call("garbage")["errcode"] == 40014
    sandbox.clock.advance(61)
    assert call(token)["errcode"] == 42001
    v1 = requests.post(f"{base}/api/v1.0/oauth2/jsapiTickets", headers={"x-acs-dingtalk-access-token": token})
    assert v1.status_code == 401 and v1.json()["code"] == "InvalidAuthentication"


def test_played_departure_is_delivered_encrypted_for_the_app_key_and_retried(sandbox, callback_receiver):
    corp = sandbox.create_corp("dingtalk")
    sandbox.seed(corp, employees=2, customers=0)
    receiver = callback_receiver
    sandbox.control.update_corp(corp.corp_id, callback_url=receiver.url)
    crypto = DingTalkCrypto(corp.callback_token, corp.callback_aes_key, corp.app_key)
    receiver.statuses = [500]  # the first attempt fails: the host retries
    receiver.body = json.dumps(crypto.reply("success")).encode()
    played = sandbox.play(corp, "employee_leaves", wait=True)
    assert played["delivered"] == 1 and played["attempts"] == 2
    first, second = receiver.received[:2]
    events = []
    for req in (first, second):
        body = json.loads(req.body)
        events.append(json.loads(crypto.decrypt(req.args["msg_signature"], req.args["timestamp"],
                                                req.args["nonce"], body["encrypt"])))
    assert events[0]["EventType"] == "user_leave_org" and events[0]["UserId"] == [played["result"]["userid"]]
    assert events[0]["eventId"] == events[1]["eventId"]  # a retry is the same event
    assert sandbox.sleeps[:1] == [10]  # DingTalk retries after 10 s (then 30 s)
