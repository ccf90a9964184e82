"""Scenarios: state changes on the sandbox plus signed, encrypted callbacks that the WeCom connector reads."""
from __future__ import annotations

import pytest
import requests

from connectors.wecom.crypto import WeComCrypto
from connectors.wecom.events import parse
from scrm.events import (CustomerAdded, CustomerEdited, CustomerRemovedByCustomer, CustomerRemovedByEmployee,
                         EmployeeChanged, GroupChatChanged, TagChanged, TransferFailed)


@pytest.fixture
def wired(sandbox, callback_receiver):
    """A seeded corp whose callback URL is the local receiver."""
    corp = sandbox.create_corp("wecom", callback_url=callback_receiver.url)
    sandbox.seed(corp, employees=5, customers=40, rng=3)
    return corp


def _events(corp, received):
    crypto = WeComCrypto(corp.callback_token, corp.callback_aes_key, corp.corp_id)
    return [parse(crypto.decrypt_body(r.body, r.args["msg_signature"], r.args["timestamp"], r.args["nonce"])).event
            for r in received]


def _token(sandbox, corp):
    return sandbox.wecom_token(corp)


def test_scan_delivers_add_events_with_state_and_a_working_welcome_code(sandbox, wired, callback_receiver):
    out = sandbox.play(wired, "scan", customers=30, codes=3, over=0, wait=True, rng=5)
    assert out["callbacks"] == 30 and out["delivered"] == 30 and sum(out["result"]["per_way"].values()) == 30
    events = _events(wired, callback_receiver.wait_for(30))
    assert all(isinstance(e, CustomerAdded) and not e.half for e in events)
    assert {e.state for e in events} <= {"sandbox_1", "sandbox_2", "sandbox_3"} and len({e.state for e in events}) > 1
    assert all(r.headers["Content-Type"] == "text/xml" for r in callback_receiver.received)
    latest = events[-1]
    reply = requests.post(f"{sandbox.wecom_base}/cgi-bin/externalcontact/send_welcome_msg",
                          params={"access_token": _token(sandbox, wired)},
                          json={"welcome_code": latest.welcome_code, "text": {"content": "欢迎"}}).json()
    assert reply["errcode"] == 0
    follows = requests.get(f"{sandbox.wecom_base}/cgi-bin/externalcontact/get",
                           params={"access_token": _token(sandbox, wired),
                                   "external_userid": latest.customer_id}).json()
    assert follows["follow_user"][0]["state"] == latest.state
    assert len(sandbox.control.deliveries(wired.corp_id)) == 30


def test_scan_paces_over_the_given_seconds(sandbox, wired):
    gaps = []
    sandbox.play(wired, "scan", customers=5, codes=1, over=10, sleep=gaps.append)
    assert gaps == [2.0] * 4


def test_contact_way_without_skip_verify_gives_a_half_add(sandbox, wired, callback_receiver):
    token = _token(sandbox, wired)
    way = requests.post(f"{sandbox.wecom_base}/cgi-bin/externalcontact/add_contact_way", params={"access_token": token},
                        json={"type": 1, "scene": 2, "user": ["E00001"], "skip_verify": False, "state": "s"}).json()
    sandbox.play(wired, "scan_one", config_id=way["config_id"], wait=True)
    (event,) = _events(wired, callback_receiver.wait_for(1))
    assert event.half and event.employee_id == "E00001" and event.state == "s"


def test_scan_page_plays_one_scan(sandbox, wired, callback_receiver):
    token = _token(sandbox, wired)
    way = requests.post(f"{sandbox.wecom_base}/cgi-bin/externalcontact/add_contact_way", params={"access_token": token},
                        json={"type": 1, "scene": 2, "user": ["E00002"], "state": "page"}).json()
    scan_url = way["qr_code"].replace("/qr/", "/c/").removesuffix(".png")
    assert "添加" in requests.get(scan_url, timeout=5).text
    played = requests.post(scan_url, data={"name": "🌸小美"}, timeout=5).json()
    assert played["result"]["state"] == "page"
    (event,) = _events(wired, callback_receiver.wait_for(1))
    assert event.customer_id == played["result"]["external_userid"]


