"""Customers and their relationships with employees: added, edited, ended, re-added.

A relationship is one employee following one customer. Ended relationships are kept (with reason and time) and a
re-add reactivates the same row, so history survives. Handlers are idempotent and tolerate events that arrive out
of order: the host's current view decides whether an add stands, and a removal older than the relationship's
(re)start is ignored.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from scrm.db import get_or_create
from scrm.events import (
    ChatAuthorized,
    CustomerAdded,
    CustomerEdited,
    CustomerRemovedByCustomer,
    CustomerRemovedByEmployee,
    TransferFailed,
)
from scrm.extensions import db
from scrm.host import Host, HostCustomer, HostFollow, HostNotFound
from scrm.models import Channel, Corp, Customer, Employee, Relationship, RelationshipTag, utcnow
from scrm.services import pool, timeline
from scrm.services.handovers import ledger
from scrm.services.event_context import EventContext
from scrm.services.org import ensure_employee
from scrm.services.tags import ensure_tags

#: add_way of a relationship the host made by handing a customer over (WeCom: assigned by an admin or a transfer)
TRANSFER_ADD_WAYS = frozenset({202, 203})
_CUSTOMER_FIELDS = ("avatar", "type", "gender", "unionid", "corp_name", "corp_full_name", "position", "mobile")


def find_customer(corp: Corp, host_id: str) -> Customer | None:
    return db.session.scalar(select(Customer).where(Customer.corp_id == corp.id, Customer.host_id == host_id))


def upsert_customer(corp: Corp, hc: HostCustomer) -> Customer:
    customer = get_or_create(Customer, lambda: Customer(corp_id=corp.id, host_id=hc.external_id, name=hc.name or ""),
                             corp_id=corp.id, host_id=hc.external_id)
    customer.name = hc.name or customer.name
    for attr in _CUSTOMER_FIELDS:
        value = getattr(hc, attr)
        if value is not None:
            setattr(customer, attr, value)
    db.session.flush()
    return customer


def _placeholder_customer(corp: Corp, host_id: str) -> Customer:
    return get_or_create(Customer, lambda: Customer(corp_id=corp.id, host_id=host_id, name=""),
                         corp_id=corp.id, host_id=host_id)


def find_relationship(corp: Corp, employee: Employee, customer: Customer) -> Relationship | None:
    return db.session.scalar(select(Relationship).where(
        Relationship.corp_id == corp.id, Relationship.employee_id == employee.id,
        Relationship.customer_id == customer.id))


def channel_for_state(corp: Corp, state: str | None) -> Channel | None:
    if not state:
        return None
    return db.session.scalar(select(Channel).where(Channel.corp_id == corp.id, Channel.state == state))


def set_relationship_tags(rel: Relationship, tag_ids: list[int]) -> tuple[set[int], set[int]]:
    """Make the relationship carry exactly these local tags; returns (added, removed)."""
    have = set(db.session.scalars(select(RelationshipTag.tag_id).where(RelationshipTag.relationship_id == rel.id)))
    want = set(tag_ids)
    if have - want:
        db.session.execute(delete(RelationshipTag).where(RelationshipTag.relationship_id == rel.id,
                                                         RelationshipTag.tag_id.in_(have - want)))
    db.session.add_all(RelationshipTag(relationship_id=rel.id, tag_id=t, customer_id=rel.customer_id)
                       for t in want - have)
    return want - have, have - want


def apply_follow(corp: Corp, customer: Customer, employee: Employee, follow: HostFollow, host: Host,
                 *, state: str | None = None) -> tuple[Relationship, str | None]:
    """Upsert a relationship from the host's view of it; returns it and 'added', 'readded' or None."""
    rel = find_relationship(corp, employee, customer)
    change = None
    started = follow.created_at or utcnow()
    if rel is None:
        rel = Relationship(corp_id=corp.id, employee_id=employee.id, customer_id=customer.id, started_at=started)
        db.session.add(rel)
        change = "added"
    elif rel.status != "active":
        change = "readded"
        rel.started_at, rel.ended_at, rel.end_reason = started, None, None
    rel.status = "active"
    rel.remark, rel.description = follow.remark, follow.description
    rel.remark_mobiles = list(follow.remark_mobiles or [])
    rel.add_way, rel.oper_user_id = follow.add_way, follow.oper_user_id
    new_state = follow.state or state
    if new_state and (change or not rel.state):
        rel.state = new_state
        channel = channel_for_state(corp, new_state)
        rel.channel_id = channel.id if channel else None
    db.session.flush()
    set_relationship_tags(rel, [t.id for t in ensure_tags(corp, host, follow.tag_ids)])
    return rel, change


