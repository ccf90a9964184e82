"""Contact ways, welcome messages and mass messages (doc 92572, 92137, 92135, 93338)."""
from __future__ import annotations

import secrets
from typing import Any

from flask import url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.sandbox.wecom.base import Ctx, WeComError, api, cursor_out, int_cursor, page_limit, user
from connectors.sandbox.wecom.models import (ContactWay, Department, Follow, GroupChat, MassMessage, MassTarget,
                                             WELCOME_TTL, WelcomeCode, new_id)

# ---------------------------------------------------------------- contact ways and welcome


def qr_url(config_id: str) -> str:
    return url_for("sandbox_wecom.qr_png", config_id=config_id, _external=True)


def _contact_way_json(w: ContactWay) -> dict[str, Any]:
    out = {"config_id": w.config_id, "type": w.type, "scene": w.scene, "style": w.style, "remark": w.remark,
           "skip_verify": w.skip_verify, "state": w.state, "user": w.users, "party": w.parties,
           "is_temp": w.is_temp}
    if w.scene == 2:
        out["qr_code"] = qr_url(w.config_id)
    if w.is_temp:
        out["expires_in"] = w.expires_in
    return out


def _apply_contact_way(ctx: Ctx, w: ContactWay) -> None:
    state = ctx.opt("state", w.state, kind=str)
    if len(state) > 30:
        raise WeComError(40058, "state longer than 30")
    remark_ = ctx.opt("remark", w.remark, kind=str)
    if len(remark_) > 30:
        raise WeComError(40058, "remark longer than 30")
    users = ctx.opt("user", w.users, kind=list)
    parties = ctx.opt("party", w.parties, kind=list)
    if w.type == 1 and (len(users) != 1 or parties):
        raise WeComError(40058, "a single contact way takes exactly one user")
    if w.type == 2 and not users and not parties:
        raise WeComError(40058, "user or party required")
    if len(users) > 100:
        raise WeComError(40058, "more than 100 users")
    for userid in users:
        member = user(ctx, userid)
        if member.status == 4:
            raise WeComError(41054, userid)
    for party in parties:
        if ctx.s.get(Department, (ctx.corp.corp_id, int(party))) is None:
            raise WeComError(60123, str(party))
    if w.is_temp:
        expires_in = int(ctx.opt("expires_in", w.expires_in or 7 * 86400, kind=int))
        if not 0 < expires_in <= 14 * 86400:
            raise WeComError(40058, "expires_in at most 14 days")
        w.expires_in = expires_in
    w.state, w.remark, w.users, w.parties = state, remark_, list(users), [int(p) for p in parties]
    w.skip_verify = bool(ctx.opt("skip_verify", w.skip_verify, kind=bool))
    w.style = int(ctx.opt("style", w.style, kind=int))


