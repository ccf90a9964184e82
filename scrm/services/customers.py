"""What salespeople do to a customer: tag, edit the remark, move the stage, write follow-up notes, and see it all
(the customer 360), whoever of the followers did it.

Changes made through the host's API produce no callback, so each one is applied locally as soon as the host has
accepted it. Writes to one customer are serialized (a row lock on MySQL; SQLite has one writer anyway), so two
salespeople tagging the same customer at once do not lose one another's tags.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from typing import Iterator

from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.errors import NotFound, ValidationError
from scrm.extensions import db
from scrm.host import Host
from scrm.models import (DEFAULT_STAGES, Corp, Customer, Employee, GroupChat, GroupMember, Note, Relationship,
                         RelationshipTag, StageChange, Tag, TimelineEntry, utcnow)
from scrm.services import timeline
from scrm.services.corps import host_for
from scrm.services.relations import set_relationship_tags

MAX_NOTE = 4000


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


def _locked_customer(corp: Corp, customer_id: int) -> Customer:
    customer = db.session.scalar(select(Customer).where(Customer.corp_id == corp.id, Customer.id == customer_id)
                                 .with_for_update())
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    return customer


def _relationship(corp: Corp, customer: Customer, relationship_id: int) -> Relationship:
    rel = db.session.get(Relationship, relationship_id)
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


def change_tags(corp: Corp, customer_id: int, relationship_id: int, *, wanted, actor_id: int | None = None,
                host: Host | None = None) -> list[int]:
    """Apply `wanted(current tag ids)` under the customer's lock."""
    with _customer_write(corp, customer_id) as customer:
        rel = _relationship(corp, customer, relationship_id)
        current = list(db.session.scalars(select(RelationshipTag.tag_id).where(
            RelationshipTag.relationship_id == rel.id)))
        wanted = wanted(current)
        found = {t.id: t for t in db.session.scalars(select(Tag).where(Tag.corp_id == corp.id, Tag.id.in_(wanted),
                                                                       Tag.deleted.is_(False)))}
        unknown = [t for t in wanted if t not in found]
        if unknown:
            raise ValidationError("tag_ids", f"unknown tags: {unknown}")
        have = {t.id: t for t in db.session.scalars(select(Tag).join(RelationshipTag).where(
            RelationshipTag.relationship_id == rel.id))}
        add = [found[t] for t in wanted if t not in have]
        remove = [t for tid, t in have.items() if tid not in found]
        host_add, host_remove = [t.host_id for t in add if t.host_id], [t.host_id for t in remove if t.host_id]
        if host_add or host_remove:
            employee = db.session.get(Employee, rel.employee_id)
            (host or host_for(corp)).mark_tags(employee.host_id, customer.host_id, add=host_add, remove=host_remove)
        set_relationship_tags(rel, wanted)
        if add or remove:
            timeline.record(corp_id=corp.id, customer_id=customer.id, employee_id=actor_id, relationship_id=rel.id,
                            kind="tagged", payload={"added": [t.name for t in add], "removed": [t.name for t in remove]})
    return wanted


def edit_relationship(corp: Corp, customer_id: int, relationship_id: int, *, remark: str | None = None,
                      description: str | None = None, remark_mobiles: list[str] | None = None,
                      actor_id: int | None = None, host: Host | None = None) -> Relationship:
    """Change the follower's remark, description or remark mobiles: on the host (remark API), then here."""
    if remark is not None and len(remark) > 20:
        raise ValidationError("remark", "at most 20 characters")
    if description is not None and len(description) > 150:
        raise ValidationError("description", "at most 150 characters")
    with _customer_write(corp, customer_id) as customer:
        rel = _relationship(corp, customer, relationship_id)
        employee = db.session.get(Employee, rel.employee_id)
        (host or host_for(corp)).set_remark(employee.host_id, customer.host_id, remark=remark,
                                            description=description, remark_mobiles=remark_mobiles)
        before = {"remark": rel.remark, "description": rel.description}
        if remark is not None:
            rel.remark = remark
        if description is not None:
            rel.description = description
        if remark_mobiles is not None:
            rel.remark_mobiles = list(remark_mobiles)
        timeline.record(corp_id=corp.id, customer_id=customer.id, employee_id=actor_id, relationship_id=rel.id,
                        kind="remark", payload={"before": before,
                                                "after": {"remark": rel.remark, "description": rel.description}})
    return rel


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
    return {
        "id": customer.id, "host_id": customer.host_id, "name": customer.name, "avatar": customer.avatar,
        "type": customer.type, "gender": customer.gender, "corp_name": customer.corp_name, "stage": customer.stage,
        "relationships": [{
            "id": r.id, "status": r.status, "employee": {"id": e.id, "name": e.name, "status": e.status},
            "remark": r.remark, "description": r.description, "remark_mobiles": r.remark_mobiles or [],
            "state": r.state, "channel_id": r.channel_id, "started_at": iso(r.started_at),
            "ended_at": iso(r.ended_at), "end_reason": r.end_reason, "tags": tags_by_rel.get(r.id, []),
        } for r, e in rels],
        "groups": [{"id": gid, "name": name, "joined_at": iso(at)} for gid, name, at in groups],
        "notes": [{"id": n.id, "author_id": n.author_id, "body": n.body, "created_at": iso(n.created_at)}
                  for n in notes],
        "timeline": [{"id": t.id, "kind": t.kind, "employee_id": t.employee_id, "payload": t.payload,
                      "occurred_at": iso(t.occurred_at)} for t in entries],
    }
