"""The channel form: its fields read into the spec `channels.create_channel` / `update_channel` take (the same the
API's schema gives them), and a channel turned back into the form's values.

The form holds what a marketer sets by hand: name, members (weight, daily cap, backup), working hours shared by the
members who are not backups, tags, the welcome text and whether customers are added without confirmation. What the
API offers beyond (attachments, remark templates, one-time codes) is kept as it is when a channel is edited.
"""
from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

from scrm.errors import ValidationError
from scrm.models import Channel

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME = re.compile(r"^\d{2}:\d{2}$")
ALLOCATIONS = ("round_robin", "weighted")
WELCOME_MODES = ("channel", "default", "none")


def _whole(form: MultiDict, name: str, field: str, *, default: int | None) -> int | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ValidationError(field, "must be a whole number")
    return int(raw)


def read(form: MultiDict, employee_ids: list[int], channel: Channel | None = None) -> dict:
    """The spec of a submitted form; ValidationError names the field of a malformed number or time."""
    schedule = None
    if form.get("hours_on"):
        days = [d for d in form.getlist("days") if d in WEEKDAYS]
        start, end = (form.get("hours_from") or "").strip(), (form.get("hours_to") or "").strip()
        if not days:
            raise ValidationError("schedule", "choose at least one weekday")
        if not TIME.match(start) or not TIME.match(end):
            raise ValidationError("schedule", "times are HH:MM")
        schedule = {d: [[start, end]] for d in days}
    members = []
    for emp_id in employee_ids:
        if not form.get(f"member_{emp_id}"):
            continue
        backup = bool(form.get(f"backup_{emp_id}"))
        members.append({"employee_id": emp_id, "weight": _whole(form, f"weight_{emp_id}", "weight", default=1),
                        "daily_cap": _whole(form, f"cap_{emp_id}", "daily_cap", default=None),
                        "backup": backup, "schedule": None if backup else schedule})
    tags = []
    for raw in form.getlist("tags"):
        if not raw.isdigit():
            raise ValidationError("tags", "must be tag ids")
        tags.append(int(raw))
    text = (form.get("welcome_text") or "").strip()
    attachments = list((channel.welcome or {}).get("attachments") or []) if channel else []
    spec = {"name": (form.get("name") or "").strip(), "members": members, "tags": tags,
            "allocation": form.get("allocation") or "round_robin",
            "welcome_mode": form.get("welcome_mode") or "default",
            "welcome": {"text": text, "attachments": attachments} if text or attachments else None,
            "skip_verify": bool(form.get("skip_verify"))}
    if spec["welcome"] is None and channel is None:
        del spec["welcome"]
    return spec


def values(channel: Channel | None) -> dict:
    """The form's values for a channel (or a new one's defaults)."""
    if channel is None:
        return {"name": "", "allocation": "round_robin", "welcome_mode": "default", "welcome_text": "",
                "skip_verify": True, "members": {}, "tags": set(), "hours_on": False, "days": set(WEEKDAYS[:5]),
                "hours_from": "09:00", "hours_to": "18:00"}
    schedule = next((m.schedule for m in channel.members if m.schedule), None)
    spans = [s for spans in (schedule or {}).values() for s in spans]
    return {"name": channel.name, "allocation": channel.allocation, "welcome_mode": channel.welcome_mode,
            "welcome_text": (channel.welcome or {}).get("text") or "", "skip_verify": channel.skip_verify,
            "members": {m.employee_id: {"weight": m.weight, "daily_cap": m.daily_cap, "backup": m.is_backup}
                        for m in channel.members},
            "tags": {t.tag_id for t in channel.tags}, "hours_on": schedule is not None,
            "days": set(schedule) if schedule else set(WEEKDAYS[:5]),
            "hours_from": spans[0][0] if spans else "09:00", "hours_to": spans[0][1] if spans else "18:00"}


def from_submission(form: MultiDict) -> dict:
    """A rejected form's values as typed, to show it again."""
    members = {}
    for key in form:
        if key.startswith("member_") and key[7:].isdigit():
            emp_id = int(key[7:])
            members[emp_id] = {"weight": form.get(f"weight_{emp_id}", ""), "daily_cap": form.get(f"cap_{emp_id}", ""),
                               "backup": bool(form.get(f"backup_{emp_id}"))}
    return {"name": form.get("name", ""), "allocation": form.get("allocation", "round_robin"),
            "welcome_mode": form.get("welcome_mode", "default"), "welcome_text": form.get("welcome_text", ""),
            "skip_verify": bool(form.get("skip_verify")), "members": members,
            "tags": {int(t) for t in form.getlist("tags") if t.isdigit()}, "hours_on": bool(form.get("hours_on")),
            "days": set(form.getlist("days")), "hours_from": form.get("hours_from", ""),
            "hours_to": form.get("hours_to", "")}
