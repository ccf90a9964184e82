"""What salespeople do to a customer: tag, edit the remark, move the stage, write follow-up notes, and see it all
(the customer 360), whoever of the followers did it.

Changes made through the host's API produce no callback, so each one is applied locally as soon as the host has
accepted it. The host is told with no unit of work open; the change is then recorded under the customer's lock
(a row lock on MySQL; SQLite has one writer anyway) if what it was based on still holds, else the host is told
again from the newer state. So two salespeople tagging the same customer at once lose none of each other's tags,
and the host and the product end up agreeing.
"""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.errors import Conflict, NotFound, ValidationError
from scrm.extensions import db
from scrm.host import Capability, Host
from scrm.models import (DEFAULT_STAGES, Corp, Customer, Employee, GroupChat, GroupMember, Note, Relationship,
                         RelationshipTag, StageChange, Tag, TimelineEntry)
from scrm.services import timeline, welcome_log
from scrm.services.corps import host_for
from scrm.services.relations import set_relationship_tags

MAX_NOTE = 4000
#: Rounds of "tell the host, then record" before an edit that keeps being overtaken gives up.
EDIT_ROUNDS = 3
MAX_REMARK_MOBILES = 5  # WeCom externalcontact/remark takes at most five remark_mobiles
PHONE = re.compile(r"^\+?\d(?:[\d -]*\d)?$")


def stages(corp: Corp) -> list[str]:
    """The corp's stage list (option `stages`), else new, contacted, intent, won, lost."""
    return list((corp.options or {}).get("stages") or DEFAULT_STAGES)


#: SQLite ignores FOR UPDATE; with its single writer, one lock per process serializes customer writes the same way.
_SQLITE_WRITES = threading.Lock()


@contextmanager
def _customer_write(corp: Corp, customer_id: int) -> Iterator[Customer]:
    """One unit of work on a customer, holding its lock until the commit."""
    guard = _SQLITE_WRITES if db.session.get_bind().dialect.name == "sqlite" else nullcontext()
    with guard, unit_of_work():
        yield _locked_customer(corp, customer_id)


def _locked_customer(corp: Corp, customer_id: int, *, lock: bool = True) -> Customer:
    query = select(Customer).where(Customer.corp_id == corp.id, Customer.id == customer_id)
    customer = db.session.scalar(query.with_for_update() if lock else query)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    return customer


def _relationship(corp: Corp, customer: Customer, relationship_id: int) -> Relationship:
    # as committed now, not as an earlier read of this session left it: edits compare it with what they read first
    rel = db.session.get(Relationship, relationship_id, populate_existing=True)
    if rel is None or rel.corp_id != corp.id or rel.customer_id != customer.id:
        raise NotFound(f"no relationship {relationship_id} for customer {customer.id}")
    return rel


def set_tags(corp: Corp, customer_id: int, relationship_id: int, tag_ids: list[int], *,
             actor_id: int | None = None, host: Host | None = None) -> list[int]:
    """Make one relationship carry exactly these tags: the host first (mark_tag), then here."""
    return change_tags(corp, customer_id, relationship_id, actor_id=actor_id, host=host,
                       wanted=lambda have: list(dict.fromkeys(tag_ids)))


def add_remove_tags(corp: Corp, customer_id: int, relationship_id: int, *, add: list[int] = (),
                    remove: list[int] = (), actor_id: int | None = None, host: Host | None = None) -> list[int]:
    """Add and remove tags relative to what the relationship carries when the write runs (no lost updates)."""
    return change_tags(corp, customer_id, relationship_id, actor_id=actor_id, host=host,
                       wanted=lambda have: [t for t in have if t not in set(remove)] +
                       [t for t in add if t not in have])


def _overtaken() -> Conflict:
    return Conflict("the customer was edited at the same time again and again; try once more")


def change_tags(corp: Corp, customer_id: int, relationship_id: int, *, wanted, actor_id: int | None = None,
                host: Host | None = None) -> list[int]:
    """Apply `wanted(current tag ids)`: on the host (mark_tag), then here under the customer's lock."""
    host = host or host_for(corp)
    for _ in range(EDIT_ROUNDS):
        plan = _tag_plan(corp, _locked_customer(corp, customer_id, lock=False), relationship_id, wanted)
        if plan.host_remove and Capability.CUSTOMER_NEEDS_TAG in host.capabilities and not _host_tagged(plan.wanted):
            raise ValidationError("tags", "钉钉客户至少保留一个钉钉标签 (a DingTalk customer keeps at least one of "
                                          "DingTalk's labels: the host refuses to remove the last, 60204)")
        if plan.host_add or plan.host_remove:
            host.mark_tags(plan.employee_host_id, plan.customer_host_id, add=plan.host_add, remove=plan.host_remove)
        with _customer_write(corp, customer_id) as customer:
            now = _tag_plan(corp, customer, relationship_id, wanted)
            if sorted(now.current) != sorted(plan.current):  # another edit landed meanwhile: tell the host again
                continue
            set_relationship_tags(now.relationship, now.wanted)
            if now.added or now.removed:
                timeline.record(corp_id=corp.id, customer_id=customer_id, employee_id=actor_id,
                                relationship_id=relationship_id, kind="tagged",
                                payload={"added": now.added, "removed": now.removed})
            return now.wanted
    raise _overtaken()


