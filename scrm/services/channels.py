"""Channel codes (渠道活码): created, edited, paused, resumed and deleted on the host first (WeCom contact ways),
then here; on DingTalk, which has no contact ways, they live here and point to the landing page.

Every input is checked before any host call, and a bad one raises ValidationError naming the field. Allocation
rules decide whom the host may hand the next customer to: on WeCom the contact way's user list is kept current
(after adds when caps or weights apply, and by beat for working hours), since the host hands customers out only
among the users it lists; on DingTalk the landing page picks the employee itself.
"""
from __future__ import annotations

import logging
import re
import secrets
import string
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from scrm.db import unit_of_work
from scrm.errors import NotFound, ValidationError
from scrm.extensions import db
from scrm.host import ChannelCodeSpec, Host, HostError, HostUnsupported
from scrm.models import (ALLOCATIONS, WELCOME_MODES, Channel, ChannelMember, ChannelTag, Corp, Customer, Employee,
                         Relationship, RelationshipTag, Tag, TimelineEntry, utcnow)
from scrm.events import CustomerAdded
from scrm.services import allocation, placeholders, relations, welcome
from scrm.services.allocation import Seat
from scrm.services.corps import corp_zone, host_for
from scrm.services.relations import set_relationship_tags

log = logging.getLogger(__name__)

MAX_MEMBERS = 100  # WeCom: a contact way lists at most 100 users
MAX_REMARK = 20  # WeCom: a relationship's remark is at most 20 characters
TEMPORARY_MAX = timedelta(days=14)  # WeCom: a temporary contact way lives at most 14 days
TEMPORARY_DEFAULT = timedelta(days=7)
STATE = re.compile(r"^[A-Za-z0-9_-]{1,30}$")
REMARK_PLACEHOLDERS = ("channel", "date", "customer_name", "employee_name")
ADDED = ("added", "readded")
FIELDS = ("name", "state", "members", "allocation", "skip_verify", "remark", "tags", "remark_template",
          "welcome_mode", "welcome", "temporary", "expires_at")


# ---------------------------------------------------------------- reading


def get_channel(corp: Corp, channel_id: int) -> Channel:
    channel = db.session.get(Channel, channel_id)
    if channel is None or channel.corp_id != corp.id or channel.status == "deleted":
        raise NotFound(f"no channel {channel_id}")
    return channel


def by_code(code: str) -> Channel | None:
    """The channel behind a public landing code (any corp), or None."""
    return db.session.scalar(select(Channel).where(Channel.code == code, Channel.status != "deleted"))


def list_channels(corp: Corp) -> list[Channel]:
    return list(db.session.scalars(select(Channel).where(Channel.corp_id == corp.id, Channel.status != "deleted")
                                   .order_by(Channel.id.desc())))


def seats(channel: Channel) -> list[Seat]:
    employees = {e.id: e for e in db.session.scalars(select(Employee).where(
        Employee.id.in_([m.employee_id for m in channel.members])))}
    return [Seat(employee_id=m.employee_id, host_id=employees[m.employee_id].host_id, weight=m.weight,
                 daily_cap=m.daily_cap, backup=m.is_backup, schedule=m.schedule, position=m.position)
            for m in channel.members if employees[m.employee_id].status == "active"]


def local_now(corp: Corp, now: datetime | None = None) -> datetime:
    """The corp's wall-clock time (naive UTC in, local out)."""
    now = now or utcnow()
    return now.replace(tzinfo=timezone.utc).astimezone(corp_zone(corp))


def counts_today(corp: Corp, channel: Channel, now: datetime | None = None) -> dict[int, int]:
    """New friends per employee through this channel since local midnight (from the timeline, so never twice)."""
    local = local_now(corp, now)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc).replace(tzinfo=None)
    return dict(db.session.execute(
        select(TimelineEntry.employee_id, func.count()).where(
            TimelineEntry.channel_id == channel.id, TimelineEntry.kind.in_(ADDED),
            TimelineEntry.occurred_at >= midnight).group_by(TimelineEntry.employee_id)).all())


# ---------------------------------------------------------------- checking input


def _new_state() -> str:
    return "c" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(9))


