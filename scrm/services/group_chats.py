"""Customer group chats: kept current from the host, with joins and leaves on the customers' timelines."""
from __future__ import annotations

from sqlalchemy import func, select

from scrm.events import GroupChatChanged
from scrm.extensions import db
from scrm.host import Host, HostGroupChat, HostGroupMember, HostNotFound, HostUnsupported
from scrm.models import Corp, GroupChat, GroupMember, utcnow
from scrm.services import timeline
from scrm.services.event_context import EventContext
from scrm.services.org import find_employee
from scrm.services.relations import find_customer

_DISMISSED = {"dismiss", "disband"}
_LEFT = {"del_member", "remove_member", "quit"}


def _chat(corp: Corp, chat_id: str) -> GroupChat:
    chat = db.session.scalar(select(GroupChat).where(GroupChat.corp_id == corp.id, GroupChat.host_id == chat_id))
    if chat is None:
        chat = GroupChat(corp_id=corp.id, host_id=chat_id, name="")
        db.session.add(chat)
        db.session.flush()
    return chat


def _join(corp: Corp, chat: GroupChat, member: HostGroupMember, ctx: EventContext, at) -> None:
    row = db.session.scalar(select(GroupMember).where(GroupMember.group_chat_id == chat.id,
                                                      GroupMember.member_host_id == member.user_id))
    fresh = row is None or row.left_at is not None
    if row is None:
        row = GroupMember(group_chat_id=chat.id, member_host_id=member.user_id, type=member.type)
        db.session.add(row)
    row.left_at = None
    row.nickname = member.nickname or member.name or row.nickname
    row.join_time, row.join_scene, row.invitor = member.join_time, member.join_scene, member.invitor
    if member.type == 1:
        emp = find_employee(corp, member.user_id)
        row.employee_id = emp.id if emp else None
    else:
        customer = find_customer(corp, member.user_id)
        row.customer_id = customer.id if customer else None
        if customer is not None and fresh:
            db.session.flush()
            timeline.record(corp_id=corp.id, customer_id=customer.id, kind="group_joined",
                            payload={"chat_id": chat.host_id, "chat": chat.name, "scene": member.join_scene},
                            occurred_at=member.join_time or at, dedupe_key=ctx.key("group_joined", row.id))


def _leave(corp: Corp, chat: GroupChat, row: GroupMember, ctx: EventContext, at) -> None:
    row.left_at = at or utcnow()
    if row.customer_id:
        timeline.record(corp_id=corp.id, customer_id=row.customer_id, kind="group_left",
                        payload={"chat_id": chat.host_id, "chat": chat.name}, occurred_at=row.left_at,
                        dedupe_key=ctx.key("group_left", row.id))


def apply_group_chat(corp: Corp, hc: HostGroupChat, ctx: EventContext, at=None) -> GroupChat:
    """Make the local chat match the host's full view of it."""
    chat = _chat(corp, hc.chat_id)
    chat.name, chat.notice, chat.host_created_at = hc.name, hc.notice, hc.created_at
    owner = find_employee(corp, hc.owner_id) if hc.owner_id else None
    chat.owner_id = owner.id if owner else None
    chat.status = "active" if hc.status in (0, None) else chat.status
    present = {m.user_id for m in hc.members}
    for member in hc.members:
        _join(corp, chat, member, ctx, at)
    for row in db.session.scalars(select(GroupMember).where(GroupMember.group_chat_id == chat.id,
                                                            GroupMember.left_at.is_(None))):
        if row.member_host_id not in present:
            _leave(corp, chat, row, ctx, at)
    return chat


def _apply_event_only(corp: Corp, event: GroupChatChanged, ctx: EventContext) -> None:
    """DingTalk offers no chat read API to internal apps: apply what the event itself says."""
    chat = _chat(corp, event.chat_id)
    if event.change in _LEFT:
        for row in db.session.scalars(select(GroupMember).where(
                GroupMember.group_chat_id == chat.id, GroupMember.member_host_id.in_(event.member_ids))):
            _leave(corp, chat, row, ctx, event.occurred_at)
    elif event.change == "add_member":
        for user_id in event.member_ids:
            _join(corp, chat, HostGroupMember(user_id=user_id, type=1), ctx, event.occurred_at)


def on_group_chat_changed(corp: Corp, event: GroupChatChanged, host: Host, ctx: EventContext) -> None:
    if event.change in _DISMISSED:
        chat = _chat(corp, event.chat_id)
        chat.status = "dismissed"
        return
    try:
        hc = host.get_group_chat(event.chat_id)
    except HostUnsupported:
        _apply_event_only(corp, event, ctx)
        return
    except HostNotFound:
        _chat(corp, event.chat_id).status = "dismissed"
        return
    apply_group_chat(corp, hc, ctx, event.occurred_at)


def list_group_chats(corp: Corp) -> list[dict]:
    """The corp's customer group chats with their current member counts."""
    counts = dict(db.session.execute(select(GroupMember.group_chat_id, func.count()).join(GroupChat).where(
        GroupChat.corp_id == corp.id, GroupMember.left_at.is_(None)).group_by(GroupMember.group_chat_id)).all())
    chats = db.session.scalars(select(GroupChat).where(GroupChat.corp_id == corp.id).order_by(GroupChat.id))
    return [{"id": c.id, "name": c.name, "status": c.status, "owner_id": c.owner_id, "members": counts.get(c.id, 0)}
            for c in chats]
