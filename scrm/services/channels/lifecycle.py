"""A channel's life: created, edited, paused, resumed and deleted on the host first (WeCom contact ways), then
here; on DingTalk, which has no contact ways, channels live here and point to the landing page.

Every input is checked before any host call. The host is called outside any unit of work (so no row stays
locked while it answers), and what it did is recorded in a short unit afterwards; when that record fails, the
host's change is undone as far as it can be (a new contact way deleted, an edited one set back).
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.errors import NotFound, ValidationError
from scrm.extensions import db
from scrm.host import Capability, Host, HostError
from scrm.models import Channel, Corp, utcnow
from scrm.services.channels import contact_way, rules
from scrm.services.corps import host_for

log = logging.getLogger(__name__)


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


def _current(corp: Corp, channel_id: int) -> Channel:
    """The channel as committed now, locked until the (short) unit ends."""
    channel = contact_way.locked(channel_id)
    if channel is None or channel.corp_id != corp.id or channel.status == "deleted":
        raise NotFound(f"no channel {channel_id}")
    return channel


# ---------------------------------------------------------------- writing


def create_channel(corp: Corp, spec: dict, *, host: Host | None = None) -> Channel:
    """Create a channel code: checked, then the host's contact way (WeCom), then the row."""
    host = host or host_for(corp)
    fields = rules.check(corp, spec, None)
    if Capability.CUSTOMER_NEEDS_TAG in host.capabilities:
        rules.require_host_tags(corp, fields, creating=True)
    channel = rules.new_channel(corp, fields)  # not in the session until its unit below
    code = None
    if contact_way.uses_contact_way(host):
        code, users = contact_way.open_way(corp, channel, host)

    def record() -> None:
        with unit_of_work():
            if code is not None:
                contact_way.record_open(channel, code, users)
            db.session.add(channel)

    contact_way.recorded_or_discarded(code.config_id if code else None, host, record)
    return channel


def update_channel(corp: Corp, channel_id: int, changes: dict, *, host: Host | None = None) -> Channel:
    """Edit a channel; the contact way is updated in place, so its QR code stays the same."""
    host = host or host_for(corp)
    channel = get_channel(corp, channel_id)
    fields = rules.check(corp, changes, channel)
    if Capability.CUSTOMER_NEEDS_TAG in host.capabilities:
        rules.require_host_tags(corp, fields, creating=False)
    config_id = channel.config_id if contact_way.uses_contact_way(host) else None
    users = None
    if config_id:
        before = contact_way.spec(corp, channel, list(channel.listed_user_ids or []))
        after = rules.draft(channel, fields)
        users = contact_way.listing(corp, after)
        host.update_channel_code(config_id, contact_way.spec(corp, after, users))
    try:
        with unit_of_work():
            channel = _current(corp, channel_id)
            rules.apply_fields(channel, fields)
            if users is not None and channel.config_id == config_id:
                channel.listed_user_ids = users
    except BaseException:
        if config_id:
            _set_back(config_id, before, host)
        raise
    return channel


def _set_back(config_id: str, before, host: Host) -> None:
    try:
        host.update_channel_code(config_id, before)
    except HostError as exc:
        log.warning("could not set contact way %s back after a failed edit: %s", config_id, exc)


def pause_channel(corp: Corp, channel_id: int, *, host: Host | None = None) -> Channel:
    """Stop a channel taking customers. WeCom can only stop a contact way by deleting it: resuming makes a new
    QR code. A DingTalk code keeps its QR; its landing page says the campaign is paused."""
    host = host or host_for(corp)
    channel = get_channel(corp, channel_id)
    _require_status(channel, "active")
    config_id = channel.config_id if contact_way.uses_contact_way(host) else None
    if config_id:
        host.delete_channel_code(config_id)
    with unit_of_work():
        channel = _current(corp, channel_id)
        if contact_way.uses_contact_way(host) and channel.config_id == config_id:
            contact_way.record_closed(channel)
        channel.status = "paused"
    return channel


def resume_channel(corp: Corp, channel_id: int, *, host: Host | None = None) -> Channel:
    host = host or host_for(corp)
    channel = get_channel(corp, channel_id)
    _require_resumable(channel)
    code = None
    if contact_way.uses_contact_way(host):
        code, users = contact_way.open_way(corp, channel, host)

    def record() -> None:
        with unit_of_work():
            current = _current(corp, channel_id)
            _require_resumable(current)  # resumed or deleted meanwhile: the new contact way is not ours to keep
            if code is not None:
                contact_way.record_open(current, code, users)
            current.status = "active"

    contact_way.recorded_or_discarded(code.config_id if code else None, host, record)
    return channel


def _require_status(channel: Channel, status: str) -> None:
    if channel.status != status:
        raise ValidationError("status", f"the channel is {channel.status}, not {status}")


def _require_resumable(channel: Channel) -> None:
    _require_status(channel, "paused")
    if channel.expires_at and channel.expires_at <= utcnow():
        raise ValidationError("expires_at", "the channel has expired: set a later expires_at first")


def delete_channel(corp: Corp, channel_id: int, *, host: Host | None = None) -> None:
    """Delete the host's contact way; the channel stays for its statistics, and its state stays reserved."""
    host = host or host_for(corp)
    channel = get_channel(corp, channel_id)
    config_id = channel.config_id if contact_way.uses_contact_way(host) else None
    if config_id:
        try:
            host.delete_channel_code(config_id)
        except HostError as exc:
            if exc.errcode != contact_way.GONE:
                raise
    with unit_of_work():
        channel = _current(corp, channel_id)
        if contact_way.uses_contact_way(host):
            contact_way.record_closed(channel)
        channel.status = "deleted"