def _members(corp: Corp, value: object) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise ValidationError("members", "needs at least one employee")
    if len(value) > MAX_MEMBERS:
        raise ValidationError("members", f"at most {MAX_MEMBERS} employees")
    out, seen = [], set()
    for n, item in enumerate(value):
        field = f"members[{n}]"
        if not isinstance(item, dict) or set(item) - {"employee_id", "weight", "daily_cap", "backup", "schedule"}:
            raise ValidationError(field, "takes employee_id, weight, daily_cap, backup and schedule")
        emp = db.session.get(Employee, item.get("employee_id")) if isinstance(item.get("employee_id"), int) else None
        if emp is None or emp.corp_id != corp.id:
            raise ValidationError(f"{field}.employee_id", f"unknown employee {item.get('employee_id')!r}")
        if emp.status != "active":
            raise ValidationError(f"{field}.employee_id", f"{emp.name} has left")
        if emp.id in seen:
            raise ValidationError(f"{field}.employee_id", "listed twice")
        seen.add(emp.id)
        weight, cap = item.get("weight", 1), item.get("daily_cap")
        if not isinstance(weight, int) or not 1 <= weight <= 100:
            raise ValidationError(f"{field}.weight", "must be a whole number from 1 to 100")
        if cap is not None and (not isinstance(cap, int) or cap < 1):
            raise ValidationError(f"{field}.daily_cap", "must be a positive whole number (or null)")
        problem = allocation.schedule_problem(item.get("schedule"))
        if problem:
            raise ValidationError(f"{field}.schedule", problem)
        out.append({"employee_id": emp.id, "weight": weight, "daily_cap": cap, "backup": bool(item.get("backup")),
                    "schedule": item.get("schedule"), "position": n})
    if all(m["backup"] for m in out):
        raise ValidationError("members", "needs at least one employee who is not a backup")
    return out


def _tags(corp: Corp, value: object) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(t, int) for t in value):
        raise ValidationError("tags", "must be a list of tag ids")
    ids = list(dict.fromkeys(value))
    found = set(db.session.scalars(select(Tag.id).where(Tag.corp_id == corp.id, Tag.id.in_(ids),
                                                        Tag.deleted.is_(False))))
    missing = [t for t in ids if t not in found]
    if missing:
        raise ValidationError("tags", f"unknown tags: {missing}")
    return ids


