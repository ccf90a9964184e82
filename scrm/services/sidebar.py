"""What the chat sidebar shows a signed-in employee: the customer of a single chat (found by the host's id, as the
JS-SDK gives it) or the group chat of a group chat, within what their role may see (`access`), and the group's
notes. A customer or chat outside that scope is NotFound, like a missing one."""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import or_, select

from scrm.db import unit_of_work
from scrm.errors import NotFound, ValidationError
from scrm.extensions import db
from scrm.models import (Channel, Customer, Employee, GroupChat, GroupMember, GroupNote, Relationship,
                         RelationshipTag, Tag)
from scrm.services import customers, tag_library
from scrm.services.access import Principal, in_scope, visible_customers

HOST_ID_MAX = 128
NOTE_MAX = customers.MAX_NOTE
TIMELINE = 30


def _host_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > HOST_ID_MAX:
        raise NotFound(f"no {what} {value!r}")
    return value


class Found(NamedTuple):
    customer_id: int
    relationship_id: int | None  # the principal's own active relationship with the customer, if any


def find_customer(principal: Principal, external_userid: str) -> Found:
    """The visible customer of this host id (NotFound otherwise), with the principal's own relationship."""
    host_id = _host_id(external_userid, "customer")
    return _found(principal, Customer.host_id == host_id, host_id)


def find_by_id(principal: Principal, customer_id: int) -> Found:
    """The visible customer of this id of ours (NotFound otherwise), with the principal's own relationship."""
    return _found(principal, Customer.id == customer_id, customer_id)


def _found(principal: Principal, which, shown) -> Found:
    customer_id = db.session.scalar(visible_customers(principal, select(Customer.id).where(which)))
    if customer_id is None:
        raise NotFound(f"no customer {shown}")
    mine = db.session.scalar(select(Relationship.id).where(
        Relationship.customer_id == customer_id, Relationship.status == "active",
        Relationship.employee_id == principal.employee_id)) if principal.employee_id else None
    return Found(customer_id, mine)


def customer_page(principal: Principal, external_userid: str) -> dict:
    """The customer 360 as the sidebar shows it: my relationship first (editable), the colleagues who follow the
    customer too and since when, groups in common, the tag library with my tags, the stage, everyone's notes
    and the timeline, with names instead of ids."""
    return _page(principal, find_customer(principal, external_userid).customer_id)


def customer_page_by_id(principal: Principal, customer_id: int) -> dict:
    """The same page for a customer found by our id (the DingTalk micro-app's links)."""
    return _page(principal, find_by_id(principal, customer_id).customer_id)


def _page(principal: Principal, customer_id: int) -> dict:
    card = customers.customer_360(principal.corp, customer_id, timeline_limit=TIMELINE)
    active = [r for r in card["relationships"] if r["status"] == "active"]
    mine = next((r for r in active if r["employee"]["id"] == principal.employee_id), None)
    names = _employee_names(principal, {n["author_id"] for n in card["notes"]}
                            | {t["employee_id"] for t in card["timeline"]})
    channels = dict(db.session.execute(select(Channel.id, Channel.name).where(
        Channel.corp_id == principal.corp.id,
        Channel.id.in_({r["channel_id"] for r in card["relationships"] if r["channel_id"]} or {-1}))).all())
    my_tags = {t["id"] for t in (mine or {}).get("tags", [])}
    library = [{"id": g.id, "name": g.name,
                "tags": [{"id": t.id, "name": t.name, "mine": t.id in my_tags} for t in g.tags if not t.deleted]}
               for g in tag_library.list_groups(principal.corp)]
    return {
        **card,
        "mine": mine,
        "channel": channels.get((mine or {}).get("channel_id")),
        "colleagues": [r for r in active if r is not mine],
        "groups": _groups_in_common(principal, card["groups"]),
        "tag_library": [g for g in library if g["tags"]],
        "stages": customers.stages(principal.corp),
        "notes": [{**n, "author": names.get(n["author_id"])} for n in card["notes"]],
        "timeline": [{**t, "employee": names.get(t["employee_id"]),
                      "channel": channels.get((t["payload"] or {}).get("channel_id"))} for t in card["timeline"]],
    }


def _employee_names(principal: Principal, ids: set) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(Employee.id, Employee.name).where(
        Employee.corp_id == principal.corp.id, Employee.id.in_(ids))).all())


