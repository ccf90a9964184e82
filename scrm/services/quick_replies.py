"""The quick-reply library (话术库): admins keep groups of ready messages; every salesperson reads and searches
them, and each send from the sidebar is counted. A reply is one message of one type (the sidebar sets only the
chosen type: mobile clients refuse a message with several): text, or a link / image / mini-program attachment
checked as welcome messages are (images are uploaded media, reused while the host keeps them)."""
from __future__ import annotations

from sqlalchemy import func, select, update

from scrm.db import unit_of_work
from scrm.errors import Conflict, NotFound, ValidationError
from scrm.extensions import db
from scrm.models import Corp, QuickReply, QuickReplyGroup
from scrm.services import media
from scrm.services.corps import host_for
from scrm.services.welcome import MAX_TEXT_BYTES, check_attachment

MAX_GROUPS = 200
MAX_REPLIES = 5000


def _name(value: object, field: str, limit: int = 64) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > limit:
        raise ValidationError(field, f"is required, at most {limit} characters")
    return text


def check_content(corp: Corp, content: object) -> dict:
    if not isinstance(content, dict) or content.get("type") not in ("text", "link", "image", "miniprogram"):
        raise ValidationError("content.type", "must be text, link, image or miniprogram")
    if content["type"] != "text":
        return check_attachment(corp, content, "content")
    if set(content) - {"type", "text"}:
        raise ValidationError("content", f"unknown fields for text: {sorted(set(content) - {'type', 'text'})}")
    text = content.get("text")
    if not isinstance(text, str) or not text.strip() or len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise ValidationError("content.text", f"is required, at most {MAX_TEXT_BYTES} bytes (UTF-8)")
    return {"type": "text", "text": text}


def _group(corp: Corp, group_id: object, field: str = "group_id") -> QuickReplyGroup:
    group = db.session.get(QuickReplyGroup, group_id) if isinstance(group_id, int) else None
    if group is None or group.corp_id != corp.id:
        raise (ValidationError(field, f"no group {group_id}") if field else NotFound(f"no group {group_id}"))
    return group


def _reply(corp: Corp, reply_id: int) -> QuickReply:
    reply = db.session.get(QuickReply, reply_id)
    if reply is None or reply.corp_id != corp.id:
        raise NotFound(f"no quick reply {reply_id}")
    return reply


def describe(reply: QuickReply) -> dict:
    return {"id": reply.id, "group_id": reply.group_id, "title": reply.title, "content": reply.content,
            "order": reply.order, "uses": reply.uses}


def library(corp: Corp, *, q: str | None = None, group_id: int | None = None) -> dict:
    """The groups in order, each with its replies (searched by title or text when `q` is given)."""
    groups = list(db.session.scalars(select(QuickReplyGroup).where(QuickReplyGroup.corp_id == corp.id)
                                     .order_by(QuickReplyGroup.order, QuickReplyGroup.id)))
    query = select(QuickReply).where(QuickReply.corp_id == corp.id).order_by(QuickReply.order, QuickReply.id)
    if group_id is not None:
        query = query.where(QuickReply.group_id == group_id)
    replies = list(db.session.scalars(query))
    if q:
        needle = q.casefold()
        replies = [r for r in replies if needle in r.title.casefold()
                   or needle in str(r.content.get("text") or r.content.get("title") or "").casefold()]
    by_group: dict[int, list[dict]] = {}
    for reply in replies:
        by_group.setdefault(reply.group_id, []).append(describe(reply))
    return {"groups": [{"id": g.id, "name": g.name, "order": g.order, "replies": by_group.get(g.id, [])}
                       for g in groups if group_id is None or g.id == group_id]}


def create_group(corp: Corp, name: object, order: int = 0) -> dict:
    with unit_of_work():
        if db.session.scalar(select(func.count()).select_from(QuickReplyGroup).where(
                QuickReplyGroup.corp_id == corp.id)) >= MAX_GROUPS:
            raise Conflict(f"at most {MAX_GROUPS} groups")
        group = QuickReplyGroup(corp_id=corp.id, name=_name(name, "name"), order=order)
        db.session.add(group)
    return {"id": group.id, "name": group.name, "order": group.order}


def edit_group(corp: Corp, group_id: int, *, name: object = None, order: int | None = None) -> dict:
    with unit_of_work():
        group = _group(corp, group_id, field="")
        if name is not None:
            group.name = _name(name, "name")
        if order is not None:
            group.order = order
    return {"id": group.id, "name": group.name, "order": group.order}


def delete_group(corp: Corp, group_id: int) -> None:
    with unit_of_work():
        group = _group(corp, group_id, field="")
        if db.session.scalar(select(QuickReply.id).where(QuickReply.group_id == group.id).limit(1)):
            raise Conflict("the group still holds replies: move or delete them first")
        db.session.delete(group)


def create(corp: Corp, *, group_id: int, title: object, content: object, order: int = 0) -> dict:
    with unit_of_work():
        group = _group(corp, group_id)
        if db.session.scalar(select(func.count()).select_from(QuickReply).where(
                QuickReply.corp_id == corp.id)) >= MAX_REPLIES:
            raise Conflict(f"at most {MAX_REPLIES} quick replies")
        reply = QuickReply(corp_id=corp.id, group_id=group.id, title=_name(title, "title"),
                           content=check_content(corp, content), order=order, uses=0)
        db.session.add(reply)
    return describe(reply)


def edit(corp: Corp, reply_id: int, **changes) -> dict:
    with unit_of_work():
        reply = _reply(corp, reply_id)
        if "group_id" in changes:
            reply.group_id = _group(corp, changes["group_id"]).id
        if "title" in changes:
            reply.title = _name(changes["title"], "title")
        if "content" in changes:
            reply.content = check_content(corp, changes["content"])
        if "order" in changes:
            reply.order = changes["order"]
    return describe(reply)


def delete(corp: Corp, reply_id: int) -> None:
    with unit_of_work():
        db.session.delete(_reply(corp, reply_id))


def used(corp: Corp, reply_id: int) -> dict:
    """A salesperson sent it: counted (one UPDATE, so concurrent sends all count)."""
    with unit_of_work():
        reply = _reply(corp, reply_id)
        db.session.execute(update(QuickReply).where(QuickReply.id == reply.id).values(uses=QuickReply.uses + 1)
                           .execution_options(synchronize_session=False))
    db.session.refresh(reply)
    return describe(reply)


def chat_message(corp: Corp, reply_id: int, *, link_picture: str) -> dict:
    """The reply as the sidebar hands it to `sendChatMessage`: only the chosen message type is set (the mobile
    client refuses a message with others), a link card always has a picture (the PC client needs one: the
    reply's own or `link_picture`), an image is the host's media id, uploaded once and reused while the host
    keeps it (3 days), and a mini-program card's picture is an address the client can fetch."""
    content = _reply(corp, reply_id).content
    kind = content.get("type")
    if kind == "text":
        return {"msgtype": "text", "text": {"content": content["text"]}}
    if kind == "link":
        return {"msgtype": "news", "news": {"link": content["url"], "title": content["title"],
                                            "desc": content.get("desc") or "",
                                            "imgUrl": content.get("pic_url") or link_picture}}
    if kind == "image":
        return {"msgtype": "image", "image": {"mediaid": media.host_media_id(corp, content["media_id"],
                                                                            host_for(corp))}}
    return {"msgtype": "miniprogram", "miniprogram": {"appid": content["appid"], "title": content["title"],
                                                      "imgUrl": media.public_url(content["media_id"]),
                                                      "page": content["page"]}}