def _text(value: object, field: str, limit: int, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise ValidationError(field, "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must be text")
    if len(value.strip()) > limit:
        raise ValidationError(field, f"at most {limit} characters")
    return value.strip()


def _expiry(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError("expires_at", "must be an ISO 8601 time") from None
    if not isinstance(value, datetime):
        raise ValidationError("expires_at", "must be an ISO 8601 time")
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    if value <= utcnow():
        raise ValidationError("expires_at", "must be in the future")
    return value


def _checked(corp: Corp, spec: dict, channel: Channel | None) -> dict:
    """The spec's fields, each checked; for an edit only the fields given."""
    unknown = set(spec) - set(FIELDS)
    if unknown:
        raise ValidationError(sorted(unknown)[0], "unknown field")
    out: dict = {}
    creating = channel is None
    if creating or "name" in spec:
        out["name"] = _text(spec.get("name"), "name", 64, required=True)
    if creating or "state" in spec:
        state = spec.get("state") or (None if not creating else _new_state())
        if not isinstance(state, str) or not STATE.match(state):
            raise ValidationError("state", "1 to 30 letters, digits, '_' or '-'")
        taken = db.session.scalar(select(Channel.id).where(Channel.corp_id == corp.id, Channel.state == state))
        if taken is not None and (creating or taken != channel.id):
            raise ValidationError("state", f"{state!r} is used by another channel")
        out["state"] = state
    if creating or "members" in spec:
        out["members"] = _members(corp, spec.get("members"))
    if "allocation" in spec or creating:
        value = spec.get("allocation", "round_robin")
        if value not in ALLOCATIONS:
            raise ValidationError("allocation", f"must be one of {', '.join(ALLOCATIONS)}")
        out["allocation"] = value
    if "skip_verify" in spec or creating:
        if not isinstance(spec.get("skip_verify", True), bool):
            raise ValidationError("skip_verify", "must be true or false")
        out["skip_verify"] = spec.get("skip_verify", True)
    if "remark" in spec:
        out["remark"] = _text(spec["remark"], "remark", 30)
    if "tags" in spec:
        out["tags"] = _tags(corp, spec["tags"])
    if "remark_template" in spec:
        template = _text(spec["remark_template"], "remark_template", 64)
        bad = placeholders.unknown(template or "", REMARK_PLACEHOLDERS)
        if bad:
            raise ValidationError("remark_template", f"unknown placeholders {bad}; use {list(REMARK_PLACEHOLDERS)}")
        out["remark_template"] = template
    if "welcome_mode" in spec or creating:
        mode = spec.get("welcome_mode", "channel" if spec.get("welcome") else "default")
        if mode not in WELCOME_MODES:
            raise ValidationError("welcome_mode", f"must be one of {', '.join(WELCOME_MODES)}")
        out["welcome_mode"] = mode
    if "welcome" in spec:
        out["welcome"] = welcome.validate_content(corp, spec["welcome"]) if spec["welcome"] else {}
    mode = out.get("welcome_mode", channel.welcome_mode if channel else "default")
    content = out["welcome"] if "welcome" in out else (channel.welcome if channel else None)
    if mode == "channel" and not content:
        raise ValidationError("welcome", "is required when welcome_mode is channel")
    if "temporary" in spec:
        if not creating and bool(spec["temporary"]) != channel.temporary:
            raise ValidationError("temporary", "cannot change once the code exists")
        out["temporary"] = bool(spec["temporary"])
    if "expires_at" in spec:
        out["expires_at"] = _expiry(spec["expires_at"])
    temporary = out.get("temporary", channel.temporary if channel else False)
    if temporary:
        members = out.get("members") or [{"backup": m.is_backup} for m in channel.members]
        if len(members) != 1:
            raise ValidationError("members", "a one-time code has exactly one employee")
        expires = out.get("expires_at", channel.expires_at if channel else None)
        if expires is not None and expires - utcnow() > TEMPORARY_MAX:
            raise ValidationError("expires_at", "a one-time code lives at most 14 days")
    return out


def _apply(channel: Channel, fields: dict) -> None:
    for key in ("name", "state", "allocation", "skip_verify", "remark", "remark_template", "welcome_mode", "welcome",
                "temporary", "expires_at"):
        if key in fields:
            setattr(channel, key, fields[key])
    if "members" in fields:
        channel.members = [ChannelMember(employee_id=m["employee_id"], weight=m["weight"], daily_cap=m["daily_cap"],
                                         is_backup=m["backup"], schedule=m["schedule"], position=m["position"])
                           for m in fields["members"]]
    if "tags" in fields:
        channel.tags = [ChannelTag(tag_id=t) for t in fields["tags"]]


# ---------------------------------------------------------------- the host's contact way


def _uses_contact_way(host: Host) -> bool:
    return "create_channel_code" in host.capabilities


def _listing(corp: Corp, channel: Channel, now: datetime | None = None) -> list[str]:
    counts = counts_today(corp, channel, now) if channel.id else {}
    chosen = allocation.listing(seats(channel), counts, local_now(corp, now), channel.allocation)
    return [s.host_id for s in chosen]


def _spec(corp: Corp, channel: Channel, user_ids: list[str]) -> ChannelCodeSpec:
    expires_in = None
    if channel.temporary:
        until = channel.expires_at or utcnow() + TEMPORARY_DEFAULT
        expires_in = max(60, int((until - utcnow()).total_seconds()))
    return ChannelCodeSpec(state=channel.state, user_ids=user_ids, remark=channel.remark or channel.name[:30],
                           skip_verify=channel.skip_verify, temporary=channel.temporary, expires_in=expires_in)


def _open_on_host(corp: Corp, channel: Channel, host: Host) -> None:
    users = _listing(corp, channel)
    code = host.create_channel_code(_spec(corp, channel, users))
    channel.config_id, channel.qr_url, channel.listed_user_ids = code.config_id, code.qr_url, users
    channel.qr_image = channel.qr_content = None


def _close_on_host(channel: Channel, host: Host) -> None:
    if channel.config_id:
        host.delete_channel_code(channel.config_id)
    channel.config_id, channel.listed_user_ids = None, []


# ---------------------------------------------------------------- writing


def create_channel(corp: Corp, spec: dict, *, host: Host | None = None) -> Channel:
    """Create a channel code: checked, then the host's contact way (WeCom), then the row."""
    host = host or host_for(corp)
    with unit_of_work():
        fields = _checked(corp, spec, None)
        channel = Channel(corp_id=corp.id, status="active", welcome={}, listed_user_ids=[])
        _apply(channel, fields)
        db.session.add(channel)
        db.session.flush()
        if _uses_contact_way(host):
            _open_on_host(corp, channel, host)
    return channel


def update_channel(corp: Corp, channel_id: int, changes: dict, *, host: Host | None = None) -> Channel:
    """Edit a channel; the contact way is updated in place, so its QR code stays the same."""
    host = host or host_for(corp)
    with unit_of_work():
        channel = get_channel(corp, channel_id)
        fields = _checked(corp, changes, channel)
        _apply(channel, fields)
        db.session.flush()
        if channel.config_id and _uses_contact_way(host):
            users = _listing(corp, channel)
            host.update_channel_code(channel.config_id, _spec(corp, channel, users))
            channel.listed_user_ids = users
    return channel


def pause_channel(corp: Corp, channel_id: int, *, host: Host | None = None) -> Channel:
    """Stop a channel taking customers. WeCom can only stop a contact way by deleting it: resuming makes a new
    QR code. A DingTalk code keeps its QR; its landing page says the campaign is paused."""
    host = host or host_for(corp)
    with unit_of_work():
        channel = get_channel(corp, channel_id)
        if channel.status != "active":
            raise ValidationError("status", f"the channel is {channel.status}, not active")
        if _uses_contact_way(host):
            _close_on_host(channel, host)
        channel.status = "paused"
    return channel


def resume_channel(corp: Corp, channel_id: int, *, host: Host | None = None) -> Channel:
    host = host or host_for(corp)
    with unit_of_work():
        channel = get_channel(corp, channel_id)
        if channel.status != "paused":
            raise ValidationError("status", f"the channel is {channel.status}, not paused")
        if channel.expires_at and channel.expires_at <= utcnow():
            raise ValidationError("expires_at", "the channel has expired: set a later expires_at first")
        if _uses_contact_way(host):
            _open_on_host(corp, channel, host)
        channel.status = "active"
    return channel


def delete_channel(corp: Corp, channel_id: int, *, host: Host | None = None) -> None:
    """Delete the host's contact way; the channel stays for its statistics, and its state stays reserved."""
    host = host or host_for(corp)
    with unit_of_work():
        channel = get_channel(corp, channel_id)
        if _uses_contact_way(host):
            try:
                _close_on_host(channel, host)
            except HostError as exc:
                if exc.errcode != 41044:  # WeCom: no such contact way (already gone)
                    raise
                channel.config_id = None
        channel.status = "deleted"


def _end(corp: Corp, channel: Channel, status: str, host: Host) -> None:
    try:
        if _uses_contact_way(host):
            _close_on_host(channel, host)
    except HostError as exc:  # the channel ends here anyway; the host's way expires or is deleted by an admin
        log.warning("could not delete the contact way of channel %s: %s", channel.id, exc)
    channel.status = status


def rebalance(corp: Corp, channel_id: int, *, host: Host | None = None, now: datetime | None = None) -> bool:
    """Make the contact way list whom the rules allow now; True when the host was updated."""
    host = host or host_for(corp)
    with unit_of_work():
        channel = db.session.scalar(select(Channel).where(Channel.id == channel_id).with_for_update())
        if channel is None or channel.status != "active" or not channel.config_id or channel.temporary:
            return False
        users = _listing(corp, channel, now)
        if users == list(channel.listed_user_ids or []):
            return False
        host.update_channel_code(channel.config_id, _spec(corp, channel, users))
        channel.listed_user_ids = users
    return True


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Beat's minute job: expire channels past their time, and keep every WeCom contact way's list current."""
    now = now or utcnow()
    expired = updated = 0
    due = list(db.session.scalars(select(Channel).where(Channel.status == "active", Channel.expires_at.is_not(None),
                                                        Channel.expires_at <= now)))
    for channel in due:
        corp = db.session.get(Corp, channel.corp_id)
        with unit_of_work():
            _end(corp, channel, "expired", host_for(corp))
        expired += 1
    for channel_id, corp_id in db.session.execute(select(Channel.id, Channel.corp_id).where(
            Channel.status == "active", Channel.config_id.is_not(None))).all():
        try:
            updated += rebalance(db.session.get(Corp, corp_id), channel_id, now=now)
        except HostError as exc:
            log.warning("could not update the contact way of channel %s: %s", channel_id, exc)
    return {"expired": expired, "updated": updated}


# ---------------------------------------------------------------- after an add


AFTER_ADD_TASK = "scrm.channels.after_add"


def on_customer_added(corp: Corp, event: CustomerAdded, host: Host, ctx) -> None:
    """The add handler: the relationship (relations); the channel's rules follow as a task of their own (tags and
    remark wait for the host's edit slots). They follow every add event of a channel's relationship, also when a
    sync running meanwhile recorded the relationship first: the rules only add what is missing."""
    added = relations.on_customer_added(corp, event, host, ctx)
    if added is not None and added.relationship.channel_id:
        ctx.then(AFTER_ADD_TASK, added.relationship.id)


def after_add(relationship_id: int, *, host: Host | None = None) -> None:
    """A customer came through a channel: apply its tags and remark template, use up a one-time code, and keep the
    contact way's list current when caps or weights apply. Nothing to do once the relationship has ended."""
    with unit_of_work():
        rel = db.session.get(Relationship, relationship_id)
        if rel is None or rel.status != "active" or rel.channel_id is None:
            return
        corp = db.session.get(Corp, rel.corp_id)
        host = host or host_for(corp)
        apply_add_rules(corp, rel, db.session.get(Customer, rel.customer_id), db.session.get(Employee, rel.employee_id),
                        host)
        channel = db.session.get(Channel, rel.channel_id)
        balance = needs_rebalance(channel)
    if balance:
        rebalance(corp, channel.id, host=host)


def needs_rebalance(channel: Channel) -> bool:
    """Whether an add can change whom the contact way should list (caps or weights)."""
    return bool(channel.config_id) and (channel.allocation == "weighted"
                                        or any(m.daily_cap for m in channel.members))


def apply_add_rules(corp: Corp, rel: Relationship, customer: Customer, employee: Employee, host: Host) -> None:
    """A customer came through a channel: its tags and its remark template (on the host, then here); a one-time
    code is used up."""
    channel = db.session.get(Channel, rel.channel_id)
    if channel is None:
        return
    tag_ids = [t.tag_id for t in channel.tags]
    if tag_ids:
        have = set(db.session.scalars(select(RelationshipTag.tag_id).where(RelationshipTag.relationship_id == rel.id)))
        missing = [t for t in tag_ids if t not in have]
        host_ids = list(db.session.scalars(select(Tag.host_id).where(Tag.id.in_(missing), Tag.host_id.is_not(None),
                                                                     Tag.deleted.is_(False))))
        if host_ids:
            host.mark_tags(employee.host_id, customer.host_id, add=host_ids)
        if missing:
            set_relationship_tags(rel, sorted(have) + missing)
    if channel.remark_template and not rel.remark:
        remark = remark_for(corp, channel, customer.name, employee.name)
        try:
            host.set_remark(employee.host_id, customer.host_id, remark=remark)
            rel.remark = remark
        except HostUnsupported:
            rel.remark = remark
    if channel.temporary and channel.status == "active":
        _end(corp, channel, "used", host)


def remark_for(corp: Corp, channel: Channel, customer_name: str, employee_name: str) -> str | None:
    """The channel's remark template filled in (the host keeps at most 20 characters), or None without one."""
    if not channel.remark_template:
        return None
    return placeholders.render(channel.remark_template, {
        "channel": channel.name, "customer_name": customer_name, "employee_name": employee_name,
        "date": local_now(corp).strftime("%Y%m%d")})[:MAX_REMARK]


def pick_employee(corp: Corp, channel: Channel, now: datetime | None = None) -> Employee | None:
    """Who receives the next customer of a channel the product allocates itself (DingTalk's landing page)."""
    seat = allocation.pick(seats(channel), counts_today(corp, channel, now), local_now(corp, now))
    return db.session.get(Employee, seat.employee_id) if seat else None


def describe(channel: Channel) -> dict:
    """The channel as the API shows it."""
    iso = lambda v: v.isoformat() + "Z" if v else None  # noqa: E731
    return {
        "id": channel.id, "name": channel.name, "state": channel.state, "code": channel.code,
        "status": channel.status, "allocation": channel.allocation, "skip_verify": channel.skip_verify,
        "remark": channel.remark, "remark_template": channel.remark_template, "temporary": channel.temporary,
        "expires_at": iso(channel.expires_at), "welcome_mode": channel.welcome_mode, "welcome": channel.welcome or {},
        "members": [{"employee_id": m.employee_id, "weight": m.weight, "daily_cap": m.daily_cap,
                     "backup": m.is_backup, "schedule": m.schedule} for m in channel.members],
        "tags": [t.tag_id for t in channel.tags], "listed_user_ids": channel.listed_user_ids or [],
        "config_id": channel.config_id, "created_at": iso(channel.created_at),
    }
