"""The host's contact way of a channel (WeCom): whom it lists, its spec, opening and closing it, and keeping its
list current (after adds when caps or weights apply, and by beat for working hours), since the host hands customers
out only among the users it lists.

A host write never runs inside a unit of work: the rows are read first, the host is called, and what it did is
recorded in a short unit afterwards that checks the row is still as it was read.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.host import Capability, ChannelCode, ChannelCodeSpec, Host, HostError
from scrm.models import Channel, Corp, utcnow
from scrm.services import allocation
from scrm.services.channels.rules import TEMPORARY_DEFAULT, counts_today, local_now, seats
from scrm.services.corps import host_for

log = logging.getLogger(__name__)

GONE = 41044  # WeCom: no such contact way (already gone)
REBALANCE_TRIES = 3  # another writer changed the list between our read and our record: read and push again


def uses_contact_way(host: Host) -> bool:
    return Capability.CREATE_CHANNEL_CODE in host.capabilities


def listing(corp: Corp, channel: Channel, now: datetime | None = None) -> list[str]:
    """The host ids the contact way should list now."""
    counts = counts_today(corp, channel, now) if channel.id else {}
    chosen = allocation.listing(seats(channel), counts, local_now(corp, now), channel.allocation)
    return [s.host_id for s in chosen]


def spec(corp: Corp, channel: Channel, user_ids: list[str]) -> ChannelCodeSpec:
    expires_in = None
    if channel.temporary:
        until = channel.expires_at or utcnow() + TEMPORARY_DEFAULT
        expires_in = max(60, int((until - utcnow()).total_seconds()))
    return ChannelCodeSpec(state=channel.state, user_ids=user_ids, remark=channel.remark or channel.name[:30],
                           skip_verify=channel.skip_verify, temporary=channel.temporary, expires_in=expires_in)


def open_way(corp: Corp, channel: Channel, host: Host) -> tuple[ChannelCode, list[str]]:
    """Create the channel's contact way on the host (call outside any unit); returns it and whom it lists."""
    users = listing(corp, channel)
    return host.create_channel_code(spec(corp, channel, users)), users


def record_open(channel: Channel, code: ChannelCode, users: list[str]) -> None:
    channel.config_id, channel.qr_url, channel.listed_user_ids = code.config_id, code.qr_url, users
    channel.qr_image = channel.qr_content = None


def record_closed(channel: Channel) -> None:
    channel.config_id, channel.listed_user_ids = None, []


def discard(config_id: str | None, host: Host, why: str) -> None:
    """Delete a contact way nothing here records any more (best effort: an admin can delete a leftover one)."""
    if not config_id:
        return
    try:
        host.delete_channel_code(config_id)
    except HostError as exc:
        log.warning("could not delete contact way %s (%s): %s", config_id, why, exc)


def recorded_or_discarded(config_id: str | None, host: Host, record) -> None:
    """Run `record` (a function holding a unit of work) for a contact way the host has just made (None: no contact
    way); if it fails, the contact way is deleted again, so no commit failure leaves one on the host that nothing
    here knows of."""
    try:
        record()
    except BaseException:
        discard(config_id, host, "its channel was not recorded")
        raise


def end(corp: Corp, channel_id: int, status: str, host: Host, *, only_if: str = "active") -> bool:
    """End a channel (used, expired): recorded first, then the contact way is deleted (best effort: the channel
    ends here anyway; the host's way expires or is deleted by an admin). False when the channel had moved on."""
    with unit_of_work():
        channel = locked(channel_id)
        if channel is None or channel.status != only_if:
            return False
        config_id = channel.config_id if uses_contact_way(host) else None
        if config_id:
            record_closed(channel)
        channel.status = status
    discard(config_id, host, f"channel {channel_id} is {status}")
    return True


def locked(channel_id: int) -> Channel | None:
    """The channel row, current and locked until the unit ends (keep such units short: no host call inside)."""
    return db.session.scalar(select(Channel).where(Channel.id == channel_id).with_for_update()
                             .execution_options(populate_existing=True))


def rebalance(corp: Corp, channel_id: int, *, host: Host | None = None, now: datetime | None = None) -> bool:
    """Make the contact way list whom the rules allow now; True when the host was updated.

    Read, compute, update the host, then record the list only if nobody recorded another one meanwhile; if
    somebody did, the host may hold either list, so read and push again."""
    host = host or host_for(corp)
    for attempt in range(REBALANCE_TRIES):
        with unit_of_work():  # reads only: ends the read so the next try sees what others committed
            channel = db.session.get(Channel, channel_id, populate_existing=True)
            if channel is None or channel.status != "active" or not channel.config_id or channel.temporary:
                return attempt > 0
            config_id, before = channel.config_id, list(channel.listed_user_ids or [])
            users = listing(corp, channel, now)
            if attempt == 0 and users == before:
                return False
            code_spec = spec(corp, channel, users)
        host.update_channel_code(config_id, code_spec)
        with unit_of_work():
            channel = locked(channel_id)
            if channel is None or channel.config_id != config_id:
                return True  # closed meanwhile: the list no longer matters
            if list(channel.listed_user_ids or []) == before:
                channel.listed_user_ids = users
                return True
    log.warning("channel %s: its contact way list kept changing under us; the next sweep sets it", channel_id)
    return True


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Beat's minute job: expire channels past their time, and keep every WeCom contact way's list current."""
    now = now or utcnow()
    expired = updated = 0
    due = list(db.session.execute(select(Channel.id, Channel.corp_id).where(
        Channel.status == "active", Channel.expires_at.is_not(None), Channel.expires_at <= now)).all())
    for channel_id, corp_id in due:
        corp = db.session.get(Corp, corp_id)
        expired += end(corp, channel_id, "expired", host_for(corp))
    for channel_id, corp_id in db.session.execute(select(Channel.id, Channel.corp_id).where(
            Channel.status == "active", Channel.config_id.is_not(None))).all():
        try:
            updated += rebalance(db.session.get(Corp, corp_id), channel_id, now=now)
        except HostError as exc:
            log.warning("could not update the contact way of channel %s: %s", channel_id, exc)
    return {"expired": expired, "updated": updated}
