"""Channel rules: every input checked before any host call (a bad one raises ValidationError naming the field),
the remark template, and whom the allocation rules hand the next customer to."""
from __future__ import annotations

import re
import secrets
import string
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from scrm.errors import ValidationError
from scrm.extensions import db
from scrm.models import (ALLOCATIONS, WELCOME_MODES, Channel, ChannelMember, ChannelTag, Corp, Employee, Tag,
                         TimelineEntry, utcnow)
from scrm.services import allocation, placeholders, welcome
from scrm.services.allocation import Seat
from scrm.services.corps import local_now, start_of_day

MAX_MEMBERS = 100  # WeCom: a contact way lists at most 100 users
MAX_DAILY_CAP = 100_000  # far above any employee's day; the column is a 32-bit INT
MAX_REMARK = 20  # WeCom: a relationship's remark is at most 20 characters
TEMPORARY_MAX = timedelta(days=14)  # WeCom: a temporary contact way lives at most 14 days
TEMPORARY_DEFAULT = timedelta(days=7)
STATE = re.compile(r"^[A-Za-z0-9_-]{1,30}$")
REMARK_PLACEHOLDERS = ("channel", "date", "customer_name", "employee_name")
ADDED = ("added", "readded")
FIELDS = ("name", "state", "members", "allocation", "skip_verify", "remark", "tags", "remark_template",
          "welcome_mode", "welcome", "temporary", "expires_at")
MEMBER_FIELDS = ("employee_id", "weight", "daily_cap", "backup", "schedule")


# ---------------------------------------------------------------- allocation


def counts_today(corp: Corp, channel: Channel, now: datetime | None = None) -> dict[int, int]:
    """New friends per employee through this channel since local midnight (from the timeline, so never twice)."""
    midnight = start_of_day(corp, now)
    return dict(db.session.execute(
        select(TimelineEntry.employee_id, func.count()).where(
            TimelineEntry.channel_id == channel.id, TimelineEntry.kind.in_(ADDED),
            TimelineEntry.occurred_at >= midnight).group_by(TimelineEntry.employee_id)).all())


def seats(channel: Channel) -> list[Seat]:
    employees = {e.id: e for e in db.session.scalars(select(Employee).where(
        Employee.id.in_([m.employee_id for m in channel.members])))}
    return [Seat(employee_id=m.employee_id, host_id=employees[m.employee_id].host_id, weight=m.weight,
                 daily_cap=m.daily_cap, backup=m.is_backup, schedule=m.schedule, position=m.position)
            for m in channel.members if employees[m.employee_id].status == "active"]


def pick_employee(corp: Corp, channel: Channel, now: datetime | None = None) -> Employee | None:
    """Who receives the next customer of a channel the product allocates itself (DingTalk's landing page)."""
    seat = allocation.pick(seats(channel), counts_today(corp, channel, now), local_now(corp, now))
    return db.session.get(Employee, seat.employee_id) if seat else None


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
        if not isinstance(item, dict) or set(item) - set(MEMBER_FIELDS):
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
        if cap is not None and (not isinstance(cap, int) or not 1 <= cap <= MAX_DAILY_CAP):
            raise ValidationError(f"{field}.daily_cap", f"must be a whole number from 1 to {MAX_DAILY_CAP} (or null)")
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


def check(corp: Corp, spec: dict, channel: Channel | None) -> dict:
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


def require_host_tags(corp: Corp, fields: dict, creating: bool) -> None:
    """On a host that creates a customer only with one of its tags (DingTalk's extcontact/create needs label_ids),
    a channel without one would turn every customer of its landing page away: refuse it when created, and when an
    edit takes its last one away."""
    if not creating and "tags" not in fields:
        return
    ids = fields.get("tags") or []
    on_host = db.session.scalar(select(func.count()).select_from(Tag).where(
        Tag.corp_id == corp.id, Tag.id.in_(ids), Tag.host_id.is_not(None), Tag.deleted.is_(False))) if ids else 0
    if not on_host:
        raise ValidationError("tags", "请至少选择一个企业标签：平台创建客户时必须带标签，否则每位客户提交都会失败 "
                                      "(the host creates a customer only with at least one of its tags)")


def apply_fields(channel: Channel, fields: dict) -> None:
    """Set the checked fields on a channel (members and tags replace the old ones)."""
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


def draft(base: Channel, fields: dict) -> Channel:
    """The stored channel as an edit will leave it, never added to the session: what the host's contact way is
    updated from before any row changes (members and tags are copies, so the stored channel stays as it is)."""
    copy = Channel(id=base.id, corp_id=base.corp_id, status=base.status, welcome=base.welcome,
                   listed_user_ids=list(base.listed_user_ids or []), config_id=base.config_id)
    for key in ("name", "state", "allocation", "skip_verify", "remark", "remark_template", "welcome_mode",
                "temporary", "expires_at"):
        setattr(copy, key, getattr(base, key))
    copy.members = [ChannelMember(employee_id=m.employee_id, weight=m.weight, daily_cap=m.daily_cap,
                                  is_backup=m.is_backup, schedule=m.schedule, position=m.position)
                    for m in base.members]
    copy.tags = [ChannelTag(tag_id=t.tag_id) for t in base.tags]
    apply_fields(copy, fields)
    return copy


def new_channel(corp: Corp, fields: dict) -> Channel:
    """A new channel row with the checked fields (not yet added to the session)."""
    channel = Channel(corp_id=corp.id, status="active", welcome={}, listed_user_ids=[])
    apply_fields(channel, fields)
    return channel


# ---------------------------------------------------------------- the remark template


def remark_for(corp: Corp, channel: Channel, customer_name: str, employee_name: str) -> str | None:
    """The channel's remark template filled in (the host keeps at most 20 characters), or None without one."""
    if not channel.remark_template:
        return None
    return placeholders.render(channel.remark_template, {
        "channel": channel.name, "customer_name": customer_name, "employee_name": employee_name,
        "date": local_now(corp).strftime("%Y%m%d")})[:MAX_REMARK]
