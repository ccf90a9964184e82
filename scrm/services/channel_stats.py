"""Channel analytics per local day and per employee: new friends, lost, net, conversions, cost per acquisition.

Counted from rows, never from counters: a new friend is an `added`/`readded` timeline entry of the channel (written
once per add, however often the host delivered it), a loss is a `removed` entry, a conversion is a stage change to
the conversion stage of a customer whose first relationship came through the channel (first-touch attribution:
one conversion, one channel). Replays and duplicate deliveries cannot inflate them.
"""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import aliased

from scrm.db import unit_of_work
from scrm.errors import ValidationError
from scrm.extensions import db
from scrm.models import ChannelCost, Corp, Employee, Relationship, StageChange, TimelineEntry
from scrm.services.channels import get_channel
from scrm.services.corps import corp_zone

MAX_DAYS = 366
EARLIEST, LATEST = date(2000, 1, 1), date(2199, 12, 31)  # days statistics can name (beyond: datetime overflows)
EARLY_LOSS = timedelta(days=7)
COLUMNS = ("new", "lost", "lost_within_7d", "removed_by_employee", "net", "conversions")


@dataclass
class Tally:
    new: int = 0
    lost: int = 0  # the customer ended the relationship
    lost_within_7d: int = 0  # ... within 7 days of the add
    removed_by_employee: int = 0
    conversions: int = 0
    cost_cents: int = 0
    customers: set = field(default_factory=set)  # converted customers, so one counts once a day

    @property
    def net(self) -> int:
        return self.new - self.lost - self.removed_by_employee

    def row(self) -> dict:
        out = {name: getattr(self, name) for name in COLUMNS}
        out["cost"] = round(self.cost_cents / 100, 2)
        out["cost_per_acquisition"] = round(self.cost_cents / 100 / self.new, 2) if self.cost_cents and self.new \
            else None
        return out


def _bounds(corp: Corp, start: date, end: date) -> tuple[datetime, datetime]:
    if start < EARLIEST or start > LATEST:
        raise ValidationError("from", f"must be between {EARLIEST} and {LATEST}")
    if end > LATEST:
        raise ValidationError("to", f"must be between {EARLIEST} and {LATEST}")
    if end < start:
        raise ValidationError("to", "must not be before from")
    if (end - start).days >= MAX_DAYS:
        raise ValidationError("to", f"at most {MAX_DAYS} days at a time")
    zone = corp_zone(corp)

    def utc(day: date) -> datetime:
        return datetime.combine(day, time(), zone).astimezone(timezone.utc).replace(tzinfo=None)

    return utc(start), utc(end + timedelta(days=1))


def channel_stats(corp: Corp, channel_id: int, start: date | None, end: date | None) -> dict:
    """Per day (the corp's time zone) and per employee, with totals, for [start, end] (default: the last 7 days,
    today included)."""
    channel = get_channel(corp, channel_id)
    zone = corp_zone(corp)
    end = end or datetime.now(zone).date()
    start = start or end - timedelta(days=6)
    lower, upper = _bounds(corp, start, end)
    days = {start + timedelta(days=n): Tally() for n in range((end - start).days + 1)}
    people: dict[int, Tally] = defaultdict(Tally)
    total = Tally()

    def local_day(moment: datetime) -> date:
        return moment.replace(tzinfo=timezone.utc).astimezone(zone).date()

    added_at: dict[int, datetime] = {}
    entries = db.session.execute(
        select(TimelineEntry.kind, TimelineEntry.employee_id, TimelineEntry.relationship_id,
               TimelineEntry.occurred_at, TimelineEntry.payload)
        .where(TimelineEntry.channel_id == channel.id, TimelineEntry.kind.in_(("added", "readded", "removed")),
               TimelineEntry.occurred_at >= lower - EARLY_LOSS, TimelineEntry.occurred_at < upper)
        .order_by(TimelineEntry.occurred_at, TimelineEntry.id))
    for kind, employee_id, rel_id, at, payload in entries:
        if kind != "removed":
            added_at[rel_id] = at
        if at < lower:
            continue
        tallies = (days[local_day(at)], people[employee_id], total)
        status = (payload or {}).get("status")
        for tally in tallies:
            if kind != "removed":
                tally.new += 1
            elif status == "removed_by_customer":
                tally.lost += 1
                if rel_id in added_at and at - added_at[rel_id] <= EARLY_LOSS:
                    tally.lost_within_7d += 1
            elif status == "removed_by_employee":
                tally.removed_by_employee += 1
    _conversions(corp, channel.id, lower, upper, days, people, total, local_day)
    for day, cents in db.session.execute(select(ChannelCost.day, ChannelCost.amount_cents).where(
            ChannelCost.channel_id == channel.id, ChannelCost.day >= start, ChannelCost.day <= end)):
        days[day].cost_cents += cents
        total.cost_cents += cents
    names = dict(db.session.execute(select(Employee.id, Employee.name).where(Employee.id.in_(list(people)))).all())
    return {
        "channel_id": channel.id, "from": start.isoformat(), "to": end.isoformat(), "timezone": str(zone),
        "days": [{"day": day.isoformat(), **tally.row()} for day, tally in days.items()],
        "employees": [{"employee_id": emp_id, "name": names.get(emp_id), **{k: v for k, v in tally.row().items()
                                                                             if not k.startswith("cost")}}
                      for emp_id, tally in sorted(people.items(), key=lambda item: -item[1].new)
                      if emp_id is not None],
        "total": total.row(),
    }