def _groups_in_common(principal: Principal, groups: list[dict]) -> list[dict]:
    """The customer's group chats that this employee owns or is in (all of them for someone without an
    employee, an admin account)."""
    if principal.employee_id is None or not groups:
        return groups
    ids = {g["id"] for g in groups}
    shared = set(db.session.scalars(select(GroupChat.id).where(GroupChat.id.in_(ids), or_(
        GroupChat.owner_id == principal.employee_id,
        GroupChat.id.in_(select(GroupMember.group_chat_id).where(GroupMember.employee_id == principal.employee_id,
                                                                 GroupMember.left_at.is_(None)))))))
    return [g for g in groups if g["id"] in shared]


# ---------------------------------------------------------------- group chats


def _chat(principal: Principal, chat_host_id: str) -> GroupChat:
    """A group chat the principal may see: admins any of the corp's; others a chat they own or are in, and
    managers the chats their subtree's employees own."""
    host_id = _host_id(chat_host_id, "group chat")
    chat = db.session.scalar(select(GroupChat).where(GroupChat.corp_id == principal.corp.id,
                                                     GroupChat.host_id == host_id))
    if chat is None:
        raise NotFound(f"no group chat {host_id}")
    if principal.role == "admin":
        return chat
    owner_in_scope = chat.owner_id is not None and db.session.scalar(
        select(Employee.id).where(Employee.id == chat.owner_id, in_scope(principal, Employee.id))) is not None
    member = db.session.scalar(select(GroupMember.id).where(
        GroupMember.group_chat_id == chat.id, GroupMember.employee_id == principal.employee_id,
        GroupMember.left_at.is_(None))) is not None
    if not (owner_in_scope or member):
        raise NotFound(f"no group chat {host_id}")
    return chat


def group_page(principal: Principal, chat_host_id: str) -> dict:
    """A group chat as its sidebar shows it: name, owner, members (employees, then customers with their tags)
    and the notes on the group."""
    chat = _chat(principal, chat_host_id)
    rows = db.session.execute(select(GroupMember, Employee.name, Customer.name).select_from(GroupMember)
                              .outerjoin(Employee, Employee.id == GroupMember.employee_id)
                              .outerjoin(Customer, Customer.id == GroupMember.customer_id)
                              .where(GroupMember.group_chat_id == chat.id, GroupMember.left_at.is_(None))
                              .order_by(GroupMember.type, GroupMember.join_time, GroupMember.id)).all()
    customer_ids = [m.customer_id for m, _, _ in rows if m.customer_id]
    tags: dict[int, set[str]] = {}
    for customer_id, name in db.session.execute(
            select(RelationshipTag.customer_id, Tag.name).join(Tag, Tag.id == RelationshipTag.tag_id)
            .join(Relationship, Relationship.id == RelationshipTag.relationship_id)
            .where(RelationshipTag.customer_id.in_(customer_ids or [-1]), Relationship.status == "active",
                   Tag.deleted.is_(False))):
        tags.setdefault(customer_id, set()).add(name)
    notes = db.session.execute(select(GroupNote, Employee.name).outerjoin(Employee, Employee.id == GroupNote.author_id)
                               .where(GroupNote.group_chat_id == chat.id)
                               .order_by(GroupNote.created_at.desc(), GroupNote.id.desc()).limit(50)).all()
    owner = db.session.get(Employee, chat.owner_id) if chat.owner_id else None
    members = [{"name": m.nickname or employee or customer or m.member_host_id,
                "kind": "employee" if m.type == 1 else "customer", "joined_at": m.join_time,
                "tags": sorted(tags.get(m.customer_id, ()))} for m, employee, customer in rows]
    return {"id": chat.id, "host_id": chat.host_id, "name": chat.name, "status": chat.status,
            "notice": chat.notice, "owner": owner.name if owner else None,
            "employees": [m for m in members if m["kind"] == "employee"],
            "customers": [m for m in members if m["kind"] == "customer"],
            "notes": [{"id": n.id, "body": n.body, "author": author, "created_at": n.created_at}
                      for n, author in notes]}


def add_group_note(principal: Principal, chat_host_id: str, body: str) -> GroupNote:
    chat = _chat(principal, chat_host_id)
    text = (body or "").strip() if isinstance(body, str) else ""
    if not text:
        raise ValidationError("body", "is required")
    if len(text) > NOTE_MAX:
        raise ValidationError("body", f"at most {NOTE_MAX} characters")
    with unit_of_work():
        note = GroupNote(corp_id=principal.corp.id, group_chat_id=chat.id, author_id=principal.employee_id,
                         body=text)
        db.session.add(note)
    return note
