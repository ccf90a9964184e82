import json

import pytest

from connectors.dingtalk.events import parse, parse_stream
from scrm.events import (CrmRecordChanged, DepartmentChanged, EmployeeChanged, GroupChatChanged, UnknownEvent,
                         UrlCheck)
from scrm.host import MalformedPayload


def event(**fields) -> str:
    return json.dumps(fields, ensure_ascii=False)


def test_departure_with_event_id():
    p = parse(event(EventType="user_leave_org", eventId="ev1", CorpId="ding1", TimeStamp="1700000000000",
                    UserId=["u1", "u2"]))
    assert p.event == EmployeeChanged(change="departed", user_ids=("u1", "u2"), occurred_at=p.event.occurred_at)
    assert p.event.occurred_at.year == 2023
    assert (p.event_type, p.dedupe_key) == ("user_leave_org", "dingtalk:ev1")


def test_legacy_payloads_without_event_id_dedupe_on_content():
    a = parse(event(EventType="user_add_org", TimeStamp="1700000000000", UserId=["u2", "u1"], CorpId="c"))
    b = parse(event(EventType="user_add_org", TimeStamp="1700000000000", UserId=["u1", "u2"], CorpId="c"))
    c = parse(event(EventType="user_add_org", TimeStamp="1700000000001", UserId=["u1", "u2"], CorpId="c"))
    assert a.dedupe_key == b.dedupe_key != c.dedupe_key
    assert a.dedupe_key.startswith("dingtalk:legacy:")


def test_every_family_maps_to_its_domain_event():
    assert isinstance(parse(event(EventType="check_url")).event, UrlCheck)
    dept = parse(event(EventType="org_dept_remove", eventId="e", DeptId=[5, 6])).event
    assert dept == DepartmentChanged(change="deleted", department_ids=("5", "6"))
    chat = parse(event(EventType="chat_remove_member", eventId="e2", ChatId="chat1", UserId=["u1"],
                       Operator="boss")).event
    assert isinstance(chat, GroupChatChanged) and (chat.change, chat.member_ids, chat.operator) == (
        "remove_member", ("u1",), "boss")
    crm = parse(event(EventType="ding_paas_object_data_update", eventId="e3", DataId="d1",
                      ObjectType="crm_customer", FormCode="f")).event
    assert crm == CrmRecordChanged(change="update", data_id="d1", object_type="crm_customer", form_code="f")
    assert parse(event(EventType="label_user_change", eventId="e4")).event == UnknownEvent(event_type="label_user_change")


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"eventId": "x"}', '{"EventType": 5}',
                                  '{"EventType": "chat_quit", "eventId": "x"}'])
def test_malformed_payloads(text):
    with pytest.raises(MalformedPayload):
        parse(text)


def test_stream_frames_store_in_the_http_shape_and_parse_back_the_same():
    p = parse_stream("user_modify_org", "sev1", json.dumps({"userId": ["u9"], "diffInfo": {"curr": {"name": "新"}}}),
                     1700000000000)
    assert p.dedupe_key == "dingtalk:sev1"
    assert p.event.change == "updated" and p.event.user_ids == ("u9",) and p.event.details["diffInfo"]
    again = parse(p.payload)
    assert (again.event, again.dedupe_key, again.event_type) == (p.event, p.dedupe_key, p.event_type)