def _follow_of(record, employee_host_id: str) -> HostFollow | None:
    return next((f for f in record.follows if f.employee_id == employee_host_id), None)


@dataclass
class Added:
    """What an add event changed: the relationship, its two sides, and 'added', 'readded', 'transferred' (a
    takeover) or None (no change)."""

    relationship: Relationship
    customer: Customer
    employee: Employee
    change: str | None


def on_customer_added(corp: Corp, event: CustomerAdded, host: Host, ctx: EventContext) -> Added | None:
    """Read the customer and the relationship from the host and record them, attributed to the channel."""
    employee = ensure_employee(corp, event.employee_id, host)
    try:
        record = host.get_customer(event.customer_id)
    except HostNotFound:
        record = None  # the customer is gone again already: a later removal event tells how
    if record is None:
        return None
    customer = upsert_customer(corp, record.customer)
    follow = _follow_of(record, event.employee_id)
    if follow is None:
        return None  # the host no longer lists this friendship: a removal overtook this add
    rel, change = apply_follow(corp, customer, employee, follow, host, state=event.state)
    line = ledger.open_line(corp.id, customer.id, to_employee_id=employee.id)
    if line is not None:  # the host's success signal of a takeover we asked for: the ledger records it
        ctx.followups.extend(ledger.by_event(line, "done", source="add_event", at=event.occurred_at))
        return Added(rel, customer, employee, "transferred" if change else None)
    if change and follow.add_way in TRANSFER_ADD_WAYS:  # handed over on the host (the admin console): no new friend
        change = "transferred"
        timeline.record(corp_id=corp.id, customer_id=customer.id, employee_id=employee.id, relationship_id=rel.id,
                        kind="transferred", payload={"add_way": follow.add_way},
                        occurred_at=event.occurred_at or rel.started_at, dedupe_key=ctx.key("added", rel.id))
    elif change:
        pool.followed_again(customer.id, event.occurred_at)
        timeline.record(corp_id=corp.id, customer_id=customer.id, employee_id=employee.id, relationship_id=rel.id,
                        kind="added" if change == "added" else "readded", channel_id=rel.channel_id,
                        payload={"state": rel.state, "channel_id": rel.channel_id, "half": event.half},
                        occurred_at=event.occurred_at or rel.started_at, dedupe_key=ctx.key("added", rel.id))
    return Added(rel, customer, employee, change)


def on_customer_edited(corp: Corp, event: CustomerEdited, host: Host, ctx: EventContext) -> None:
    """Re-read the relationship: the employee changed remark or tags in the host app."""
    employee = ensure_employee(corp, event.employee_id, host)
    record = host.get_customer(event.customer_id)
    customer = upsert_customer(corp, record.customer)
    follow = _follow_of(record, event.employee_id)
    if follow is None:
        return
    rel = find_relationship(corp, employee, customer)
    before = (rel.remark, rel.description, list(rel.remark_mobiles or [])) if rel else None
    rel, change = apply_follow(corp, customer, employee, follow, host, state=None)
    after = (rel.remark, rel.description, list(rel.remark_mobiles or []))
    if change or before != after:
        timeline.record(corp_id=corp.id, customer_id=customer.id, employee_id=employee.id, relationship_id=rel.id,
                        kind="edited", payload={"remark": rel.remark, "description": rel.description},
                        occurred_at=event.occurred_at, dedupe_key=ctx.key("edited", rel.id))


