"""Decrypted WeCom callback payloads, as the host sends them, for tests."""
from __future__ import annotations

import time


def _xml(event: str, change: str, at: int | None, **fields) -> str:
    body = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items() if v is not None)
    return (f"<xml><ToUserName><![CDATA[ww-test]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{at or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event><ChangeType><![CDATA[{change}]]></ChangeType>{body}</xml>")


def contact(change: str, employee: str, customer: str, at: int | None = None, **fields) -> str:
    return _xml("change_external_contact", change, at, UserID=employee, ExternalUserID=customer, **fields)


def added(employee: str, customer: str, state: str | None = None, welcome_code: str | None = "WC", at=None) -> str:
    return contact("add_external_contact", employee, customer, at, State=state, WelcomeCode=welcome_code)


def removed_by_customer(employee: str, customer: str, at=None) -> str:
    return contact("del_follow_user", employee, customer, at)


def removed_by_employee(employee: str, customer: str, at=None, source: str | None = None) -> str:
    return contact("del_external_contact", employee, customer, at, Source=source)


def user(change: str, user_id: str, at=None, **fields) -> str:
    return _xml("change_contact", change, at, UserID=user_id, **fields)


def party(change: str, dept_id: str, at=None, **fields) -> str:
    return _xml("change_contact", change, at, Id=dept_id, **fields)


def tag(change: str, tag_id: str | None, kind: str | None = "tag", at=None) -> str:
    return _xml("change_external_tag", change, at, Id=tag_id, TagType=kind)


def chat(change: str, chat_id: str, detail: str | None = None, at=None) -> str:
    return _xml("change_external_chat", change, at, ChatId=chat_id, UpdateDetail=detail)


def unknown(at=None) -> str:
    return _xml("some_future_event", "whatever", at)
