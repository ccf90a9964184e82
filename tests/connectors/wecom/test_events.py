"""WeCom callbacks into domain events: every documented event, dedupe keys, and hostile or broken XML."""
from __future__ import annotations

import hashlib
from datetime import datetime

import pytest

from connectors.wecom.events import parse
from scrm.events import (ChatAuthorized, CustomerAdded, CustomerEdited, CustomerRemovedByCustomer,
                         CustomerRemovedByEmployee, DepartmentChanged, EmployeeChanged, GroupChatChanged,
                         TagChanged, TransferFailed, UnknownEvent)
from scrm.host import MalformedPayload

CREATED = 1403610513
WHEN = datetime(2014, 6, 24, 11, 48, 33)


def callback(event: str, body: str, create_time: int = CREATED, msg_type: str = "event") -> str:
    """A decrypted self-built-app callback with the common header."""
    event_xml = f"<Event><![CDATA[{event}]]></Event>" if event else ""
    return ("<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>{event_xml}{body}</xml>")


def contact(change: str, extra: str = "", user: str = "zhangsan",
            customer: str = "woAJ2GCAAAXtWyujaWJHDDGi0mAAAA", **kw) -> str:
    return callback("change_external_contact",
                    f"<ChangeType><![CDATA[{change}]]></ChangeType><UserID><![CDATA[{user}]]></UserID>"
                    f"<ExternalUserID><![CDATA[{customer}]]></ExternalUserID>{extra}", **kw)


# ---------------------------------------------------------------- change_external_contact


def test_add_external_contact():
    parsed = parse(contact("add_external_contact", "<State><![CDATA[teststate]]></State>"
                                                   "<WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode>"))
    assert parsed.event == CustomerAdded(employee_id="zhangsan", customer_id="woAJ2GCAAAXtWyujaWJHDDGi0mAAAA",
                                         state="teststate", welcome_code="WELCOMECODE", half=False, occurred_at=WHEN)
    assert parsed.event_type == "change_external_contact/add_external_contact"
    assert parsed.event.ordering_key == "customer:woAJ2GCAAAXtWyujaWJHDDGi0mAAAA"
    assert parsed.dedupe_key.startswith("wecom:") and len(parsed.dedupe_key) == 6 + 64
    assert "WELCOMECODE" in parsed.payload


def test_add_without_welcome_code_or_state():
    event = parse(contact("add_external_contact")).event
    assert event.welcome_code is None and event.state is None


def test_add_half_external_contact():
    event = parse(contact("add_half_external_contact", "<State><![CDATA[s1]]></State>"
                                                       "<WelcomeCode><![CDATA[WC2]]></WelcomeCode>")).event
    assert isinstance(event, CustomerAdded) and event.half and event.state == "s1" and event.welcome_code == "WC2"


def test_edit_external_contact():
    parsed = parse(contact("edit_external_contact"))
    assert parsed.event == CustomerEdited(employee_id="zhangsan", customer_id="woAJ2GCAAAXtWyujaWJHDDGi0mAAAA",
                                          occurred_at=WHEN)


def test_del_external_contact_with_transfer_source():
    event = parse(contact("del_external_contact", "<Source><![CDATA[DELETE_BY_TRANSFER]]></Source>")).event
    assert isinstance(event, CustomerRemovedByEmployee) and event.source == "DELETE_BY_TRANSFER"
    assert parse(contact("del_external_contact")).event.source is None


def test_del_follow_user():
    event = parse(contact("del_follow_user")).event
    assert event == CustomerRemovedByCustomer(employee_id="zhangsan",
                                              customer_id="woAJ2GCAAAXtWyujaWJHDDGi0mAAAA", occurred_at=WHEN)


@pytest.mark.parametrize("reason", ["customer_refused", "customer_limit_exceed"])
def test_transfer_fail(reason):
    event = parse(contact("transfer_fail", f"<FailReason><![CDATA[{reason}]]></FailReason>")).event
    assert isinstance(event, TransferFailed) and event.reason == reason


def test_msg_audit_approved():
    parsed = parse(contact("msg_audit_approved", "<WelcomeCode><![CDATA[WC3]]></WelcomeCode>"))
    assert parsed.event == ChatAuthorized(employee_id="zhangsan", customer_id="woAJ2GCAAAXtWyujaWJHDDGi0mAAAA",
                                          welcome_code="WC3", occurred_at=WHEN)
    assert parsed.event_type == "change_external_contact/msg_audit_approved"


