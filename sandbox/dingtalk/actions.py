"""The other side of DingTalk: actions that change an organisation and deliver the event callback the host would
send (HTTP push, encrypted for the app's appKey, eventId kept on retries). `play(sandbox, corp, name, **params)`
runs one action on a DingTalk corp; `sandbox.scenarios.play` picks the half by the corp's platform.
"""
from __future__ import annotations

import json
import random
import secrets
import time
from concurrent.futures import Future
from typing import Any, Callable

from sqlalchemy import func, select

from sandbox import names
from sandbox.core import Corp, SandboxDB
from sandbox.delivery import DeliveryResult
from sandbox.dingtalk.models import (DingTalkError, DtChat, DtCode, DtCrmCustomer, DtDepartment, DtUser, find_user,
                                     unionid)
from sandbox.state import Sandbox

CODE_TTL = 300


# ---------------------------------------------------------------- login codes

def issue_code(db: SandboxDB, corp: Corp, userid: str) -> str:
    """What dd.requestAuthCode gives a page opened by `userid`: a single-use free-login code, valid 5 minutes."""
    code = secrets.token_hex(16)
    with db.session() as s:
        s.add(DtCode(code=code, corp_id=corp.corp_id, userid=userid, expires_at=db.clock.time() + CODE_TTL))
    return code


# ---------------------------------------------------------------- delivery

class Run:
    """One played action: the corp, a random source, and the callbacks it sent."""

    def __init__(self, sandbox: Sandbox, corp: Corp, rng: random.Random):
        self.sandbox, self.db, self.corp, self.rng = sandbox, sandbox.db, corp, rng
        self.futures: list[Future[DeliveryResult]] = []
        self.events: list[str] = []
        self.event_ids: list[str] = []

    def emit(self, event_type: str, data: dict[str, Any], key: str) -> str:
        """Deliver one event as HTTP push; its retries (after 10 s and 30 s) resend the same eventId."""
        from connectors.dingtalk.crypto import DingTalkCrypto

        event_id = secrets.token_hex(16)
        self.events.append(event_type)
        self.event_ids.append(event_id)
        corp = self.corp
        if not corp.callback_url:  # nobody subscribed: the event is lost, as on the host
            return event_id
        now_ms = int(self.db.clock.time() * 1000)
        plain = json.dumps({"EventType": event_type, "eventId": event_id, "CorpId": corp.corp_id,
                            "EventTime": now_ms, "timeStamp": str(now_ms), **data}, ensure_ascii=False)
        crypto = DingTalkCrypto(corp.callback_token or "", corp.callback_aes_key or "", corp.app_key or "")

        def build() -> tuple[dict, bytes, str]:
            nonce, timestamp = secrets.token_hex(4), str(int(time.time() * 1000))
            encrypt, sig = crypto.encrypt(plain, nonce, timestamp)
            return ({"msg_signature": sig, "timestamp": timestamp, "nonce": nonce},
                    json.dumps({"encrypt": encrypt}).encode(), "application/json")

        def accept(resp) -> bool:  # only the encrypted "success" counts as received
            try:
                reply = resp.json()
                return crypto.decrypt(reply["msg_signature"], reply["timeStamp"], reply["nonce"],
                                      reply["encrypt"]) == "success"
            except Exception:
                return False

        self.futures.append(self.sandbox.deliverer.submit(corp.corp_id, corp.callback_url, build,
                                                          platform="dingtalk", event=event_type, key=key,
                                                          accept=accept))
        return event_id


# ---------------------------------------------------------------- address book

def _pick_user(run: Run, userid: str | None) -> DtUser:
    with run.db.session() as s:
        if userid:
            try:
                return find_user(s, run.corp, userid)
            except DingTalkError:  # the control API answers 404 for a LookupError
                raise LookupError(f"no current employee {userid!r}") from None
        users = list(s.scalars(select(DtUser).where(DtUser.corp_id == run.corp.corp_id, DtUser.left.is_(False))))
    if not users:
        raise ValueError("the corp has no employees; seed it first")
    return run.rng.choice(users)


def employee_joins(run: Run, name: str | None = None, department: int = 1) -> dict[str, Any]:
    """An employee joins the organisation: user_add_org."""
    userid = f"dt{secrets.token_hex(4)}"
    depts = sorted({1, int(department)})
    with run.db.session() as s:
        s.add(DtUser(corp_id=run.corp.corp_id, userid=userid, name=name or names.person(run.rng),
                     mobile=names.mobile(run.rng), title=run.rng.choice(names.POSITIONS), dept_ids=depts))
    run.emit("user_add_org", {"userId": [userid]}, key=f"user:{userid}")
    return {"userid": userid}


