"""Contact ways, temporary media, welcome messages and mass messages (doc 92572, 90253, 92137, 92135, 93338)."""
from __future__ import annotations

import hashlib
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import url_for
from sqlalchemy import func, select

from sandbox.wecom.endpoints.base import Ctx, WeComError, api, cursor_out, int_cursor, page_limit, user
from sandbox.wecom.models import (LEFT, ContactWay, Department, Follow, GroupChat, MassMessage, MassTarget, MEDIA_TTL,
                                  Media, User, WELCOME_TTL, WelcomeCode, new_id)

MB = 1024 * 1024
# media/upload's types, their size limit and the formats the host checks in the content (doc 90253); file: any
MEDIA_TYPES: dict[str, tuple[int, frozenset[str]]] = {
    "image": (10 * MB, frozenset({"jpg", "png"})), "voice": (2 * MB, frozenset({"amr"})),
    "video": (10 * MB, frozenset({"mp4"})), "file": (20 * MB, frozenset()),
}
MEDIA_MIN_SIZE = 5  # "所有文件size必须大于5个字节"
# attachment kinds of welcome and mass messages (doc 92137) and the media type each one's id must be
ATTACHMENT_MEDIA = {"image": "image", "link": None, "miniprogram": "image", "video": "video", "file": "file"}
MAX_WAY_USERS = 100  # members of a contact way, its departments' members counted (41041, doc 92228)

# ---------------------------------------------------------------- contact ways


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


def _party_members(ctx: Ctx, parties: list) -> set[str]:
    """The members of these departments and of their sub-departments."""
    if not parties:
        return set()
    rows = list(ctx.s.execute(select(Department.dept_id, Department.parent_id)
                              .where(Department.corp_id == ctx.corp.corp_id)))
    depts, changed = {int(p) for p in parties}, True
    while changed:
        before = len(depts)
        depts |= {d for d, p in rows if p in depts}
        changed = len(depts) != before
    users = ctx.s.scalars(select(User).where(User.corp_id == ctx.corp.corp_id, User.status != LEFT))
    return {u.userid for u in users if depts.intersection(u.department or [])}


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
    for userid in users:
        member = user(ctx, userid)
        if member.status == 4:
            raise WeComError(41054, userid)
    for party in parties:
        if ctx.s.get(Department, (ctx.corp.corp_id, int(party))) is None:
            raise WeComError(60123, str(party))
    if len(set(users) | _party_members(ctx, parties)) > MAX_WAY_USERS:
        raise WeComError(41041)
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


# ---------------------------------------------------------------- temporary media and attachments


def _format(head: bytes) -> str | None:
    """The format of a file from its first bytes: the host looks at the content, not at the file name."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"#!AMR\n"):
        return "amr"
    if head[4:8] == b"ftyp":
        return "mp4"
    return None


@api("media/upload")
def media_upload(ctx: Ctx) -> dict[str, Any]:
    """POST media/upload?type= (doc 90253): multipart field `media`, valid 3 days; only a digest is kept."""
    kind = ctx.args.get("type", "")
    if kind not in MEDIA_TYPES:
        raise WeComError(40005, kind)
    media = ctx.files.get("media")
    if media is None:
        raise WeComError(44001)
    digest, size, head = hashlib.sha256(), 0, b""
    for chunk in iter(lambda: media.stream.read(64 * 1024), b""):
        head = head or chunk[:16]
        digest.update(chunk)
        size += len(chunk)
    limit, formats = MEDIA_TYPES[kind]
    if size == 0:
        raise WeComError(44001)
    if not MEDIA_MIN_SIZE < size <= limit:
        raise WeComError(40006, f"{kind} must be {MEDIA_MIN_SIZE} B to {limit // MB} MB")
    if formats and _format(head) not in formats:
        raise WeComError(40004, f"{kind} must be {'/'.join(sorted(formats))}")
    row = Media(media_id=new_id("1", 43), corp_id=ctx.corp.corp_id, type=kind, sha256=digest.hexdigest(), size=size,
                created_at=ctx.now)
    ctx.s.add(row)
    return {"type": kind, "media_id": row.media_id, "created_at": str(int(row.created_at))}


def _media(ctx: Ctx, media_id: Any, kind: str) -> None:
    """A media id of this corp, of the right type, uploaded less than 3 days ago on the sandbox clock."""
    if not media_id or not isinstance(media_id, str):
        raise WeComError(41006)
    row = ctx.s.get(Media, media_id)
    if row is None or row.corp_id != ctx.corp.corp_id or row.type != kind or ctx.now >= row.created_at + MEDIA_TTL:
        raise WeComError(40007, media_id)


def _field(body: dict[str, Any], key: str, max_bytes: int, *, required: bool = False) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise WeComError(40058, f"{key} must be a string")
    if required and not value:
        raise WeComError(40058, f"{key} required")
    if len(value.encode()) > max_bytes:
        raise WeComError(40058, f"{key} longer than {max_bytes} bytes")
    return value


def _check_attachments(ctx: Ctx, attachments: list[Any]) -> None:
    """Welcome and mass-message attachments as the host checks them (doc 92137): at most 9, each well formed."""
    if len(attachments) > 9:
        raise WeComError(41064)
    for item in attachments:
        kind = item.get("msgtype") if isinstance(item, dict) else None
        if kind not in ATTACHMENT_MEDIA:
            raise WeComError(41065, str(kind))
        body = item.get(kind)
        if not isinstance(body, dict):
            raise WeComError(40058, f"{kind} required")
        if kind == "link":
            _field(body, "title", 128, required=True)
            _field(body, "picurl", 2048)
            _field(body, "desc", 512)
            url = urlsplit(_field(body, "url", 2048, required=True))
            if url.scheme not in ("http", "https") or not url.netloc:
                raise WeComError(40058, "link url must be http(s)")
        elif kind == "miniprogram":
            _field(body, "title", 64, required=True)
            _field(body, "appid", 64, required=True)
            _field(body, "page", 2048, required=True)
            _media(ctx, body.get("pic_media_id"), "image")
        else:
            _media(ctx, body.get("media_id"), ATTACHMENT_MEDIA[kind])


# ---------------------------------------------------------------- welcome messages


@api("externalcontact/send_welcome_msg")
def send_welcome_msg(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/send_welcome_msg (doc 92137): a code works once, within 20 s of the add (41050 after)."""
    code = ctx.need("welcome_code", 41049)
    text = ctx.opt("text", {}, kind=dict)
    attachments = ctx.opt("attachments", [], kind=list)
    _check_attachments(ctx, attachments)
    if not text.get("content") and not attachments:
        raise WeComError(40058, "text or attachments required")
    if len(str(text.get("content", "")).encode()) > 4000:
        raise WeComError(40058, "text longer than 4000 bytes")
    row = ctx.s.get(WelcomeCode, code)
    # 41050: invalid, or its 20 seconds are over; 41051: the pair already chats, which is what a caller hears after
    # the code was used (by this app or another)
    if row is None or row.corp_id != ctx.corp.corp_id or ctx.now - row.issued_at > WELCOME_TTL:
        raise WeComError(41050)
    if row.used:
        raise WeComError(41051)
    row.used = True
    row.message = {"text": text, "attachments": attachments, "sent_at": ctx.now}
    return {}


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
    _check_attachments(ctx, attachments)
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
