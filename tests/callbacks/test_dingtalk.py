"""POST /callbacks/dingtalk/<corp_key> (HTTP push) and the Stream-mode handler: the same inbox pipeline."""
import json
import secrets
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from connectors.dingtalk.crypto import DingTalkCrypto
from scrm.extensions import db
from scrm.models import Employee, InboxEvent
from scrm.services.corps import register_corp

TOKEN, AES, APP_KEY = "dtToken9", "Qw3rtyUiop4sdfGhjk1zXcvbnm0qWeRtYuIoPaSdFgH", "dingappkey001"


@pytest.fixture
def corp(app, fake_host):
    fake_host.add_employee("u100", "钉钉员工")
    return register_corp(platform="dingtalk", name="钉钉测试", corp_id="dingcorp01", app_key=APP_KEY,
                         agent_id="9001", secret="s", callback_token=TOKEN, callback_aes_key=AES)


def signed(event: dict, owner=APP_KEY):
    crypto = DingTalkCrypto(TOKEN, AES, owner)
    ts, nonce = str(int(time.time() * 1000)), secrets.token_hex(4)
    encrypt, sig = crypto.encrypt(json.dumps(event), nonce, ts)
    return json.dumps({"encrypt": encrypt}).encode(), {"msg_signature": sig, "timestamp": ts, "nonce": nonce}


def post(client, corp, body, query):
    return client.post(f"/callbacks/dingtalk/{corp.corp_key}", data=body, query_string=query,
                       content_type="application/json")


def leave(event_id="ev-1", users=("u100",)):
    return {"EventType": "user_leave_org", "eventId": event_id, "CorpId": "dingcorp01",
            "TimeStamp": "1700000000000", "UserId": list(users)}


def assert_encrypted_success(response, owner=APP_KEY):
    assert response.status_code == 200
    reply = response.json
    crypto = DingTalkCrypto(TOKEN, AES, owner)  # sealed for exactly this owner key
    assert crypto.decrypt(reply["msg_signature"], reply["timeStamp"], reply["nonce"], reply["encrypt"]) == "success"


def rows():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(InboxEvent))


def test_check_url_answers_encrypted_success_and_stores_nothing(client, corp):
    r = post(client, corp, *signed({"EventType": "check_url"}))
    assert_encrypted_success(r)
    assert rows() == 0


def test_a_departure_is_stored_once_and_marks_the_employee(client, corp):
    for _ in range(3):  # first delivery and the host's retries after 10 s and 30 s
        assert_encrypted_success(post(client, corp, *signed(leave())))
    assert rows() == 1
    assert db.session.scalar(select(Employee.status).where(Employee.host_id == "u100")) == "departed"


def test_the_legacy_signature_parameter_name_is_accepted(client, corp):
    body, query = signed(leave("ev-2"))
    query["signature"] = query.pop("msg_signature")
    assert_encrypted_success(post(client, corp, body, query))


def test_a_message_for_another_app_is_refused(client, corp):
    r = post(client, corp, *signed(leave("ev-3"), owner="dingOTHERAPP"))
    assert r.status_code == 403 and rows() == 0


def test_legacy_corp_id_owner_key_is_accepted_when_configured(client, corp):
    corp.options = {"callback_owner_key": "either"}
    db.session.commit()
    # the reply is sealed for the key the event came with: the corp id here, the app key otherwise
    assert_encrypted_success(post(client, corp, *signed(leave("ev-4"), owner="dingcorp01")), owner="dingcorp01")
    assert_encrypted_success(post(client, corp, *signed({"EventType": "check_url"}, owner="dingcorp01")),
                             owner="dingcorp01")
    assert_encrypted_success(post(client, corp, *signed(leave("ev-4b"))), owner=APP_KEY)


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"encrypt": 5}', b"{}"])
def test_malformed_bodies_are_400(client, corp, body):
    r = post(client, corp, body, {"msg_signature": "a" * 40, "timestamp": "1", "nonce": "n"})
    assert r.status_code in (400, 403) and rows() == 0


def test_bad_signature_is_403(client, corp):
    body, query = signed(leave("ev-5"))
    assert post(client, corp, body, {**query, "msg_signature": "f" * 40}).status_code == 403


def test_stream_events_feed_the_same_inbox(app, corp):
    from dingtalk_stream import AckMessage

    from callbacks.stream import InboxEventHandler

    handler = InboxEventHandler(app, corp.corp_key)
    event = SimpleNamespace(
        headers=SimpleNamespace(event_type="user_leave_org", event_id="stream-ev-1", event_born_time=1700000000000),
        data=json.dumps({"userId": ["u100"], "timeStamp": "1700000000000"}))
    assert handler.store(event) == (AckMessage.STATUS_OK, "OK")
    assert handler.store(event) == (AckMessage.STATUS_OK, "OK")  # a redelivery is acknowledged, not stored twice
    assert rows() == 1
    assert db.session.scalar(select(Employee.status).where(Employee.host_id == "u100")) == "departed"


def test_stream_events_are_not_acknowledged_when_not_stored(make_app, corp):
    from dingtalk_stream import AckMessage

    from callbacks.stream import InboxEventHandler

    down = make_app(DATABASE_URL="mysql+pymysql://u:p@127.0.0.1:1/none?connect_timeout=1")
    event = SimpleNamespace(headers=SimpleNamespace(event_type="user_leave_org", event_id="stream-ev-2",
                                                    event_born_time=None), data={"userId": ["u100"]})
    code, _ = InboxEventHandler(down, corp.corp_key).store(event)
    assert code == AckMessage.STATUS_SYSTEM_EXCEPTION


def test_stream_acks_say_success_once_stored_and_later_when_not(make_app, app, corp):
    """DingTalk's EventAckStatus: LATER asks for the event again; the frame is code 200 with data.status."""
    import asyncio

    from callbacks.stream import InboxEventHandler

    def frame(event_id):
        return SimpleNamespace(headers=SimpleNamespace(event_type="user_leave_org", event_id=event_id,
                                                       event_born_time=None, message_id=f"m-{event_id}"),
                               data={"userId": ["u100"]})

    stored = asyncio.run(InboxEventHandler(app, corp.corp_key).raw_process(frame("stream-ev-3"))).to_dict()
    assert stored["code"] == 200 and stored["headers"]["messageId"] == "m-stream-ev-3"
    assert json.loads(stored["data"])["status"] == "SUCCESS"
    down = make_app(DATABASE_URL="mysql+pymysql://u:p@127.0.0.1:1/none?connect_timeout=1")
    later = asyncio.run(InboxEventHandler(down, corp.corp_key).raw_process(frame("stream-ev-4"))).to_dict()
    assert later["code"] == 200 and json.loads(later["data"]) == {"status": "LATER", "message": "not stored"}