def _host_tagged(tag_ids: list[int]) -> bool:
    """Whether any of these tags is one of the host's (not a local-only tag)."""
    return db.session.scalar(select(Tag.id).where(Tag.id.in_(tag_ids), Tag.host_id.is_not(None),
                                                  Tag.deleted.is_(False)).limit(1)) is not None


@dataclass
class _TagPlan:
    relationship: Relationship
    employee_host_id: str
    customer_host_id: str
    current: list[int]
    wanted: list[int]
    added: list[str]  # names, for the timeline
    removed: list[str]
    host_add: list[str]
    host_remove: list[str]


def _tag_plan(corp: Corp, customer: Customer, relationship_id: int, wanted) -> _TagPlan:
    """What `wanted` means for the relationship's tags as they are now (checked against the tag library)."""
    rel = _relationship(corp, customer, relationship_id)
    current = list(db.session.scalars(select(RelationshipTag.tag_id).where(
        RelationshipTag.relationship_id == rel.id)))
    ids = wanted(current)
    found = {t.id: t for t in db.session.scalars(select(Tag).where(Tag.corp_id == corp.id, Tag.id.in_(ids),
                                                                   Tag.deleted.is_(False)))}
    unknown = [t for t in ids if t not in found]
    if unknown:
        raise ValidationError("tag_ids", f"unknown tags: {unknown}")
    have = {t.id: t for t in db.session.scalars(select(Tag).join(RelationshipTag).where(
        RelationshipTag.relationship_id == rel.id))}
    add = [found[t] for t in ids if t not in have]
    remove = [t for tid, t in have.items() if tid not in found]
    return _TagPlan(relationship=rel, employee_host_id=db.session.get(Employee, rel.employee_id).host_id,
                    customer_host_id=customer.host_id, current=current, wanted=ids,
                    added=[t.name for t in add], removed=[t.name for t in remove],
                    host_add=[t.host_id for t in add if t.host_id],
                    host_remove=[t.host_id for t in remove if t.host_id])


def edit_relationship(corp: Corp, customer_id: int, relationship_id: int, *, remark: str | None = None,
                      description: str | None = None, remark_mobiles: list[str] | None = None,
                      actor_id: int | None = None, host: Host | None = None) -> Relationship:
    """Change the follower's remark, description or remark mobiles: on the host (remark API), then here."""
    if remark is not None and len(remark) > 20:
        raise ValidationError("remark", "at most 20 characters")
    if description is not None and len(description) > 150:
        raise ValidationError("description", "at most 150 characters")
    if remark_mobiles is not None:
        _check_remark_mobiles(remark_mobiles)
    host = host or host_for(corp)

    def seen(customer: Customer) -> tuple[Relationship, str, str, tuple]:
        rel = _relationship(corp, customer, relationship_id)
        if rel.status != "active":  # the host refuses edits of a friendship that ended
            raise Conflict(f"relationship {relationship_id} has ended ({rel.status})")
        employee = db.session.get(Employee, rel.employee_id)
        return rel, employee.host_id, customer.host_id, (rel.remark, rel.description, list(rel.remark_mobiles or []))

    for _ in range(EDIT_ROUNDS):
        _rel, employee_host_id, customer_host_id, before = seen(_locked_customer(corp, customer_id, lock=False))
        host.set_remark(employee_host_id, customer_host_id, remark=remark, description=description,
                        remark_mobiles=remark_mobiles)
        with _customer_write(corp, customer_id) as customer:
            rel, *_, now = seen(customer)
            if now != before:  # another edit landed meanwhile: tell the host ours again, after theirs
                continue
            if remark is not None:
                rel.remark = remark
            if description is not None:
                rel.description = description
            if remark_mobiles is not None:
                rel.remark_mobiles = list(remark_mobiles)
            timeline.record(corp_id=corp.id, customer_id=customer_id, employee_id=actor_id, relationship_id=rel.id,
                            kind="remark", payload={"before": {"remark": before[0], "description": before[1]},
                                                    "after": {"remark": rel.remark, "description": rel.description}})
            return rel
    raise _overtaken()


def _check_remark_mobiles(mobiles: list[str]) -> None:
    """Phone numbers (digits, an optional leading +, spaces or hyphens between), at most the host's count."""
    if len(mobiles) > MAX_REMARK_MOBILES:
        raise ValidationError("remark_mobiles", f"at most {MAX_REMARK_MOBILES} numbers")
    for mobile in mobiles:
        if not isinstance(mobile, str) or not PHONE.match(mobile) or not 5 <= sum(c.isdigit() for c in mobile) <= 20:
            raise ValidationError("remark_mobiles", f"{str(mobile)[:32]!r} is not a phone number")