def employee_changes(run: Run, userid: str | None = None, name: str | None = None,
                     title: str | None = None) -> dict[str, Any]:
    """An org-level field changes (the name unless a title is given): user_modify_org with diffInfo."""
    user = _pick_user(run, userid)
    changes = {"name": name or names.person(run.rng)} if name or not title else {}
    if title:
        changes["title"] = title
    with run.db.session() as s:
        row = s.get(DtUser, user.id)
        prev = {field: getattr(row, field) for field in changes}
        for field, value in changes.items():
            setattr(row, field, value)
    run.emit("user_modify_org", {"userId": [user.userid], "diffInfo": {"prev": prev, "curr": changes,
                                                                       "userid": user.userid}},
             key=f"user:{user.userid}")
    return {"userid": user.userid, **changes}


def employee_leaves(run: Run, userid: str | None = None) -> dict[str, Any]:
    """An employee leaves: user_leave_org; user/get answers 33012 from then on."""
    user = _pick_user(run, userid)
    with run.db.session() as s:
        s.get(DtUser, user.id).left = True
    run.emit("user_leave_org", {"userId": [user.userid]}, key=f"user:{user.userid}")
    return {"userid": user.userid}


def department_changes(run: Run, change: str = "create", dept_id: int | None = None, name: str | None = None,
                       parent_id: int = 1) -> dict[str, Any]:
    """A department is created, renamed or removed: org_dept_create / org_dept_modify / org_dept_remove."""
    if change not in ("create", "modify", "remove"):
        raise ValueError("change must be create, modify or remove")
    cid = run.corp.corp_id
    with run.db.session() as s:
        if change == "create":
            dept_id = (s.scalar(select(func.max(DtDepartment.dept_id)).where(DtDepartment.corp_id == cid)) or 1) + 1
            s.add(DtDepartment(corp_id=cid, dept_id=dept_id, name=name or "新部门", parent_id=int(parent_id)))
        else:
            row = s.scalar(select(DtDepartment).where(DtDepartment.corp_id == cid,
                                                      DtDepartment.dept_id == int(dept_id or 0)))
            if row is None:
                raise ValueError(f"no department {dept_id}")
            if change == "modify":
                row.name = name or row.name + "（调整）"
            else:  # the host refuses to remove a department that still has members or sub-departments
                users = s.scalars(select(DtUser.dept_ids).where(DtUser.corp_id == cid, DtUser.left.is_(False)))
                children = s.scalar(select(DtDepartment.id).where(DtDepartment.corp_id == cid,
                                                                  DtDepartment.parent_id == row.dept_id).limit(1))
                if children or any(row.dept_id in (d or []) for d in users):
                    raise ValueError(f"department {dept_id} still has members or sub-departments")
                s.delete(row)
    run.emit(f"org_dept_{change}", {"deptId": [dept_id]}, key=f"dept:{dept_id}")
    return {"dept_id": dept_id}


# ---------------------------------------------------------------- group chats

CHAT_CHANGES = ("add_member", "remove_member", "quit", "update_owner", "update_title", "disband")


def _pick_chat(run: Run, s, chat_id: str | None) -> DtChat:
    if chat_id:
        chat = s.get(DtChat, chat_id)
        if chat is None or chat.corp_id != run.corp.corp_id or chat.disbanded:
            raise ValueError(f"no group chat {chat_id!r}")
        return chat
    chats = list(s.scalars(select(DtChat).where(DtChat.corp_id == run.corp.corp_id, DtChat.disbanded.is_(False))
                           .order_by(DtChat.chat_id)))
    if not chats:
        raise ValueError("the corp has no group chats; seed it first")
    return run.rng.choice(chats)


def _others(run: Run, pool: list[str], users: list[str] | None, what: str) -> list[str]:
    if users:
        return list(users)
    if not pool:
        raise ValueError(f"no {what} to pick")
    return [run.rng.choice(pool)]


