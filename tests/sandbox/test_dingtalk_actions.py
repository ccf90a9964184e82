"""The seeded DingTalk organisation and the actions that change it and deliver encrypted event callbacks."""
from __future__ import annotations

import json

import pytest

from connectors.dingtalk import events as dt_events
from connectors.dingtalk.crypto import DingTalkCrypto
from sandbox.dingtalk import models as sbx_dt
from sandbox import names
from scrm.events import EmployeeChanged
from scrm.host import WrongReceiver


@pytest.fixture
def wired(sandbox, callback_receiver):
    """A seeded org whose app subscribes to events at the receiver, which answers the encrypted success."""
    corp = sandbox.create_corp("dingtalk")
    sandbox.seed(corp, employees=10, customers=20, rng=5)
    corp = sandbox.control.update_corp(corp.corp_id, callback_url=callback_receiver.url)
    crypto = DingTalkCrypto(corp.callback_token, corp.callback_aes_key, corp.app_key)
    callback_receiver.body = json.dumps(crypto.reply("success")).encode()
    return corp, crypto


def delivered(receiver, crypto, count: int) -> list[dict]:
    """The plaintext events the receiver got, decrypted the way the product does it."""
    return [json.loads(crypto.decrypt_body(r.body, r.args)) for r in receiver.wait_for(count)]


def test_departure_is_encrypted_for_the_app_key_and_retried_with_its_event_id(sandbox, wired, callback_receiver):
    corp, crypto = wired
    callback_receiver.statuses = [500]  # the first attempt fails: the host retries
    played = sandbox.play(corp, "employee_leaves", wait=True)
    assert played["delivered"] == 1 and played["attempts"] == 2
    first, retry = delivered(callback_receiver, crypto, 2)
    assert first["EventType"] == "user_leave_org" and first["userId"] == [played["result"]["userid"]]
    assert first["eventId"] == retry["eventId"] == played["event_ids"][0]  # a retry is the same event
    assert sandbox.sleeps[:1] == [10]  # DingTalk retries after 10 s (then 30 s)
    request = callback_receiver.received[0]
    with pytest.raises(WrongReceiver):  # the trailer is the appKey, not the corpId
        DingTalkCrypto(corp.callback_token, corp.callback_aes_key, corp.corp_id).decrypt_body(request.body,
                                                                                             request.args)
    parsed = dt_events.parse(json.dumps(first))
    assert isinstance(parsed.event, EmployeeChanged) and parsed.event.change == "departed"
    assert parsed.event.user_ids == (played["result"]["userid"],)


def test_a_receiver_that_never_answers_success_gets_three_attempts(sandbox, wired, callback_receiver):
    corp, _ = wired
    callback_receiver.body = b"ok"  # HTTP 200 without the encrypted success is not an acknowledgement
    played = sandbox.play(corp, "employee_joins", wait=True)
    assert played["delivered"] == 0 and played["attempts"] == 3 and sandbox.sleeps == [10, 30]


def test_seeded_organisation(sandbox):
    corp = sandbox.create_corp("dingtalk")
    counts = sandbox.seed(corp, employees=16, customers=400, rng=11)
    assert counts == {"departments": 2, "employees": 16, "customers": 400, "labels": 19, "group_chats": 3}
    with sandbox.db.session() as s:
        contacts = s.query(sbx_dt.DtContact).filter_by(corp_id=corp.corp_id).all()
        users = {u.userid: u for u in s.query(sbx_dt.DtUser).filter_by(corp_id=corp.corp_id)}
        chats = s.query(sbx_dt.DtChat).filter_by(corp_id=corp.corp_id).all()
    assert sum(any("\u4e00" <= ch <= "\u9fff" for ch in c.name) for c in contacts) > 300  # Chinese names
    assert any(emoji in c.name for c in contacts for emoji in names.EMOJI)
    assert all(c.follower_user_id in users and 1 <= len(c.label_ids) <= 2 for c in contacts)
    assert len({c.userid for c in contacts}) == 400
    assert all(chat.owner in chat.members and set(chat.members) <= set(users) for chat in chats)
    again = sandbox.seed(corp, employees=2, customers=1, rng=12)  # departments and labels are reused
    assert again["departments"] == 2 and again["labels"] == 19
    with sandbox.db.session() as s:
        assert s.query(sbx_dt.DtUser).filter_by(corp_id=corp.corp_id, userid="dt00018").count() == 1
        assert s.query(sbx_dt.DtLabel).filter_by(corp_id=corp.corp_id).count() == 19