def set_stage(corp: Corp, customer_id: int, stage: str, *, actor_id: int | None = None) -> Customer:
    """Move a customer to another stage, keeping the history."""
    if stage not in stages(corp):
        raise ValidationError("stage", f"must be one of {', '.join(stages(corp))}")
    with _customer_write(corp, customer_id) as customer:
        if customer.stage != stage:
            db.session.add(StageChange(corp_id=corp.id, customer_id=customer.id, from_stage=customer.stage,
                                       to_stage=stage, employee_id=actor_id))
            timeline.record(corp_id=corp.id, customer_id=customer.id, employee_id=actor_id, kind="stage",
                            payload={"from": customer.stage, "to": stage})
            customer.stage = stage
    return customer


def add_note(corp: Corp, customer_id: int, body: str, *, author_id: int | None = None) -> Note:
    """A follow-up note, visible to every follower of the customer."""
    text = (body or "").strip()
    if not text:
        raise ValidationError("body", "is required")
    if len(text) > MAX_NOTE:
        raise ValidationError("body", f"at most {MAX_NOTE} characters")
    with _customer_write(corp, customer_id) as customer:
        note = Note(corp_id=corp.id, customer_id=customer.id, author_id=author_id, body=text)
        db.session.add(note)
        db.session.flush()
        timeline.record(corp_id=corp.id, customer_id=customer.id, employee_id=author_id, kind="note",
                        payload={"note_id": note.id, "excerpt": text[:80]})
    return note


def customer_360(corp: Corp, customer_id: int, *, timeline_limit: int = 50) -> dict:
    """The profile, every relationship (active and ended) with its employee and tags, groups, stage, notes and the
    recent timeline, in one call."""
    customer = db.session.scalar(select(Customer).where(Customer.corp_id == corp.id, Customer.id == customer_id))
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    rels = db.session.execute(select(Relationship, Employee).join(Employee, Employee.id == Relationship.employee_id)
                              .where(Relationship.customer_id == customer.id)
                              .order_by(Relationship.status, Relationship.started_at)).all()
    tags_by_rel: dict[int, list[dict]] = {}
    for rel_id, tag_id, name, group_id in db.session.execute(
            select(RelationshipTag.relationship_id, Tag.id, Tag.name, Tag.group_id).join(Tag)
            .where(RelationshipTag.relationship_id.in_([r.id for r, _ in rels]), Tag.deleted.is_(False))):
        tags_by_rel.setdefault(rel_id, []).append({"id": tag_id, "name": name, "group_id": group_id})
    groups = db.session.execute(select(GroupChat.id, GroupChat.name, GroupMember.join_time).join(GroupMember)
                                .where(GroupMember.customer_id == customer.id, GroupMember.left_at.is_(None))).all()
    entries = db.session.scalars(select(TimelineEntry).where(TimelineEntry.customer_id == customer.id)
                                 .order_by(TimelineEntry.occurred_at.desc(), TimelineEntry.id.desc())
                                 .limit(timeline_limit))
    notes = db.session.scalars(select(Note).where(Note.customer_id == customer.id, Note.deleted_at.is_(None))
                               .order_by(Note.created_at.desc()).limit(timeline_limit))
    iso = lambda value: value.isoformat() + "Z" if value else None  # noqa: E731
    welcomes = welcome_log.latest_by_pair(corp.id, [(e.host_id, customer.host_id) for _, e in rels])
    return {
        "id": customer.id, "host_id": customer.host_id, "name": customer.name, "avatar": customer.avatar,
        "type": customer.type, "gender": customer.gender, "corp_name": customer.corp_name, "stage": customer.stage,
        "mobile": customer.mobile, "position": customer.position, "corp_full_name": customer.corp_full_name,
        "relationships": [{
            "id": r.id, "status": r.status, "employee": {"id": e.id, "name": e.name, "status": e.status},
            "remark": r.remark, "description": r.description, "remark_mobiles": r.remark_mobiles or [],
            "state": r.state, "channel_id": r.channel_id, "started_at": iso(r.started_at),
            "ended_at": iso(r.ended_at), "end_reason": r.end_reason, "tags": tags_by_rel.get(r.id, []),
            "welcome": welcomes.get((e.host_id, customer.host_id)),
        } for r, e in rels],
        "groups": [{"id": gid, "name": name, "joined_at": iso(at)} for gid, name, at in groups],
        "notes": [{"id": n.id, "author_id": n.author_id, "body": n.body, "created_at": iso(n.created_at)}
                  for n in notes],
        "timeline": [{"id": t.id, "kind": t.kind, "employee_id": t.employee_id, "payload": t.payload,
                      "occurred_at": iso(t.occurred_at)} for t in entries],
    }