def test_churn_and_removals(sandbox, wired, callback_receiver):
    out = sandbox.play(wired, "churn", events=12, rng=1, wait=True)
    assert sum(out["result"].values()) == 12 and out["delivered"] == 12
    kinds = {type(e) for e in _events(wired, callback_receiver.wait_for(12))}
    assert kinds <= {CustomerRemovedByCustomer, CustomerRemovedByEmployee, CustomerEdited} and len(kinds) >= 2


def test_employee_leaving(sandbox, wired, callback_receiver):
    out = sandbox.play(wired, "leave", userid="E00002", wait=True)
    (event,) = _events(wired, callback_receiver.wait_for(1))
    assert isinstance(event, EmployeeChanged) and event.change == "departed" and "E00002" in event.user_ids
    assert out["result"]["unassigned"] > 0


def test_console_tag_edits_and_group_chats(sandbox, wired, callback_receiver):
    created = sandbox.play(wired, "tag_edit", change="create", name="直播间")["result"]
    sandbox.play(wired, "tag_edit", change="update", tag_id=created["tag_id"], name="直播间2")
    sandbox.play(wired, "tag_edit", change="delete", tag_id=created["tag_id"])
    chat = sandbox.play(wired, "group_chat", change="create")["result"]
    sandbox.play(wired, "group_chat", change="update", chat_id=chat["chat_id"], members=3, wait=True)
    events = _events(wired, callback_receiver.wait_for(5))
    tags = [e for e in events if isinstance(e, TagChanged)]
    chats = [e for e in events if isinstance(e, GroupChatChanged)]
    assert [t.change for t in tags] == ["create", "update", "delete"] and len(chats) == 2
    update = next(r for r in (_plain(wired, x) for x in callback_receiver.received) if "add_member" in r)
    assert "<MemChangeCnt>3</MemChangeCnt>" in update and "<Item>" in update


def _plain(corp, received):
    crypto = WeComCrypto(corp.callback_token, corp.callback_aes_key, corp.corp_id)
    return crypto.decrypt_body(received.body, received.args["msg_signature"], received.args["timestamp"],
                               received.args["nonce"])


def test_refused_transfer_calls_back(sandbox, wired, callback_receiver):
    token = _token(sandbox, wired)
    ext = requests.get(f"{sandbox.wecom_base}/cgi-bin/externalcontact/list",
                       params={"access_token": token, "userid": "E00001"}).json()["external_userid"][0]
    requests.post(f"{sandbox.wecom_base}/cgi-bin/externalcontact/transfer_customer", params={"access_token": token},
                  json={"handover_userid": "E00001", "takeover_userid": "E00003", "external_userid": [ext]})
    sandbox.play(wired, "refuse_transfer", external_userid=ext, wait=True)
    (event,) = _events(wired, callback_receiver.wait_for(1))
    assert isinstance(event, TransferFailed) and event.reason == "customer_refused"
    assert (event.employee_id, event.customer_id) == ("E00003", ext)


def test_unreachable_callback_is_retried_and_logged(sandbox, wired, callback_receiver):
    callback_receiver.statuses = [500, 502]
    out = sandbox.play(wired, "join", wait=True)
    assert out["delivered"] == 1 and out["attempts"] == 3 and sandbox.sleeps == [1.0, 2.0]
    assert sandbox.control.deliveries(wired.corp_id)[0]["status_codes"] == [500, 502, 200]


def test_without_callback_url_state_still_changes(sandbox):
    corp = sandbox.create_corp("wecom")
    sandbox.seed(corp, employees=2, customers=5, rng=1)
    out = sandbox.play(corp, "leave", userid="E00001")
    assert out["callbacks"] == 0 and out["events"] == ["change_contact:delete_user"]


def test_unknown_scenario(sandbox):
    corp = sandbox.create_corp("wecom")
    with pytest.raises(ValueError, match="unknown scenario"):
        sandbox.play(corp, "dance")