def test_customer_event_without_external_user_id_is_malformed():
    broken = callback("change_external_contact", "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
                                                 "<UserID><![CDATA[zhangsan]]></UserID>")
    with pytest.raises(MalformedPayload) as err:
        parse(broken)
    assert err.value.reason == "missing_field"


def test_unknown_change_type_is_kept_as_unknown():
    parsed = parse(contact("brand_new_change"))
    assert parsed.event == UnknownEvent(event_type="change_external_contact/brand_new_change", occurred_at=WHEN)
    assert parsed.event_type == "change_external_contact/brand_new_change"


# ---------------------------------------------------------------- change_external_chat

CHAT_UPDATE = ("<ChatId><![CDATA[wrx7HUARsKwGRaQBVKPBTcEyzdHA4HrQ]]></ChatId><ChangeType><![CDATA[update]]></ChangeType>"
               "<UpdateDetail><![CDATA[add_member]]></UpdateDetail><JoinScene>3</JoinScene><QuitScene>0</QuitScene>"
               "<MemChangeCnt>2</MemChangeCnt><MemChangeList><Item>Jack</Item><Item>Rose</Item></MemChangeList>"
               "<LastMemVer>9c3f97c2ada667dfb5f6d03308d963e1</LastMemVer>"
               "<CurMemVer>71217227bbd112ecfe3a49c482195cb4</CurMemVer>")


def test_chat_update_add_member():
    parsed = parse(callback("change_external_chat", CHAT_UPDATE))
    assert parsed.event == GroupChatChanged(chat_id="wrx7HUARsKwGRaQBVKPBTcEyzdHA4HrQ", change="update",
                                            detail="add_member", member_ids=("Jack", "Rose"), join_scene=3,
                                            quit_scene=0, occurred_at=WHEN)
    assert parsed.event_type == "change_external_chat/update"
    assert parsed.event.ordering_key == "chat:wrx7HUARsKwGRaQBVKPBTcEyzdHA4HrQ"


@pytest.mark.parametrize("change", ["create", "dismiss"])
def test_chat_create_and_dismiss(change):
    event = parse(callback("change_external_chat", f"<ChatId><![CDATA[wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA]]></ChatId>"
                                                   f"<ChangeType><![CDATA[{change}]]></ChangeType>")).event
    assert event == GroupChatChanged(chat_id="wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", change=change, occurred_at=WHEN)


@pytest.mark.parametrize("detail", ["del_member", "change_owner", "change_name", "change_notice"])
def test_chat_update_details(detail):
    body = (f"<ChatId><![CDATA[wrx1]]></ChatId><ChangeType><![CDATA[update]]></ChangeType>"
            f"<UpdateDetail><![CDATA[{detail}]]></UpdateDetail><QuitScene>1</QuitScene>")
    event = parse(callback("change_external_chat", body)).event
    assert event.detail == detail and event.quit_scene == 1 and event.member_ids == ()


# ---------------------------------------------------------------- change_external_tag


@pytest.mark.parametrize("change", ["create", "update", "delete"])
@pytest.mark.parametrize("kind", ["tag", "tag_group"])
def test_tag_events(change, kind):
    body = (f"<Id><![CDATA[etXXXXXXXXXX]]></Id><TagType><![CDATA[{kind}]]></TagType>"
            f"<ChangeType><![CDATA[{change}]]></ChangeType><StrategyId>1</StrategyId>")
    parsed = parse(callback("change_external_tag", body))
    assert parsed.event == TagChanged(change=change, tag_id="etXXXXXXXXXX", kind=kind, strategy_id="1",
                                      occurred_at=WHEN)
    assert parsed.event_type == f"change_external_tag/{change}"


def test_tag_shuffle_has_no_tag_type():
    body = "<Id><![CDATA[etGROUP]]></Id><ChangeType><![CDATA[shuffle]]></ChangeType><StrategyId>7</StrategyId>"
    event = parse(callback("change_external_tag", body)).event
    assert event == TagChanged(change="shuffle", tag_id="etGROUP", kind=None, strategy_id="7", occurred_at=WHEN)


# ---------------------------------------------------------------- change_contact

