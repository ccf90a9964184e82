"""A member left the corp: every channel that hands them customers stops at once, on both hosts. Channel members
whose employee left have no seat (rules.seats), so a DingTalk landing page already skips them; a WeCom contact
way lists users on the host, so it is listed again without them, and a channel with nobody left to receive its
customers is paused (an admin adds members and resumes it)."""
from __future__ import annotations

import logging

from sqlalchemy import select

from scrm.extensions import db
from scrm.host import Host
from scrm.models import Channel, ChannelMember, Corp, Employee
from scrm.services.channels import contact_way
from scrm.services.channels.lifecycle import pause_channel
from scrm.services.channels.rules import seats
from scrm.services.corps import host_for

log = logging.getLogger(__name__)


def employee_left(employee_id: int, *, host: Host | None = None) -> dict[str, int]:
    """Take a departed employee out of every active channel (a follow-up of the departure); counts what changed."""
    employee = db.session.get(Employee, employee_id)
    if employee is None or employee.status != "departed":
        return {"relisted": 0, "paused": 0}  # back already, or never was
    corp = db.session.get(Corp, employee.corp_id)
    host = host or host_for(corp)
    channel_ids = list(db.session.scalars(select(Channel.id).join(ChannelMember).where(
        ChannelMember.employee_id == employee_id, Channel.corp_id == corp.id, Channel.status == "active")))
    relisted = paused = 0
    for channel_id in channel_ids:
        channel = db.session.get(Channel, channel_id, populate_existing=True)
        if not seats(channel):
            pause_channel(corp, channel_id, host=host)
            log.warning("channel %s paused: %s left and nobody else receives its customers", channel_id,
                        employee.host_id)
            paused += 1
        elif channel.config_id and employee.host_id in (channel.listed_user_ids or []):
            relisted += contact_way.rebalance(corp, channel_id, host=host)
    db.session.rollback()  # reads only: end the snapshot
    return {"relisted": relisted, "paused": paused}
