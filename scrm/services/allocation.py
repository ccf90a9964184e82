"""Who receives a channel's next customer: members on duty and under their daily cap, balanced by weight; the
backup employees when no member is available. Pure functions of the members, today's counts and the local time,
so the rules can be tried over simulated days."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
#: A host that hands customers out among the users it lists (WeCom) is given those within this many customers
#: (per unit of weight) of the least served: balanced without an update of the contact way after every add.
SLACK = 2


@dataclass(frozen=True)
class Seat:
    employee_id: int
    host_id: str
    weight: int = 1
    daily_cap: int | None = None
    backup: bool = False
    schedule: dict | None = None  # {"mon": [["09:00", "18:00"]], ...}; None = any time
    position: int = 0


def schedule_problem(schedule: object) -> str | None:
    """Why a weekly schedule is malformed, or None when it is fine."""
    if schedule is None:
        return None
    if not isinstance(schedule, dict):
        return "must be an object of weekdays (mon ... sun) to lists of [start, end] times"
    for day, spans in schedule.items():
        if day not in WEEKDAYS:
            return f"unknown weekday {day!r} (use {', '.join(WEEKDAYS)})"
        if not isinstance(spans, list):
            return f"{day}: must be a list of [start, end] pairs"
        for span in spans:
            if (not isinstance(span, (list, tuple)) or len(span) != 2
                    or not all(isinstance(t, str) and _TIME.match(t) for t in span)):
                return f"{day}: each span is [\"HH:MM\", \"HH:MM\"]"
            if span[0] >= span[1]:
                return f"{day}: {span[0]} is not before {span[1]}"
    return None


def on_duty(seat: Seat, local: datetime) -> bool:
    """Within one of the seat's working spans for that weekday (any time without a schedule)."""
    if seat.schedule is None:
        return True
    now = local.strftime("%H:%M")
    return any(start <= now < end for start, end in seat.schedule.get(WEEKDAYS[local.weekday()], []))


def _load(seat: Seat, counts: dict[int, int]) -> float:
    return counts.get(seat.employee_id, 0) / max(seat.weight, 1)


def available(seats: list[Seat], counts: dict[int, int], local: datetime) -> list[Seat]:
    """Members on duty and under their cap; else the backups (those on duty first); else, rather than turn a
    customer away, every member."""
    members = [s for s in seats if not s.backup]
    ready = [s for s in members if on_duty(s, local)
             and (s.daily_cap is None or counts.get(s.employee_id, 0) < s.daily_cap)]
    if ready:
        return ready
    backups = [s for s in seats if s.backup]
    return [s for s in backups if on_duty(s, local)] or backups or members


def pick(seats: list[Seat], counts: dict[int, int], local: datetime) -> Seat | None:
    """The next receiver: the available seat furthest below its weighted share today (ties: list order)."""
    pool = available(seats, counts, local)
    return min(pool, key=lambda s: (_load(s, counts), s.position)) if pool else None


def listing(seats: list[Seat], counts: dict[int, int], local: datetime, allocation: str) -> list[Seat]:
    """Whom to list on a contact way that the host hands out among its users: the available seats, and with
    weights only those not ahead of their share by SLACK customers or more."""
    pool = available(seats, counts, local)
    if allocation == "weighted" and len(pool) > 1:
        least = min(_load(s, counts) for s in pool)
        pool = [s for s in pool if _load(s, counts) < least + SLACK]
    return sorted(pool, key=lambda s: s.position)