USER_FIELDS = ("<UserID><![CDATA[zhangsan]]></UserID><Name><![CDATA[张三]]></Name><Department><![CDATA[1,2,3]]></Department>"
               "<MainDepartment>1</MainDepartment><IsLeaderInDept><![CDATA[1,0,0]]></IsLeaderInDept>"
               "<Position><![CDATA[产品经理]]></Position><Mobile>13800000000</Mobile><Gender>1</Gender>"
               "<Email><![CDATA[zhangsan@gzdev.com]]></Email><Status>1</Status><Alias><![CDATA[jackzhang]]></Alias>"
               "<ExtAttr><Item><Name><![CDATA[爱好]]></Name><Type>0</Type><Text><Value><![CDATA[旅游]]></Value></Text></Item></ExtAttr>")


def test_create_user():
    parsed = parse(callback("change_contact", "<ChangeType>create_user</ChangeType>" + USER_FIELDS))
    event = parsed.event
    assert isinstance(event, EmployeeChanged)
    assert (event.change, event.user_ids, event.new_user_id) == ("created", ("zhangsan",), None)
    assert event.details["Name"] == "张三" and event.details["Department"] == "1,2,3"
    assert parsed.event_type == "change_contact/create_user"
    assert event.ordering_key == "employee:zhangsan"


def test_update_user_with_new_user_id():
    event = parse(callback("change_contact", "<ChangeType>update_user</ChangeType>" + USER_FIELDS +
                           "<NewUserID><![CDATA[zhangsan001]]></NewUserID>")).event
    assert (event.change, event.user_ids, event.new_user_id) == ("updated", ("zhangsan",), "zhangsan001")


def test_delete_user():
    parsed = parse(callback("change_contact", "<ChangeType>delete_user</ChangeType><UserID><![CDATA[lisi]]></UserID>"))
    assert parsed.event == EmployeeChanged(change="departed", user_ids=("lisi",), occurred_at=WHEN)


@pytest.mark.parametrize("change,expected", [("create_party", "created"), ("update_party", "updated"),
                                             ("delete_party", "deleted")])
def test_party_events(change, expected):
    body = (f"<ChangeType><![CDATA[{change}]]></ChangeType><Id>2</Id><Name><![CDATA[张三的部门]]></Name>"
            "<ParentId><![CDATA[1]]></ParentId><Order>1</Order>")
    parsed = parse(callback("change_contact", body))
    assert isinstance(parsed.event, DepartmentChanged)
    assert (parsed.event.change, parsed.event.department_ids) == (expected, ("2",))
    assert parsed.event.details["Name"] == "张三的部门"


def test_member_tag_update():
    body = ("<ChangeType><![CDATA[update_tag]]></ChangeType><TagId>1</TagId>"
            "<AddUserItems><![CDATA[zhangsan,lisi]]></AddUserItems><DelUserItems><![CDATA[wangwu]]></DelUserItems>"
            "<AddPartyItems><![CDATA[1,2]]></AddPartyItems><DelPartyItems><![CDATA[3]]></DelPartyItems>")
    parsed = parse(callback("change_contact", body))
    assert parsed.event_type == "change_contact/update_tag"
    event = parsed.event
    assert isinstance(event, EmployeeChanged)
    assert event.change == "updated" and event.user_ids == ("zhangsan", "lisi", "wangwu")
    assert event.details["TagId"] == "1" and event.details["AddPartyItems"] == "1,2"


# ---------------------------------------------------------------- anything else


def test_unknown_event_and_plain_message():
    audit = callback("msgaudit_notify", "<AgentID>2000004</AgentID>")
    parsed = parse(audit)
    assert parsed.event == UnknownEvent(event_type="msgaudit_notify", occurred_at=WHEN)
    assert parsed.dedupe_key == "wecom:" + hashlib.sha256(audit.encode()).hexdigest()
    text = callback("", "<Content><![CDATA[hello]]></Content><MsgId>123</MsgId>", msg_type="text")
    assert parse(text).event_type == "text" and isinstance(parse(text).event, UnknownEvent)


def test_xml_declaration_and_whitespace_are_fine():
    payload = '<?xml version="1.0" encoding="utf-8"?>\n' + contact("del_follow_user").replace("><", ">\n  <")
    assert isinstance(parse(payload).event, CustomerRemovedByCustomer)


# ---------------------------------------------------------------- dedupe


def test_resend_gets_the_same_key():
    payload = contact("add_external_contact", "<State><![CDATA[s]]></State><WelcomeCode><![CDATA[W]]></WelcomeCode>")
    assert parse(payload).dedupe_key == parse(payload).dedupe_key
    assert parse(payload).dedupe_key == parse(payload.replace("><", ">\n<")).dedupe_key


