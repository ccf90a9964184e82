"""Decrypted WeCom callbacks into domain events (customer contact doc 92130 / 96361, contacts doc 96302).

wechatpy 1.8.18 knows none of these events, so the XML is read here, with DTDs and entities forbidden.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Callable

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from scrm.events import (ChatAuthorized, CustomerAdded, CustomerEdited, CustomerRemovedByCustomer,
                         CustomerRemovedByEmployee, DepartmentChanged, EmployeeChanged, GroupChatChanged,
                         HostEvent, ParsedCallback, TagChanged, TransferFailed, UnknownEvent)
from scrm.host import MalformedPayload

PREFIX = "wecom:"
EVENT_TYPE_MAX = 96

# What tells two events apart. A resend repeats all of them; two events of one admin action in the same second
# (a tag-group save, create_user + update_user) differ in at least one. CreateTime + FromUserName alone is
# unsafe: FromUserName is always "sys".
DEDUPE_FIELDS = ("Event", "ChangeType", "CreateTime", "UserID", "ExternalUserID", "ChatId", "Id", "TagType",
                 "StrategyId", "UpdateDetail", "MemChangeList", "NewUserID", "FailReason", "Source",
                 "CurMemVer", "TagId", "AddUserItems", "DelUserItems", "AddPartyItems", "DelPartyItems")
HEADER = frozenset({"ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "ChangeType", "AgentID"})

Fields = dict[str, "str | list[str]"]


def read_fields(plaintext: str | bytes) -> Fields:
    """Flatten the callback's XML into {tag: text}; an element with children becomes a list of their texts."""
    try:
        root = fromstring(plaintext, forbid_dtd=True)
    except DefusedXmlException:
        raise MalformedPayload("xml_entities") from None
    except (ParseError, ValueError, TypeError):
        raise MalformedPayload("xml", "callback is not well-formed XML") from None
    if root.tag != "xml":
        raise MalformedPayload("xml", f"unexpected root <{root.tag}>")
    fields: Fields = {}
    for node in root:
        children = list(node)
        if children:
            fields[node.tag] = [(child.text or "").strip() for child in children]
        else:
            fields[node.tag] = (node.text or "").strip()
    return fields


def parse(plaintext: str) -> ParsedCallback:
    """Turn one decrypted callback into a ParsedCallback carrying its domain event."""
    fields = read_fields(plaintext)
    msg_type = _text(fields, "MsgType")
    event_name = _text(fields, "Event") if msg_type == "event" else None
    change = _text(fields, "ChangeType")
    base = event_name or msg_type or "unknown"
    event_type = (f"{base}/{change}" if change else base)[:EVENT_TYPE_MAX]
    occurred_at = _occurred_at(fields)
    build = _BUILDERS.get((event_name or "", change or ""))
    if build is None:
        event: HostEvent = UnknownEvent(event_type=event_type, occurred_at=occurred_at)
        key = hashlib.sha256(plaintext.encode("utf-8")).hexdigest()
    else:
        event = build(fields, occurred_at)
        key = dedupe_digest(fields)
    return ParsedCallback(event=event, event_type=event_type, dedupe_key=PREFIX + key, payload=plaintext)


def dedupe_digest(fields: Fields) -> str:
    """sha256 over the identifying fields; names are included so that a value cannot slide into another field."""
    parts = []
    for name in DEDUPE_FIELDS:
        value = fields.get(name)
        if isinstance(value, list):
            value = sorted(value)
        parts.append([name, value])
    if fields.get("Event") == "change_contact":
        # two edits of one member in the same second differ only in the member's fields
        parts.append(sorted([k, v] for k, v in fields.items() if k not in HEADER and k not in DEDUPE_FIELDS))
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- field helpers


def _text(fields: Fields, name: str) -> str | None:
    value = fields.get(name)
    if isinstance(value, list):
        raise MalformedPayload("field", f"{name} must be text")
    return value or None


def _required(fields: Fields, name: str) -> str:
    value = _text(fields, name)
    if value is None:
        raise MalformedPayload("missing_field", name)
    return value