def test_employee_change_carries_diff_info(sandbox, wired, callback_receiver):
    corp, crypto = wired
    played = sandbox.play(corp, "employee_changes", userid="dt00004", name="赵新名", title="区域经理", wait=True)
    (event,) = delivered(callback_receiver, crypto, 1)
    assert event["EventType"] == "user_modify_org" and event["userId"] == ["dt00004"]
    assert event["diffInfo"]["curr"] == {"name": "赵新名", "title": "区域经理"}
    assert event["diffInfo"]["prev"]["name"] != "赵新名" and event["diffInfo"]["userid"] == "dt00004"
    with sandbox.db.session() as s:
        user = s.query(sbx_dt.DtUser).filter_by(corp_id=corp.corp_id, userid="dt00004").one()
    assert (user.name, user.title) == ("赵新名", "区域经理") and played["delivered"] == 1


def test_departments_created_renamed_and_removed(sandbox, wired, callback_receiver):
    corp, crypto = wired
    made = sandbox.play(corp, "department_changes", change="create", name="华东区", wait=True)["result"]
    sandbox.play(corp, "department_changes", change="modify", dept_id=made["dept_id"], name="华东大区", wait=True)
    sandbox.play(corp, "department_changes", change="remove", dept_id=made["dept_id"], wait=True)
    events = delivered(callback_receiver, crypto, 3)
    assert [e["EventType"] for e in events] == ["org_dept_create", "org_dept_modify", "org_dept_remove"]
    assert all(e["deptId"] == [made["dept_id"]] for e in events)
    assert len({e["eventId"] for e in events}) == 3  # each event its own id
    with pytest.raises(ValueError):  # the seeded department has members
        sandbox.play(corp, "department_changes", change="remove", dept_id=2)


def test_group_chat_events_follow_the_chat(sandbox, wired, callback_receiver):
    corp, crypto = wired
    with sandbox.db.session() as s:
        chat = s.query(sbx_dt.DtChat).filter_by(corp_id=corp.corp_id).order_by(sbx_dt.DtChat.chat_id).first()
    outsider = next(f"dt{n:05d}" for n in range(1, 11) if f"dt{n:05d}" not in chat.members)
    member = next(u for u in chat.members if u != chat.owner)
    plays = [("add_member", {"users": [outsider]}), ("update_title", {"title": "VIP 客户群 🎈"}),
             ("update_owner", {"users": [member]}), ("quit", {"users": [outsider]}),
             ("remove_member", {}), ("disband", {})]
    for change, params in plays:
        sandbox.play(corp, "group_chat", change=change, chat_id=chat.chat_id, wait=True, **params)
    events = delivered(callback_receiver, crypto, len(plays))
    assert [e["EventType"] for e in events] == [f"chat_{change}" for change, _ in plays]
    assert all(e["chatId"] == chat.chat_id and e["openConversationId"] == chat.open_conversation_id for e in events)
    added, titled, owned, quit, removed, disbanded = events
    assert added["userId"] == [outsider] and added["operator"] == chat.owner
    assert titled["title"] == "VIP 客户群 🎈"
    assert owned["userId"] == [member] and quit["operator"] == outsider
    assert removed["operator"] == member and member not in removed["userId"]
    with sandbox.db.session() as s:
        after = s.get(sbx_dt.DtChat, chat.chat_id)
    assert after.disbanded and after.owner == member and after.title == "VIP 客户群 🎈"
    assert disbanded["userId"] == after.members and outsider not in after.members
    with pytest.raises(ValueError):
        sandbox.play(corp, "group_chat", change="add_member", chat_id=chat.chat_id)


def test_crm_records_created_updated_deleted(sandbox, wired, callback_receiver):
    corp, crypto = wired
    made = sandbox.play(corp, "crm_record_changed", change="create", name="北京华信咨询有限公司", wait=True)["result"]
    sandbox.play(corp, "crm_record_changed", change="update", data_id=made["data_id"], name="华信咨询", wait=True)
    with sandbox.db.session() as s:
        assert s.get(sbx_dt.DtCrmCustomer, made["data_id"]).data["customer_name"] == "华信咨询"
    sandbox.play(corp, "crm_record_changed", change="delete", data_id=made["data_id"], wait=True)
    events = delivered(callback_receiver, crypto, 3)
    assert [e["EventType"] for e in events] == [f"ding_paas_object_data_{c}" for c in ("create", "update", "delete")]
    assert all(e["DataId"] == made["data_id"] and e["ObjectType"] == "crm_customer_personal" for e in events)
    assert "FormCode" in events[1]
    with sandbox.db.session() as s:
        assert s.get(sbx_dt.DtCrmCustomer, made["data_id"]) is None


def test_without_a_callback_url_the_event_is_lost(sandbox):
    corp = sandbox.create_corp("dingtalk")
    sandbox.seed(corp, employees=3, customers=0)
    played = sandbox.play(corp, "employee_joins", name="新同事", wait=True)
    assert played["callbacks"] == 0 and played["events"] == ["user_add_org"] and len(played["event_ids"][0]) == 32
    with pytest.raises(ValueError):
        sandbox.play(corp, "no_such_action")
    sandbox.play(corp, "employee_leaves", userid="dt00001")
    with pytest.raises(LookupError):  # gone: the control API answers 404
        sandbox.play(corp, "employee_leaves", userid="dt00001")
