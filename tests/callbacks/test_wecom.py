"""POST/GET /callbacks/wecom/<corp_key>: verify, decrypt, store, acknowledge; and every bad input."""
import base64
import secrets
import time

import pytest
from sqlalchemy import func, select

from connectors.wecom.crypto import WeComCrypto
from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.models import InboxEvent, Relationship
from scrm.services.corps import register_corp
from tests import wecom_payloads as wx

TOKEN, AES = "CbToken42", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


@pytest.fixture
def corp(app, fake_host):
    fake_host.add_employee("zhangsan", "张三")
    return register_corp(platform="wecom", name="测试", corp_id="wwcorp01", agent_id="1000002", secret="s",
                         callback_token=TOKEN, callback_aes_key=AES)


def signed(payload: str, corp_id="wwcorp01", token=TOKEN, aes=AES):
    crypto = WeComCrypto(token, aes, corp_id)
    ts, nonce = str(int(time.time())), secrets.token_hex(5)
    body, sig = crypto.signed_envelope(payload, nonce, ts, agent_id="1000002")
    return body, {"msg_signature": sig, "timestamp": ts, "nonce": nonce}


def post(client, corp, body, query):
    return client.post(f"/callbacks/wecom/{corp.corp_key}", data=body, query_string=query,
                       content_type="text/xml")


def rows():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(InboxEvent))


def test_url_verification_echoes_the_plaintext(client, corp):
    crypto = WeComCrypto(TOKEN, AES, "wwcorp01")
    echostr, sig = crypto.encrypt("5927782489442352469", "nonce1", "1411443780")
    url = (f"/callbacks/wecom/{corp.corp_key}?msg_signature={sig}&timestamp=1411443780&nonce=nonce1"
           f"&echostr={echostr.replace('+', '%2B').replace('/', '%2F').replace('=', '%3D')}")
    r = client.get(url)
    assert r.status_code == 200 and r.data == b"5927782489442352469"
    assert r.mimetype == "text/plain"


def test_an_add_event_is_stored_acknowledged_and_processed(client, corp, fake_host):
    fake_host.add_friend("zhangsan", "wm001", name="小明")
    r = post(client, corp, *signed(wx.added("zhangsan", "wm001", state="s1")))
    assert r.status_code == 200 and r.data == b""
    row = db.session.scalar(select(InboxEvent))
    assert (row.status, row.event_type) == ("done", "change_external_contact/add_external_contact")
    assert db.session.scalar(select(Relationship)).status == "active"


def test_a_retry_is_acknowledged_and_not_processed_again(client, corp, fake_host):
    fake_host.add_friend("zhangsan", "wm001")
    payload = wx.added("zhangsan", "wm001", at=1700000000)
    for _ in range(3):  # the host re-encrypts each retry with a fresh nonce
        assert post(client, corp, *signed(payload)).status_code == 200
    assert rows() == 1 and len(fake_host.called("get_customer")) == 1


def test_unknown_events_are_acknowledged_and_kept(client, corp):
    assert post(client, corp, *signed(wx.unknown())).status_code == 200
    assert db.session.scalar(select(InboxEvent.status)) == "ignored"


@pytest.mark.parametrize("mutate, status", [
    (lambda b, q: (b, {**q, "msg_signature": "0" * 40}), 403),
    (lambda b, q: (b, {k: v for k, v in q.items() if k != "msg_signature"}), 403),
    (lambda b, q: (b, {**q, "timestamp": str(int(q["timestamp"]) + 1)}), 403),
])
def test_bad_signatures_are_refused(client, corp, mutate, status):
    body, query = mutate(*signed(wx.added("zhangsan", "wm001")))
    assert post(client, corp, body, query).status_code == status
    assert rows() == 0


def test_another_corps_message_is_refused(client, corp):
    r = post(client, corp, *signed(wx.added("zhangsan", "wm001"), corp_id="wwOTHER"))
    assert r.status_code == 403 and r.json == {"error": "receive_id"} and rows() == 0


def _with_encrypt(corp, encrypt: str):
    crypto = WeComCrypto(TOKEN, AES, "wwcorp01")
    body = f"<xml><ToUserName><![CDATA[wwcorp01]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return body.encode(), {"msg_signature": crypto.signature("1", "n", encrypt), "timestamp": "1", "nonce": "n"}


@pytest.mark.parametrize("encrypt", ["not base64 !!!", base64.b64encode(b"short").decode(),
                                     base64.b64encode(secrets.token_bytes(64)).decode()])