def _int(fields: Fields, name: str) -> int | None:
    value = _text(fields, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise MalformedPayload("field", f"{name} is not an integer") from None


def _ids(fields: Fields, name: str) -> tuple[str, ...]:
    value = fields.get(name)
    if isinstance(value, list):
        return tuple(v for v in value if v)
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _occurred_at(fields: Fields) -> datetime | None:
    seconds = _int(fields, "CreateTime")
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        raise MalformedPayload("field", "CreateTime out of range") from None


def _details(fields: Fields) -> dict:
    return {k: v for k, v in fields.items() if k not in HEADER}


# ---------------------------------------------------------------- builders per (Event, ChangeType)


def _customer(cls, **extra: Callable[[Fields], object]):
    def build(fields: Fields, at: datetime | None) -> HostEvent:
        values = {name: get(fields) for name, get in extra.items()}
        return cls(occurred_at=at, employee_id=_required(fields, "UserID"),
                   customer_id=_required(fields, "ExternalUserID"), **values)
    return build


def _field(name: str) -> Callable[[Fields], str | None]:
    return lambda fields: _text(fields, name)


def _chat(fields: Fields, at: datetime | None) -> HostEvent:
    return GroupChatChanged(occurred_at=at, chat_id=_required(fields, "ChatId"), change=_required(fields, "ChangeType"),
                            detail=_text(fields, "UpdateDetail"), member_ids=_ids(fields, "MemChangeList"),
                            join_scene=_int(fields, "JoinScene"), quit_scene=_int(fields, "QuitScene"))


def _tag(fields: Fields, at: datetime | None) -> HostEvent:
    return TagChanged(occurred_at=at, change=_required(fields, "ChangeType"), tag_id=_text(fields, "Id"),
                      kind=_text(fields, "TagType"), strategy_id=_text(fields, "StrategyId"))


def _employee(change: str):
    def build(fields: Fields, at: datetime | None) -> HostEvent:
        return EmployeeChanged(occurred_at=at, change=change, user_ids=(_required(fields, "UserID"),),
                               new_user_id=_text(fields, "NewUserID"), details=_details(fields))
    return build


def _department(change: str):
    def build(fields: Fields, at: datetime | None) -> HostEvent:
        return DepartmentChanged(occurred_at=at, change=change, department_ids=(_required(fields, "Id"),),
                                 details=_details(fields))
    return build


def _member_tag(fields: Fields, at: datetime | None) -> HostEvent:
    # a contact (member) tag gained or lost members: those members changed; parties are in details
    users = _ids(fields, "AddUserItems") + _ids(fields, "DelUserItems")
    return EmployeeChanged(occurred_at=at, change="updated", user_ids=tuple(dict.fromkeys(users)),
                           details=_details(fields))


_CONTACT = "change_external_contact"
_BUILDERS: dict[tuple[str, str], Callable[[Fields, datetime | None], HostEvent]] = {
    (_CONTACT, "add_external_contact"): _customer(CustomerAdded, state=_field("State"),
                                                  welcome_code=_field("WelcomeCode")),
    (_CONTACT, "add_half_external_contact"): _customer(CustomerAdded, state=_field("State"),
                                                       welcome_code=_field("WelcomeCode"), half=lambda f: True),
    (_CONTACT, "edit_external_contact"): _customer(CustomerEdited),
    (_CONTACT, "del_external_contact"): _customer(CustomerRemovedByEmployee, source=_field("Source")),
    (_CONTACT, "del_follow_user"): _customer(CustomerRemovedByCustomer),
    (_CONTACT, "transfer_fail"): _customer(TransferFailed, reason=_field("FailReason")),
    (_CONTACT, "msg_audit_approved"): _customer(ChatAuthorized, welcome_code=_field("WelcomeCode")),
    **{("change_external_chat", c): _chat for c in ("create", "update", "dismiss")},
    **{("change_external_tag", c): _tag for c in ("create", "update", "delete", "shuffle")},
    ("change_contact", "create_user"): _employee("created"),
    ("change_contact", "update_user"): _employee("updated"),
    ("change_contact", "delete_user"): _employee("departed"),
    ("change_contact", "create_party"): _department("created"),
    ("change_contact", "update_party"): _department("updated"),
    ("change_contact", "delete_party"): _department("deleted"),
    ("change_contact", "update_tag"): _member_tag,
}