def _conversions(corp: Corp, channel_id: int, lower: datetime, upper: datetime, days, people, total,
                 local_day) -> None:
    """Customers moved to the conversion stage (option `conversion_stage`, default won), credited to the channel of
    the customer's first relationship and to its employee (first touch): a customer who came through several
    channels is one conversion, of the channel that brought them."""
    stage = (corp.options or {}).get("conversion_stage") or "won"
    earliest = aliased(Relationship)
    first = (select(earliest.id).where(earliest.customer_id == StageChange.customer_id)
             .order_by(earliest.started_at, earliest.id).limit(1).correlate(StageChange).scalar_subquery())
    rows = db.session.execute(
        select(StageChange.customer_id, StageChange.changed_at, Relationship.employee_id)
        .join(Relationship, Relationship.id == first)
        .where(Relationship.channel_id == channel_id, StageChange.to_stage == stage,
               StageChange.changed_at >= lower, StageChange.changed_at < upper))
    for customer_id, at, employee_id in rows:
        day = local_day(at)
        for tally in (days[day], people[employee_id], total):
            if (customer_id, day) not in tally.customers:
                tally.customers.add((customer_id, day))
                tally.conversions += 1


def set_costs(corp: Corp, channel_id: int, items: list[dict]) -> list[dict]:
    """Record what the channel cost per day (replacing what those days had)."""
    channel = get_channel(corp, channel_id)
    with unit_of_work():
        for n, item in enumerate(items):
            day, amount = item.get("day"), item.get("amount")
            if not isinstance(day, date):
                raise ValidationError(f"items[{n}].day", "must be a date")
            if not isinstance(amount, (int, float)) or amount < 0 or amount > 10**9:
                raise ValidationError(f"items[{n}].amount", "must be a non-negative amount")
            cost = db.session.get(ChannelCost, (channel.id, day))
            cents = int(round(amount * 100))
            if cost is None:
                db.session.add(ChannelCost(channel_id=channel.id, day=day, amount_cents=cents))
            else:
                cost.amount_cents = cents
    return [{"day": c.day.isoformat(), "amount": c.amount_cents / 100} for c in db.session.scalars(
        select(ChannelCost).where(ChannelCost.channel_id == channel.id).order_by(ChannelCost.day))]


def to_csv(stats: dict, by: str = "day") -> str:
    """The statistics as CSV: one row per day (and a total), or one per employee."""
    out = io.StringIO()
    writer = csv.writer(out)
    if by == "employee":
        writer.writerow(["employee_id", "name", *COLUMNS])
        for row in stats["employees"]:
            writer.writerow([row["employee_id"], _cell(row["name"]), *(row[c] for c in COLUMNS)])
        return out.getvalue()
    header = ["day", *COLUMNS, "cost", "cost_per_acquisition"]
    writer.writerow(header)
    for row in stats["days"]:
        writer.writerow([row.get(c) if row.get(c) is not None else "" for c in header])
    writer.writerow(["total", *(stats["total"].get(c) if stats["total"].get(c) is not None else ""
                                for c in header[1:])])
    return out.getvalue()


def _cell(value: str | None) -> str:
    """Employee names are typed by people: a leading =, +, - or @ would run as a formula in a spreadsheet."""
    value = value or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
