"""What the console's filters offer and how its pages name ids: the corp's channels (deleted ones too, since they
keep their customers), employees (departed ones too, as followers and authors of the past), departments and live
tags by group, in one read."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from scrm.extensions import db
from scrm.models import Channel, Corp, Department, Employee, Tag, TagGroup


@dataclass(frozen=True)
class FilterChoices:
    channels: list[Channel]
    employees: list[Employee]
    departments: list[Department]
    tag_groups: list[tuple[TagGroup, list[Tag]]]

    def employee_names(self) -> dict[int, str]:
        return {e.id: e.name for e in self.employees}

    def channel_names(self) -> dict[int, str]:
        return {c.id: c.name for c in self.channels}


def for_corp(corp: Corp) -> FilterChoices:
    channels = list(db.session.scalars(select(Channel).where(Channel.corp_id == corp.id).order_by(Channel.id.desc())))
    employees = list(db.session.scalars(select(Employee).where(Employee.corp_id == corp.id)
                                        .order_by(Employee.status, Employee.id)))
    departments = list(db.session.scalars(select(Department).where(Department.corp_id == corp.id,
                                                                   Department.deleted.is_(False))
                                          .order_by(Department.order, Department.id)))
    groups = list(db.session.scalars(select(TagGroup).where(TagGroup.corp_id == corp.id, TagGroup.deleted.is_(False))
                                     .order_by(TagGroup.order, TagGroup.id)))
    by_group: dict[int | None, list[Tag]] = {}
    for tag in db.session.scalars(select(Tag).where(Tag.corp_id == corp.id, Tag.deleted.is_(False)).order_by(Tag.id)):
        by_group.setdefault(tag.group_id, []).append(tag)
    return FilterChoices(channels, employees, departments,
                         [(g, by_group[g.id]) for g in groups if by_group.get(g.id)])
