"""The corp tag library edited from SCRM: created, renamed, reordered or deleted on the host first (no unit of work
open), then here (the host sends no callback for changes made through its API). On a host without a tag API
(DingTalk labels are read-only) groups and tags are local."""
from __future__ import annotations

from sqlalchemy import delete as sa_delete, select
from sqlalchemy.orm import selectinload

from scrm.db import unit_of_work
from scrm.errors import Conflict, NotFound, ValidationError
from scrm.extensions import db
from scrm.host import Host, HostUnsupported
from scrm.models import Corp, RelationshipTag, Tag, TagGroup
from scrm.services.corps import host_for
from scrm.services.tags import upsert_tag_group

MAX_NAME = 30


def _name(value: str, field: str = "name") -> str:
    name = (value or "").strip()
    if not name:
        raise ValidationError(field, "is required")
    if len(name) > MAX_NAME:
        raise ValidationError(field, f"at most {MAX_NAME} characters")
    return name


def _group(corp: Corp, group_id: int) -> TagGroup:
    group = db.session.get(TagGroup, group_id)
    if group is None or group.corp_id != corp.id or group.deleted:
        raise NotFound(f"no tag group {group_id}")
    return group


def _tag(corp: Corp, tag_id: int) -> Tag:
    tag = db.session.get(Tag, tag_id)
    if tag is None or tag.corp_id != corp.id or tag.deleted:
        raise NotFound(f"no tag {tag_id}")
    return tag


def create_group(corp: Corp, name: str, tag_names: list[str], *, order: int = 0, host: Host | None = None) -> TagGroup:
    """A new group with its first tags (the host requires at least one)."""
    name = _name(name)
    tag_names = [_name(t, "tags") for t in tag_names]
    if not tag_names:
        raise ValidationError("tags", "a group needs at least one tag")
    if len(set(tag_names)) != len(tag_names):
        raise ValidationError("tags", "tag names repeat")
    if db.session.scalar(select(TagGroup).where(TagGroup.corp_id == corp.id, TagGroup.name == name,
                                                TagGroup.deleted.is_(False))):
        raise Conflict(f"a tag group named {name} exists")
    try:
        hg = (host or host_for(corp)).create_tags(name, tag_names, order=order)
    except HostUnsupported:
        hg = None
    with unit_of_work():
        if hg is not None:
            return upsert_tag_group(corp, hg)
        group = TagGroup(corp_id=corp.id, name=name, order=order)
        db.session.add(group)
        db.session.flush()
        db.session.add_all(Tag(corp_id=corp.id, group_id=group.id, name=t, order=i) for i, t in enumerate(tag_names))
        return group


def add_tag(corp: Corp, group_id: int, name: str, *, host: Host | None = None) -> Tag:
    name = _name(name)
    group = _group(corp, group_id)
    if any(t.name == name and not t.deleted for t in group.tags):
        raise Conflict(f"tag {name} exists in {group.name}")
    hg = None
    if group.host_id is not None:
        hg = (host or host_for(corp)).create_tags(group.name, [name], group_id=group.host_id)
    with unit_of_work():
        if hg is None:
            tag = Tag(corp_id=corp.id, group_id=group.id, name=name, order=len(group.tags))
            db.session.add(tag)
            return tag
        upsert_tag_group(corp, hg, complete=False)
        db.session.flush()
        return db.session.scalar(select(Tag).where(Tag.group_id == group.id, Tag.name == name,
                                                   Tag.deleted.is_(False)))


def rename(corp: Corp, *, group_id: int | None = None, tag_id: int | None = None, name: str | None = None,
           order: int | None = None, host: Host | None = None) -> TagGroup | Tag:
    """Rename or reorder a group or a tag."""
    new_name = _name(name) if name is not None else None
    item = _group(corp, group_id) if group_id is not None else _tag(corp, tag_id)
    if item.host_id is not None:
        (host or host_for(corp)).edit_tag(item.host_id, name=new_name, order=order)
    with unit_of_work():
        if new_name is not None:
            item.name = new_name
        if order is not None:
            item.order = order
    return item


def delete(corp: Corp, *, group_id: int | None = None, tag_id: int | None = None, host: Host | None = None) -> None:
    """Delete a group (with its tags) or a tag; relationships lose it too."""
    item = _group(corp, group_id) if group_id is not None else _tag(corp, tag_id)
    if item.host_id is not None:
        (host or host_for(corp)).delete_tags(tag_ids=[item.host_id] if tag_id is not None else [],
                                             group_ids=[item.host_id] if group_id is not None else [])
    with unit_of_work():
        item.deleted = True
        gone = [item.id] if tag_id is not None else [t.id for t in item.tags]
        for tag in item.tags if group_id is not None else []:
            tag.deleted = True
        db.session.execute(sa_delete(RelationshipTag).where(RelationshipTag.tag_id.in_(gone)))


def list_groups(corp: Corp) -> list[TagGroup]:
    """The corp's tag library: its groups in order, each with its tags (read in one more query, not one a group)."""
    return list(db.session.scalars(select(TagGroup).where(TagGroup.corp_id == corp.id, TagGroup.deleted.is_(False))
                                   .order_by(TagGroup.order).options(selectinload(TagGroup.tags))))