def end_relationship(corp: Corp, employee_host_id: str, customer_host_id: str, *, status: str,
                     reason: str, at: datetime | None, host: Host, ctx: EventContext,
                     kind: str = "removed") -> Relationship | None:
    """End a relationship; unknown ones are recorded ended, so an add that arrives later cannot revive them."""
    at = at or utcnow()
    employee = ensure_employee(corp, employee_host_id, host)
    customer = _placeholder_customer(corp, customer_host_id)
    rel = find_relationship(corp, employee, customer)
    if rel is None:
        rel = Relationship(corp_id=corp.id, employee_id=employee.id, customer_id=customer.id, status=status,
                           started_at=at, ended_at=at, end_reason=reason)
        db.session.add(rel)
        db.session.flush()
    elif rel.status == "active":
        if rel.started_at and rel.started_at > at:
            return None  # the pair was re-added after this removal happened
        rel.status, rel.ended_at, rel.end_reason = status, at, reason
    else:
        return None
    timeline.record(corp_id=corp.id, customer_id=customer.id, employee_id=employee.id, relationship_id=rel.id,
                    kind=kind, payload={"status": status, "reason": reason}, occurred_at=at,
                    dedupe_key=ctx.key(kind, rel.id), channel_id=rel.channel_id if kind == "removed" else None)
    return rel


def on_removed_by_employee(corp: Corp, event: CustomerRemovedByEmployee, host: Host, ctx: EventContext) -> None:
    transferred = event.source == "DELETE_BY_TRANSFER"
    end_relationship(corp, event.employee_id, event.customer_id,
                     status="transferred" if transferred else "removed_by_employee",
                     reason=(event.source or "deleted_by_employee").lower(), at=event.occurred_at, host=host,
                     ctx=ctx, kind="transferred_out" if transferred else "removed")
    if transferred:  # the host moved the customer away from this employee: a takeover we asked for is done
        employee = ensure_employee(corp, event.employee_id, host)
        customer = _placeholder_customer(corp, event.customer_id)
        line = ledger.open_line(corp.id, customer.id, from_employee_id=employee.id)
        if line is not None:
            ctx.followups.extend(ledger.by_event(line, "done", source="del_event", at=event.occurred_at))


def on_removed_by_customer(corp: Corp, event: CustomerRemovedByCustomer, host: Host, ctx: EventContext) -> None:
    end_relationship(corp, event.employee_id, event.customer_id, status="removed_by_customer",
                     reason="deleted_by_customer", at=event.occurred_at, host=host, ctx=ctx)


def _note_on_relationship(corp: Corp, event, host: Host, ctx: EventContext, kind: str, payload: dict) -> None:
    employee = ensure_employee(corp, event.employee_id, host)
    customer = _placeholder_customer(corp, event.customer_id)
    rel = find_relationship(corp, employee, customer)
    timeline.record(corp_id=corp.id, customer_id=customer.id, employee_id=employee.id,
                    relationship_id=rel.id if rel else None, kind=kind, payload=payload,
                    occurred_at=event.occurred_at, dedupe_key=ctx.key(kind, customer.id))


def on_transfer_failed(corp: Corp, event: TransferFailed, host: Host, ctx: EventContext) -> None:
    """The takeover failed (customer refused, or the taker is at their limit): the customer stays put. The event's
    member is the taker (it names no giver): the newest takeover of this customer by them is the one that failed."""
    _note_on_relationship(corp, event, host, ctx, "transfer_failed", {"reason": event.reason})
    taker = ensure_employee(corp, event.employee_id, host)
    line = ledger.open_line(corp.id, _placeholder_customer(corp, event.customer_id).id, to_employee_id=taker.id)
    if line is not None:
        state = "taker_at_limit" if event.reason == "customer_limit_exceed" else "refused"
        ledger.by_event(line, state, source="transfer_fail", at=event.occurred_at)


def on_chat_authorized(corp: Corp, event: ChatAuthorized, host: Host, ctx: EventContext) -> None:
    _note_on_relationship(corp, event, host, ctx, "chat_archive_approved", {})
