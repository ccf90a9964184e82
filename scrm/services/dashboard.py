"""What the console shows at a glance: a corp's numbers of today, and its channels with their adds.

Read only. Counted like the channel statistics (`channel_stats`), from timeline rows and never from counters: a new
friend is an `added`/`readded` entry, a loss a `removed` entry whose relationship the customer ended, and net is new
minus every removal (by the customer or by the employee), so the console and the API never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select

from scrm.extensions import db
from scrm.models import Channel, Corp, Employee, Handover, PoolEntry, Tag, TagGroup, TimelineEntry
from scrm.services import channel_stats
from scrm.services.channels import get_channel, list_channels
from scrm.services.corps import local_now, start_of_day

ADDED = ("added", "readded")


@dataclass(frozen=True)
class Today:
    day: date  # the corp's local day
    new: int  # new friends since local midnight (through a channel or not)
    lost: int  # relationships the customer ended
    removed_by_employee: int
    active_channels: int
    open_handovers: int  # planned or running
    pool: int  # customers in the pool (公海) nobody has claimed

    @property
    def net(self) -> int:
        return self.new - self.lost - self.removed_by_employee


@dataclass(frozen=True)
class ChannelRow:
    channel: Channel
    members: list[str]  # the members' names, in the channel's order
    adds_today: int
    adds_total: int


@dataclass(frozen=True)
class ChannelReport:
    channel: Channel
    stats: dict  # `channel_stats.channel_stats`: what GET /api/v1/channels/<id>/stats answers


def today(corp: Corp) -> Today:
    """The corp's numbers since its local midnight, and what is open now (a few counting queries)."""
    midnight = start_of_day(corp)
    new = lost = by_employee = 0
    for kind, payload in db.session.execute(
            select(TimelineEntry.kind, TimelineEntry.payload).where(
                TimelineEntry.corp_id == corp.id, TimelineEntry.kind.in_((*ADDED, "removed")),
                TimelineEntry.occurred_at >= midnight)):
        status = (payload or {}).get("status")
        if kind in ADDED:
            new += 1
        elif status == "removed_by_customer":
            lost += 1
        elif status == "removed_by_employee":
            by_employee += 1
    active = db.session.scalar(select(func.count()).select_from(Channel).where(
        Channel.corp_id == corp.id, Channel.status == "active"))
    handovers = db.session.scalar(select(func.count()).select_from(Handover).where(
        Handover.corp_id == corp.id, Handover.status.in_(("planned", "running"))))
    pool = db.session.scalar(select(func.count()).select_from(PoolEntry).where(
        PoolEntry.corp_id == corp.id, PoolEntry.status == "open"))
    return Today(day=local_now(corp).date(), new=new, lost=lost, removed_by_employee=by_employee,
                 active_channels=active or 0, open_handovers=handovers or 0, pool=pool or 0)


def channel_rows(corp: Corp) -> list[ChannelRow]:
    """The corp's channels (as `channels.list_channels` lists them, newest first) with their adds today and in
    all, counted in one query."""
    found = list_channels(corp)
    midnight = start_of_day(corp)
    counts = {channel_id: (today_n or 0, total) for channel_id, today_n, total in db.session.execute(
        select(TimelineEntry.channel_id,
               func.sum(case((TimelineEntry.occurred_at >= midnight, 1), else_=0)), func.count())
        .where(TimelineEntry.channel_id.in_([c.id for c in found] or [-1]), TimelineEntry.kind.in_(ADDED))
        .group_by(TimelineEntry.channel_id))}
    ids = {m.employee_id for c in found for m in c.members}
    names = dict(db.session.execute(select(Employee.id, Employee.name).where(Employee.id.in_(ids or [-1]))).all())
    return [ChannelRow(c, [names.get(m.employee_id, "?") for m in sorted(c.members, key=lambda m: m.position)],
                       *map(int, counts.get(c.id, (0, 0)))) for c in found]


def channel_report(corp: Corp, channel_id: int, start: date | None, end: date | None) -> ChannelReport:
    """A channel and its statistics between start and end, computed as the API computes them."""
    channel = get_channel(corp, channel_id)
    return ChannelReport(channel, channel_stats.channel_stats(corp, channel.id, start, end))


@dataclass(frozen=True)
class Choices:
    """What a channel form offers: the corp's active employees and its tag library (groups with live tags)."""

    employees: list[Employee]
    tag_groups: list[tuple[TagGroup, list[Tag]]]


def channel_choices(corp: Corp) -> Choices:
    employees = list(db.session.scalars(select(Employee).where(Employee.corp_id == corp.id,
                                                               Employee.status == "active").order_by(Employee.id)))
    groups = list(db.session.scalars(select(TagGroup).where(TagGroup.corp_id == corp.id,
                                                            TagGroup.deleted.is_(False)).order_by(TagGroup.order,
                                                                                                  TagGroup.id)))
    tags = list(db.session.scalars(select(Tag).where(Tag.corp_id == corp.id, Tag.deleted.is_(False))
                                   .order_by(Tag.id)))
    by_group: dict[int | None, list[Tag]] = {}
    for tag in tags:
        by_group.setdefault(tag.group_id, []).append(tag)
    return Choices(employees, [(g, by_group.get(g.id, [])) for g in groups if by_group.get(g.id)])