def group_chat(run: Run, change: str = "add_member", chat_id: str | None = None, users: list[str] | None = None,
               title: str | None = None) -> dict[str, Any]:
    """A group chat changes (chat_add_member, chat_remove_member, chat_quit, chat_update_owner, chat_update_title,
    chat_disband); `users` are the members added, removed or quitting, or the new owner."""
    if change not in CHAT_CHANGES:
        raise ValueError(f"change must be one of {CHAT_CHANGES}")
    with run.db.session() as s:
        chat = _pick_chat(run, s, chat_id)
        members, operator, extra = list(chat.members), chat.owner, {}
        if change == "add_member":
            staff = s.scalars(select(DtUser.userid).where(DtUser.corp_id == run.corp.corp_id, DtUser.left.is_(False)))
            affected = _others(run, [u for u in staff if u not in members], users, "employee outside the chat")
            chat.members = members + [u for u in affected if u not in members]
        elif change in ("remove_member", "quit"):
            affected = _others(run, [u for u in members if u != chat.owner], users, "member besides the owner")
            operator = affected[0] if change == "quit" else chat.owner
            chat.members = [u for u in members if u not in affected]
        elif change == "update_owner":
            affected = _others(run, [u for u in members if u != chat.owner], users, "member to make owner")
            chat.owner = affected[0]
        elif change == "update_title":
            affected, chat.title = [], title or run.rng.choice(names.CHAT_NAMES) + "（新）"
            extra = {"title": chat.title}
        else:
            affected, chat.disbanded = members, True
        data = {"chatId": chat.chat_id, "openConversationId": chat.open_conversation_id, "operator": operator,
                "operatorUnionId": unionid(operator), "userId": affected,
                "unionId": [unionid(u) for u in affected], **extra}
        result = {"chat_id": chat.chat_id, "users": affected, "owner": chat.owner, "title": chat.title}
    run.emit(f"chat_{change}", data, key=f"chat:{result['chat_id']}")
    return result


# ---------------------------------------------------------------- CRM and login

def crm_record_changed(run: Run, change: str = "update", data_id: str | None = None,
                       name: str | None = None) -> dict[str, Any]:
    """A personal CRM customer is created, edited or deleted in DingTalk's CRM: ding_paas_object_data_*."""
    if change not in ("create", "update", "delete"):
        raise ValueError("change must be create, update or delete")
    cid = run.corp.corp_id
    with run.db.session() as s:
        if change == "create":
            owner = _pick_user(run, None).userid
            row = DtCrmCustomer(instance_id=data_id or secrets.token_hex(10), corp_id=cid,
                                data={"customer_name": name or run.rng.choice(names.COMPANIES)}, owner_ids=[owner],
                                updated_at=run.db.clock.time())
            s.add(row)
        else:
            rows = [s.get(DtCrmCustomer, data_id)] if data_id else list(s.scalars(
                select(DtCrmCustomer).where(DtCrmCustomer.corp_id == cid).order_by(DtCrmCustomer.instance_id)))
            row = run.rng.choice(rows) if rows else None
            if row is None or row.corp_id != cid:
                raise ValueError(f"no CRM customer {data_id!r}" if data_id else "the corp has no CRM customers")
            if change == "update":
                row.data = {**row.data, "customer_name": name or row.data.get("customer_name", "") + "（更新）"}
                row.updated_at = run.db.clock.time()
            else:
                s.delete(row)
        data_id, data = row.instance_id, dict(row.data)
    payload = {"DataId": data_id, "DataType": "master", "ObjectType": "crm_customer_personal"}
    if change == "update":
        payload["FormCode"] = "PROC-CRM-PERSONAL-CUSTOMER"
    run.emit(f"ding_paas_object_data_{change}", payload, key=f"crm:{data_id}")
    return {"data_id": data_id, "data": data}


def login(run: Run, userid: str | None = None) -> dict[str, Any]:
    """An employee opens the H5 app: the free-login code its page would get."""
    user = _pick_user(run, userid)
    return {"userid": user.userid, "code": issue_code(run.db, run.corp, user.userid)}


ACTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    fn.__name__: fn for fn in (employee_joins, employee_changes, employee_leaves, department_changes, group_chat,
                               crm_record_changed, login)}
ACTIONS.update(join=employee_joins, leave=employee_leaves)


def play(sandbox: Sandbox, corp: Corp, name: str, /, *, wait: bool = False, rng: random.Random | int | None = None,
         **params: Any) -> dict[str, Any]:
    """Run one DingTalk action by name; with wait=True also wait for its callbacks and report them."""
    fn = ACTIONS.get(name)
    if fn is None:
        raise ValueError(f"unknown DingTalk action {name!r}; known: {', '.join(sorted(ACTIONS))}")
    run = Run(sandbox, corp, rng if isinstance(rng, random.Random) else random.Random(rng))
    result = fn(run, **params)
    out = {"scenario": name, "result": result, "events": run.events, "event_ids": run.event_ids,
           "callbacks": len(run.futures)}
    if wait:
        done = [f.result() for f in run.futures]
        out["delivered"] = sum(1 for r in done if r.delivered)
        out["attempts"] = sum(r.attempts for r in done)
    return out