@api("externalcontact/add_contact_way")
def add_contact_way(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/add_contact_way (doc 92572): state <= 30 chars, type 1 takes exactly one user."""
    kind = ctx.need("type", 41037, kind=int)
    scene = ctx.need("scene", 41038, kind=int)
    if kind not in (1, 2):
        raise WeComError(41039)
    if scene not in (1, 2):
        raise WeComError(41040)
    w = ContactWay(config_id=secrets.token_hex(16), corp_id=ctx.corp.corp_id, type=kind, scene=scene, style=0,
                   remark="", skip_verify=True, state="", users=[], parties=[],
                   is_temp=bool(ctx.opt("is_temp", False, kind=bool)), expires_in=0, created_at=ctx.now)
    if w.is_temp and kind != 1:
        raise WeComError(40058, "temporary contact ways are single only")
    _apply_contact_way(ctx, w)
    ctx.s.add(w)
    out = {"config_id": w.config_id}
    if scene == 2:
        out["qr_code"] = qr_url(w.config_id)
    return out


def _contact_way(ctx: Ctx) -> ContactWay:
    config_id = ctx.need("config_id", 41043)
    w = ctx.s.get(ContactWay, config_id)
    if w is None or w.corp_id != ctx.corp.corp_id:
        raise WeComError(41044)
    return w


@api("externalcontact/get_contact_way")
def get_contact_way(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/get_contact_way (doc 92572)."""
    return {"contact_way": _contact_way_json(_contact_way(ctx))}


@api("externalcontact/update_contact_way")
def update_contact_way(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/update_contact_way (doc 92572): fields left out keep their value."""
    _apply_contact_way(ctx, _contact_way(ctx))
    return {}


@api("externalcontact/del_contact_way")
def del_contact_way(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/del_contact_way (doc 92572)."""
    ctx.s.delete(_contact_way(ctx))
    return {}


@api("externalcontact/send_welcome_msg")
def send_welcome_msg(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/send_welcome_msg (doc 92137): a code works once, within 20 s of the add."""
    code = ctx.need("welcome_code", 41049)
    text = ctx.opt("text", {}, kind=dict)
    attachments = ctx.opt("attachments", [], kind=list)
    if len(attachments) > 9:
        raise WeComError(41064)
    if not text.get("content") and not attachments:
        raise WeComError(40058, "text or attachments required")
    if len(str(text.get("content", "")).encode()) > 4000:
        raise WeComError(40058, "text longer than 4000 bytes")
    row = ctx.s.get(WelcomeCode, code)
    if row is None or row.corp_id != ctx.corp.corp_id:
        raise WeComError(41050)
    if row.used or ctx.now - row.issued_at > WELCOME_TTL:
        raise WeComError(41051)
    row.used = True
    row.message = {"text": text, "attachments": attachments, "sent_at": ctx.now}
    return {}


def issue_welcome_code(s: Session, corp_id: str, userid: str, external_userid: str, now: float) -> str:
    code = secrets.token_urlsafe(32)
    s.add(WelcomeCode(code=code, corp_id=corp_id, userid=userid, external_userid=external_userid, issued_at=now))
    return code


# ---------------------------------------------------------------- mass messages


@api("externalcontact/add_msg_template")
def add_msg_template(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/add_msg_template (doc 92135): tasks wait for each member to confirm."""
    chat_type = ctx.opt("chat_type", "single", kind=str)
    if chat_type not in ("single", "group"):
        raise WeComError(40058, "chat_type")
    sender = ctx.opt("sender", kind=str)
    if sender:
        user(ctx, sender)
    text = ctx.opt("text", {}, kind=dict)
    attachments = ctx.opt("attachments", [], kind=list)
    if len(attachments) > 9:
        raise WeComError(41064)
    content = str(text.get("content", ""))
    if len(content.encode()) > 4000:
        raise WeComError(40058, "text longer than 4000 bytes")
    if not content and not attachments:
        raise WeComError(40058, "text or attachments required")
    corp_id = ctx.corp.corp_id
    msgid = "msg" + new_id("", 24)
    fail: list[str] = []
    targets: list[MassTarget] = []
    if chat_type == "single":
        wanted = ctx.opt("external_userid", [], kind=list)
        if len(wanted) > 10000:
            raise WeComError(40058, "external_userid holds at most 10000 ids")
        q = select(Follow.userid, Follow.external_userid).where(Follow.corp_id == corp_id)
        if sender:
            q = q.where(Follow.userid == sender)
        if wanted:
            q = q.where(Follow.external_userid.in_(wanted))
        elif not sender:
            raise WeComError(40058, "sender or external_userid required")
        pairs = list(ctx.s.execute(q.order_by(Follow.id)))
        reached = {ext for _, ext in pairs}
        fail = [e for e in wanted if e not in reached]
        targets = [MassTarget(msgid=msgid, userid=u, external_userid=e) for u, e in pairs]
    else:
        if not sender:
            raise WeComError(40058, "sender required for group messages")
        chats = ctx.opt("chat_id_list", [], kind=list)
        q = select(GroupChat.chat_id).where(GroupChat.corp_id == corp_id, GroupChat.owner == sender)
        if chats:
            q = q.where(GroupChat.chat_id.in_(chats))
        owned = list(ctx.s.scalars(q))
        fail = [c for c in chats if c not in set(owned)]
        targets = [MassTarget(msgid=msgid, userid=sender, chat_id=c) for c in owned]
    if not targets:
        raise WeComError(41048)
    ctx.s.add(MassMessage(msgid=msgid, corp_id=corp_id, chat_type=chat_type, creator=sender or "",
                          create_type=0, create_time=int(ctx.now),
                          text=content, attachments=attachments))
    ctx.s.add_all(targets)
    return {"fail_list": fail, "msgid": msgid}


@api("externalcontact/get_groupmsg_list_v2")
def get_groupmsg_list_v2(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/get_groupmsg_list_v2 (doc 93338): a span of at most one month, limit <= 100."""
    chat_type = ctx.need("chat_type", 40058)
    start, end = int(ctx.need("start_time", 40058, kind=int)), int(ctx.need("end_time", 40058, kind=int))
    if end < start or end - start > 31 * 86400:
        raise WeComError(40058, "time span must be within one month")
    limit = page_limit(ctx, "limit", 50, 100)
    filter_type = int(ctx.opt("filter_type", 2, kind=int))
    offset = int_cursor(ctx.opt("cursor"))
    q = select(MassMessage).where(MassMessage.corp_id == ctx.corp.corp_id, MassMessage.chat_type == chat_type,
                                  MassMessage.create_time.between(start, end))
    if ctx.opt("creator"):
        q = q.where(MassMessage.creator == ctx.opt("creator"))
    if filter_type in (0, 1):
        q = q.where(MassMessage.create_type == filter_type)
    rows = list(ctx.s.scalars(q.order_by(MassMessage.create_time, MassMessage.msgid).offset(offset).limit(limit + 1)))
    more = len(rows) > limit
    return {"group_msg_list": [{"msgid": m.msgid, "creator": m.creator, "create_time": str(m.create_time),
                                "create_type": m.create_type, "text": {"content": m.text},
                                "attachments": m.attachments or []} for m in rows[:limit]],
            "next_cursor": cursor_out(offset + limit) if more else ""}


def _mass_message(ctx: Ctx) -> MassMessage:
    msgid = ctx.need("msgid", 41046)
    m = ctx.s.get(MassMessage, msgid)
    if m is None or m.corp_id != ctx.corp.corp_id:
        raise WeComError(41047)
    return m


@api("externalcontact/get_groupmsg_task")
def get_groupmsg_task(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/get_groupmsg_task (doc 93338): per member, 0 unsent / 2 sent; limit <= 1000."""
    m = _mass_message(ctx)
    limit = page_limit(ctx, "limit", 500, 1000)
    offset = int_cursor(ctx.opt("cursor"))
    rows = list(ctx.s.execute(select(MassTarget.userid, func.min(MassTarget.status), func.max(MassTarget.send_time))
                              .where(MassTarget.msgid == m.msgid).group_by(MassTarget.userid)
                              .order_by(MassTarget.userid).offset(offset).limit(limit + 1)))
    more = len(rows) > limit
    return {"task_list": [{"userid": u, "status": 2 if low > 0 else 0, **({"send_time": t} if low > 0 else {})}
                          for u, low, t in rows[:limit]],
            "next_cursor": cursor_out(offset + limit) if more else ""}


@api("externalcontact/get_groupmsg_send_result")
def get_groupmsg_send_result(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/get_groupmsg_send_result (doc 93338): per recipient of one member; limit <= 1000."""
    m = _mass_message(ctx)
    userid = ctx.need("userid", 41009)
    limit = page_limit(ctx, "limit", 500, 1000)
    after = int_cursor(ctx.opt("cursor"))
    rows = list(ctx.s.scalars(select(MassTarget).where(MassTarget.msgid == m.msgid, MassTarget.userid == userid,
                                                       MassTarget.id > after).order_by(MassTarget.id).limit(limit + 1)))
    more = len(rows) > limit
    out = []
    for t in rows[:limit]:
        item = {"userid": t.userid, "status": t.status}
        item.update({"chat_id": t.chat_id} if t.chat_id else {"external_userid": t.external_userid})
        if t.send_time:
            item["send_time"] = t.send_time
        out.append(item)
    return {"send_list": out, "next_cursor": cursor_out(rows[limit - 1].id) if more else ""}