def test_malformed_ciphertext_is_400(client, corp, encrypt):
    assert post(client, corp, *_with_encrypt(corp, encrypt)).status_code == 400
    assert rows() == 0


@pytest.mark.parametrize("body", [b"<xml><Encrypt>", b"not xml at all", b"<xml><Nothing/></xml>",
                                  b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>'])
def test_malformed_or_hostile_envelopes_are_400(client, corp, body):
    r = post(client, corp, body, {"msg_signature": "a" * 40, "timestamp": "1", "nonce": "n"})
    assert r.status_code == 400 and rows() == 0


def test_hostile_xml_inside_a_valid_envelope_is_400(client, corp):
    billion = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
               "<xml><MsgType>&lol2;</MsgType></xml>")
    r = post(client, corp, *signed(billion))
    assert r.status_code == 400 and r.json == {"error": "xml_entities"} and rows() == 0


def test_truncated_payload_xml_is_400(client, corp):
    assert post(client, corp, *signed(wx.added("zhangsan", "wm001")[:-20])).status_code == 400


def test_a_body_over_one_mebibyte_is_413(client, corp):
    r = post(client, corp, b"<xml>" + b"a" * (1024 * 1024) + b"</xml>", {"msg_signature": "x"})
    assert r.status_code == 413 and rows() == 0


def test_unknown_corp_key_is_404_and_wrong_platform_too(client, corp):
    body, query = signed(wx.added("zhangsan", "wm001"))
    assert client.post("/callbacks/wecom/nope", data=body, query_string=query).status_code == 404
    assert client.post(f"/callbacks/dingtalk/{corp.corp_key}", data=b"{}").status_code == 404


def test_wrong_method_is_405(client, corp):
    assert client.put(f"/callbacks/wecom/{corp.corp_key}").status_code == 405
    assert client.get(f"/callbacks/dingtalk/{corp.corp_key}").status_code == 405


def test_rejections_are_logged_without_secrets(client, corp, caplog):
    post(client, corp, *signed(wx.added("zhangsan", "wm001"), corp_id="wwOTHER"))
    text = caplog.text
    assert "receive_id" in text and TOKEN not in text and AES not in text


def test_database_down_answers_503_and_the_hosts_retry_succeeds(make_app, client, corp, fake_host):
    fake_host.add_friend("zhangsan", "wm001")
    body, query = signed(wx.added("zhangsan", "wm001"))
    down = make_app(DATABASE_URL="mysql+pymysql://u:p@127.0.0.1:1/none?connect_timeout=1")
    r = down.test_client().post(f"/callbacks/wecom/{corp.corp_key}", data=body, query_string=query)
    assert r.status_code == 503 and rows() == 0
    assert post(client, corp, body, query).status_code == 200  # the host's retry, database back
    assert rows() == 1 and db.session.scalar(select(Relationship)).status == "active"


def test_broker_down_still_acknowledges_and_the_sweeper_processes_later(make_app, client, corp, fake_host):
    from datetime import timedelta

    from tasks.events import sweep

    fake_host.add_friend("zhangsan", "wm001")
    no_broker = make_app(BROKER_URL="redis://127.0.0.1:1/0", TASKS_EAGER=False)
    started = time.monotonic()
    body, query = signed(wx.added("zhangsan", "wm001"))
    with no_broker.app_context():
        r = no_broker.test_client().post(f"/callbacks/wecom/{corp.corp_key}", query_string=query, data=body)
    assert r.status_code == 200 and time.monotonic() - started < 10
    row = db.session.scalar(select(InboxEvent))
    assert row.status == "pending"
    with unit_of_work():
        row.received_at -= timedelta(seconds=30)
    assert sweep() == 1  # the broker is back (here: in-process tasks)
    db.session.expire_all()
    assert row.status == "done"


def test_metrics_count_received_rejected_duplicates_and_rows(client, corp, fake_host):
    fake_host.add_friend("zhangsan", "wm001")
    payload = signed(wx.added("zhangsan", "wm001", at=1700000001))
    post(client, corp, *payload)
    post(client, corp, *payload)
    post(client, corp, *signed(wx.added("zhangsan", "wm001"), corp_id="wwOTHER"))
    text = client.get("/metrics").get_data(as_text=True)
    assert 'scrm_callbacks_rejected_total{platform="wecom",reason="receive_id"}' in text
    assert 'scrm_callbacks_duplicate_total{platform="wecom"}' in text
    assert 'scrm_inbox_rows{status="done"} 1.0' in text
    assert "scrm_event_receipt_to_processed_seconds_bucket" in text
