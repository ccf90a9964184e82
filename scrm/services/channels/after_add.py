"""After a customer came through a channel: its tags and remark template (on the host, then here), a one-time code
used up, and the contact way's list kept current when caps or weights apply. The host is told first, outside any
unit of work, and what it accepted is recorded afterwards (like the welcome: send, then record); a retry finds
what is still missing, so telling the host twice adds nothing."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.events import CustomerAdded
from scrm.extensions import db
from scrm.host import Host, HostUnsupported
from scrm.models import Channel, Corp, Customer, Employee, Relationship, RelationshipTag, Tag
from scrm.services import relations
from scrm.services.channels import contact_way
from scrm.services.channels.rules import remark_for
from scrm.services.corps import host_for
from scrm.services.event_context import EventContext
from scrm.services.relations import set_relationship_tags

AFTER_ADD_TASK = "scrm.channels.after_add"


def on_channel_customer_added(corp: Corp, event: CustomerAdded, host: Host, ctx: EventContext) -> None:
    """The add handler: the relationship (relations); the channel's rules follow as a task of their own (tags and
    remark wait for the host's edit slots). They follow every add event of a channel's relationship, also when a
    sync running meanwhile recorded the relationship first: the rules only add what is missing. A takeover is no
    customer of the channel's (its one-time code stays unused, its remark template is not applied)."""
    added = relations.on_customer_added(corp, event, host, ctx)
    if added is not None and added.change != "transferred" and added.relationship.channel_id:
        ctx.then(AFTER_ADD_TASK, added.relationship.id)


@dataclass
class AddRules:
    """What a channel's rules still owe one relationship, read before the host is told."""

    relationship_id: int
    channel_id: int
    employee_host_id: str
    customer_host_id: str
    tag_ids: list[int] = field(default_factory=list)  # local tags the relationship lacks
    host_tag_ids: list[str] = field(default_factory=list)  # the host's ids of those tags
    remark: str | None = None  # the remark template filled in, when the relationship has no remark yet
    use_up: bool = False  # a one-time code, still active: this customer uses it up


def rules_for(corp: Corp, rel: Relationship, customer: Customer, employee: Employee) -> AddRules | None:
    """What the channel's rules still owe this relationship (reads only), or None without a channel."""
    channel = db.session.get(Channel, rel.channel_id) if rel.channel_id else None
    if channel is None:
        return None
    owed = AddRules(rel.id, channel.id, employee.host_id, customer.host_id)
    tag_ids = [t.tag_id for t in channel.tags]
    if tag_ids:
        have = set(db.session.scalars(select(RelationshipTag.tag_id).where(RelationshipTag.relationship_id == rel.id)))
        owed.tag_ids = [t for t in tag_ids if t not in have]
        owed.host_tag_ids = list(db.session.scalars(select(Tag.host_id).where(
            Tag.id.in_(owed.tag_ids), Tag.host_id.is_not(None), Tag.deleted.is_(False))))
    if channel.remark_template and not rel.remark:
        owed.remark = remark_for(corp, channel, customer.name, employee.name)
    owed.use_up = channel.temporary and channel.status == "active"
    return owed


def tell_host_rules(owed: AddRules, host: Host) -> None:
    """The host's part of the rules (call outside any unit): tags, then the remark."""
    if owed.host_tag_ids:
        host.mark_tags(owed.employee_host_id, owed.customer_host_id, add=owed.host_tag_ids)
    if owed.remark:
        try:
            host.set_remark(owed.employee_host_id, owed.customer_host_id, remark=owed.remark)
        except HostUnsupported:
            pass  # the remark is kept here only


def record_rules(owed: AddRules) -> None:
    """Record what the rules did (inside the caller's unit); tags and a remark another writer recorded meanwhile
    stay as they are."""
    rel = db.session.get(Relationship, owed.relationship_id, populate_existing=True)  # as committed now
    if owed.tag_ids:
        have = set(db.session.scalars(select(RelationshipTag.tag_id).where(RelationshipTag.relationship_id == rel.id)))
        missing = [t for t in owed.tag_ids if t not in have]
        if missing:
            set_relationship_tags(rel, sorted(have) + missing)
    if owed.remark and not rel.remark:
        rel.remark = owed.remark


def use_up_code(corp: Corp, owed: AddRules | None, host: Host) -> None:
    """A one-time code's first customer ends it (after the rules are recorded: the contact way is deleted last)."""
    if owed is not None and owed.use_up:
        contact_way.end(corp, owed.channel_id, "used", host)


def after_add(relationship_id: int, *, host: Host | None = None) -> None:
    """A customer came through a channel: apply its tags and remark template, use up a one-time code, and keep the
    contact way's list current when caps or weights apply. Nothing to do once the relationship has ended."""
    rel = db.session.get(Relationship, relationship_id)
    if rel is None or rel.status != "active" or rel.channel_id is None:
        return
    corp = db.session.get(Corp, rel.corp_id)
    host = host or host_for(corp)
    owed = rules_for(corp, rel, db.session.get(Customer, rel.customer_id), db.session.get(Employee, rel.employee_id))
    if owed is None:
        return
    tell_host_rules(owed, host)
    with unit_of_work():
        record_rules(owed)
    use_up_code(corp, owed, host)
    channel = db.session.get(Channel, owed.channel_id)
    if needs_rebalance(channel):
        contact_way.rebalance(corp, channel.id, host=host)


def needs_rebalance(channel: Channel) -> bool:
    """Whether an add can change whom the contact way should list (caps or weights)."""
    return bool(channel.config_id) and (channel.allocation == "weighted"
                                        or any(m.daily_cap for m in channel.members))
