"""The corp tag library, kept in step with the host."""
from __future__ import annotations

from sqlalchemy import select

from scrm.db import get_or_create
from scrm.events import TagChanged
from scrm.extensions import db
from scrm.host import Host, HostTagGroup
from scrm.models import Corp, Tag, TagGroup
from scrm.services.event_context import EventContext


def upsert_tag_group(corp: Corp, hg: HostTagGroup, *, complete: bool = True) -> TagGroup:
    """Store a host tag group; with `complete`, tags the host no longer lists in it are marked deleted."""
    group = get_or_create(TagGroup, lambda: TagGroup(corp_id=corp.id, host_id=hg.id, name=hg.name),
                          corp_id=corp.id, host_id=hg.id)
    group.name, group.order, group.deleted = hg.name, hg.order, hg.deleted
    seen = set()
    for ht in hg.tags:
        seen.add(ht.id)
        tag = get_or_create(Tag, lambda: Tag(corp_id=corp.id, host_id=ht.id, group_id=group.id, name=ht.name),
                            corp_id=corp.id, host_id=ht.id)
        tag.group_id, tag.name, tag.order, tag.deleted = group.id, ht.name, ht.order, ht.deleted
    if complete:
        for tag in db.session.scalars(select(Tag).where(Tag.group_id == group.id, Tag.deleted.is_(False))):
            if tag.host_id is not None and tag.host_id not in seen:
                tag.deleted = True
    return group


def ensure_tags(corp: Corp, host: Host, host_tag_ids: list[str]) -> list[Tag]:
    """Local tags for these host tag ids, reading unknown ones from the host's library."""
    if not host_tag_ids:
        return []
    def known():
        return {t.host_id: t for t in db.session.scalars(
            select(Tag).where(Tag.corp_id == corp.id, Tag.host_id.in_(host_tag_ids)))}
    tags = known()
    missing = [t for t in host_tag_ids if t not in tags]
    if missing:
        for hg in host.list_tag_groups(tag_ids=missing):
            upsert_tag_group(corp, hg, complete=False)
        db.session.flush()
        tags = known()
    return [tags[t] for t in host_tag_ids if t in tags]


def _mark_deleted(corp: Corp, host_id: str, kind: str | None) -> None:
    if kind in (None, "tag_group"):
        group = db.session.scalar(select(TagGroup).where(TagGroup.corp_id == corp.id, TagGroup.host_id == host_id))
        if group is not None:
            group.deleted = True
            for tag in group.tags:
                tag.deleted = True
            return
    tag = db.session.scalar(select(Tag).where(Tag.corp_id == corp.id, Tag.host_id == host_id))
    if tag is not None:
        tag.deleted = True


def on_tag_changed(corp: Corp, event: TagChanged, host: Host, ctx: EventContext) -> None:
    """Re-read what the console changed: the group, the tag's group, or the whole library after a shuffle."""
    if event.change == "delete" and event.tag_id:
        _mark_deleted(corp, event.tag_id, event.kind)
        return
    if event.change == "shuffle" or not event.tag_id:
        groups = host.list_tag_groups()
    elif event.kind == "tag_group":
        groups = host.list_tag_groups(group_ids=[event.tag_id])
    else:
        groups = host.list_tag_groups(tag_ids=[event.tag_id])
        for hg in groups:
            upsert_tag_group(corp, hg, complete=False)
        return
    for hg in groups:
        upsert_tag_group(corp, hg)