def test_two_tag_events_of_one_save_in_the_same_second_differ():
    one = callback("change_external_tag", "<Id><![CDATA[etA]]></Id><TagType><![CDATA[tag]]></TagType>"
                                          "<ChangeType><![CDATA[create]]></ChangeType>")
    two = callback("change_external_tag", "<Id><![CDATA[etB]]></Id><TagType><![CDATA[tag]]></TagType>"
                                          "<ChangeType><![CDATA[create]]></ChangeType>")
    group = callback("change_external_tag", "<Id><![CDATA[etA]]></Id><TagType><![CDATA[tag_group]]></TagType>"
                                            "<ChangeType><![CDATA[create]]></ChangeType>")
    keys = {parse(x).dedupe_key for x in (one, two, group)}
    assert len(keys) == 3


def test_create_user_and_update_user_of_one_member_in_one_second_differ():
    create = callback("change_contact", "<ChangeType>create_user</ChangeType>" + USER_FIELDS)
    update = callback("change_contact", "<ChangeType>update_user</ChangeType>" + USER_FIELDS)
    rename = callback("change_contact", "<ChangeType>update_user</ChangeType>" + USER_FIELDS.replace("张三", "张叁"))
    assert len({parse(x).dedupe_key for x in (create, update, rename)}) == 3


def test_dedupe_separates_customers_employees_chats_times_and_members():
    base = parse(contact("add_external_contact")).dedupe_key
    assert parse(contact("add_external_contact", customer="wmOther")).dedupe_key != base
    assert parse(contact("add_external_contact", user="lisi")).dedupe_key != base
    assert parse(contact("add_external_contact", create_time=CREATED + 1)).dedupe_key != base
    assert parse(contact("del_follow_user")).dedupe_key != base
    jack = callback("change_external_chat", CHAT_UPDATE)
    rose = callback("change_external_chat", CHAT_UPDATE.replace("<Item>Jack</Item>", "").replace(
        "71217227bbd112ecfe3a49c482195cb4", "ffff7227bbd112ecfe3a49c482195cb4"))
    assert parse(jack).dedupe_key != parse(rose).dedupe_key
    reordered = callback("change_external_chat", CHAT_UPDATE.replace("<Item>Jack</Item><Item>Rose</Item>",
                                                                     "<Item>Rose</Item><Item>Jack</Item>"))
    assert parse(jack).dedupe_key == parse(reordered).dedupe_key
    refused = contact("transfer_fail", "<FailReason><![CDATA[customer_refused]]></FailReason>")
    limited = contact("transfer_fail", "<FailReason><![CDATA[customer_limit_exceed]]></FailReason>")
    assert parse(refused).dedupe_key != parse(limited).dedupe_key


def test_member_tag_updates_of_two_tags_in_one_second_differ():
    one = callback("change_contact", "<ChangeType>update_tag</ChangeType><TagId>1</TagId><AddUserItems>a</AddUserItems>")
    two = callback("change_contact", "<ChangeType>update_tag</ChangeType><TagId>2</TagId><AddUserItems>a</AddUserItems>")
    assert parse(one).dedupe_key != parse(two).dedupe_key


# ---------------------------------------------------------------- hostile and broken input


@pytest.mark.parametrize("payload", [
    '<!DOCTYPE xml [<!ENTITY x "boom">]><xml><MsgType>event</MsgType><Event>&x;</Event></xml>',
    '<!DOCTYPE xml SYSTEM "http://example.invalid/evil.dtd"><xml><MsgType>event</MsgType></xml>',
    '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Event>&b;</Event></xml>',
])
def test_dtds_and_entities_are_refused(payload):
    with pytest.raises(MalformedPayload) as err:
        parse(payload)
    assert err.value.reason == "xml_entities"


@pytest.mark.parametrize("payload", [
    contact("add_external_contact")[:-20], "", "not xml at all", "<xml><a></b></xml>", "<root><MsgType>event</MsgType></root>",
])
def test_truncated_or_invalid_xml(payload):
    with pytest.raises(MalformedPayload) as err:
        parse(payload)
    assert err.value.reason == "xml"


def test_bad_create_time_and_list_where_text_belongs():
    with pytest.raises(MalformedPayload):
        parse(contact("add_external_contact").replace(str(CREATED), "yesterday"))
    with pytest.raises(MalformedPayload):
        parse(contact("add_external_contact").replace("<UserID><![CDATA[zhangsan]]></UserID>",
                                                      "<UserID><Item>a</Item></UserID>"))
