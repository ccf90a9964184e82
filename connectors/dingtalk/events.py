"""Decrypted DingTalk events (HTTP push or Stream mode) into domain events.

HTTP payloads are flat JSON with `EventType` and `eventId` (legacy register_call_back payloads have no eventId);
Stream frames carry the type and id in headers and the fields in `data`. Field names vary in case between the two
(`UserId` / `userId`), so they are read case-insensitively. Dedupe is on eventId, as the docs ask.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from scrm.events import (CrmRecordChanged, DepartmentChanged, EmployeeChanged, GroupChatChanged, HostEvent,
                         ParsedCallback, UnknownEvent, UrlCheck)
from scrm.host import MalformedPayload

PREFIX = "dingtalk:"
_EMPLOYEE = {"user_add_org": "created", "user_modify_org": "updated", "user_leave_org": "departed",
             "user_active_org": "updated"}
_DEPARTMENT = {"org_dept_create": "created", "org_dept_modify": "updated", "org_dept_remove": "deleted"}
_CHAT = {"chat_add_member": "add_member", "chat_remove_member": "remove_member", "chat_quit": "quit",
         "chat_update_owner": "update_owner", "chat_update_title": "update_title", "chat_disband": "disband"}
_CRM = {"ding_paas_object_data_create": "create", "ding_paas_object_data_update": "update",
        "ding_paas_object_data_delete": "delete"}
_URL_CHECKS = {"check_url", "check_create_suite_url", "check_update_suite_url"}


class _Fields:
    """Case-insensitive access to a payload's fields."""

    def __init__(self, data: dict[str, Any]):
        self._data = {k.lower(): v for k, v in data.items()}

    def get(self, *names: str) -> Any:
        for name in names:
            value = self._data.get(name.lower())
            if value not in (None, ""):
                return value
        return None

    def ids(self, *names: str) -> tuple[str, ...]:
        value = self.get(*names)
        if value is None:
            return ()
        if isinstance(value, (list, tuple)):
            return tuple(str(v) for v in value)
        return tuple(str(v) for v in str(value).split(",") if v)


def _when(value: Any) -> datetime | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1e11:  # milliseconds
        number /= 1000
    return datetime.fromtimestamp(number, tz=timezone.utc).replace(tzinfo=None)


def _event(event_type: str, f: _Fields) -> HostEvent:
    at = _when(f.get("TimeStamp", "EventTime", "eventBornTime"))
    if event_type in _URL_CHECKS:
        return UrlCheck(occurred_at=at)
    if event_type in _EMPLOYEE:
        details = {k: v for k, v in (("diffInfo", f.get("diffInfo")),) if v}
        return EmployeeChanged(occurred_at=at, change=_EMPLOYEE[event_type], user_ids=f.ids("UserId", "userid"),
                               details=details)
    if event_type in _DEPARTMENT:
        return DepartmentChanged(occurred_at=at, change=_DEPARTMENT[event_type], department_ids=f.ids("DeptId"))
    if event_type in _CHAT:
        chat_id = f.get("ChatId", "openConversationId")
        if not chat_id:
            raise MalformedPayload("fields", f"{event_type} without a chat id")
        return GroupChatChanged(occurred_at=at, chat_id=str(chat_id), change=_CHAT[event_type],
                                member_ids=f.ids("UserId"), operator=f.get("Operator"))
    if event_type in _CRM:
        data_id = f.get("DataId")
        if not data_id:
            raise MalformedPayload("fields", f"{event_type} without a data id")
        return CrmRecordChanged(occurred_at=at, change=_CRM[event_type], data_id=str(data_id),
                                object_type=f.get("ObjectType"), form_code=f.get("FormCode"))
    return UnknownEvent(occurred_at=at, event_type=event_type)


def _dedupe_key(event_type: str, f: _Fields, plaintext: str) -> str:
    event_id = f.get("eventId", "EventId")
    if event_id:
        return f"{PREFIX}{event_id}"
    # legacy register_call_back payloads have no eventId: the type, time and ids identify the event
    ids = sorted(f.ids("UserId")) + sorted(f.ids("DeptId")) + [str(f.get("ChatId", "DataId") or "")]
    basis = json.dumps([event_type, str(f.get("TimeStamp", "EventTime") or ""), ids], ensure_ascii=False)
    if not any(ids) and not f.get("TimeStamp", "EventTime"):
        basis = plaintext
    return f"{PREFIX}legacy:{hashlib.sha256(basis.encode('utf-8')).hexdigest()}"


def parse(plaintext: str) -> ParsedCallback:
    """One decrypted HTTP-push payload (or a stored Stream event) into a ParsedCallback."""
    try:
        data = json.loads(plaintext)
    except (ValueError, TypeError, RecursionError):
        raise MalformedPayload("json", "event is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedPayload("json", "event is not a JSON object")
    f = _Fields(data)
    event_type = f.get("EventType")
    if not isinstance(event_type, str):
        raise MalformedPayload("fields", "no EventType")
    return ParsedCallback(event=_event(event_type, f), event_type=event_type[:96],
                          dedupe_key=_dedupe_key(event_type, f, plaintext), payload=plaintext)


def parse_stream(event_type: str, event_id: str, data: str | dict, born_time: int | None) -> ParsedCallback:
    """A Stream-mode EVENT frame; stored in the HTTP shape, so the inbox re-parses it with `parse`."""
    if isinstance(data, str):
        try:
            data = json.loads(data) if data else {}
        except ValueError:
            raise MalformedPayload("json", "stream data is not JSON") from None
    if not isinstance(data, dict) or not event_type or not event_id:
        raise MalformedPayload("fields", "stream event without type, id or object data")
    flat = {**data, "EventType": event_type, "eventId": event_id}
    if born_time and not _Fields(data).get("TimeStamp", "EventTime"):
        flat["eventBornTime"] = born_time
    return parse(json.dumps(flat, ensure_ascii=False))
