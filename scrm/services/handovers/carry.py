"""What the host is told for a taker once a takeover is done: the old relationship's remark, description and tags
(the edits go through the connector's gate of 5 parallel remark / tag edits). A follow-up of the line; telling the
host twice changes nothing."""
from __future__ import annotations

from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.host import Capability
from scrm.models import Corp, Customer, Employee, HandoverLine, Relationship, Tag
from scrm.services.corps import host_for


def carry_over(line_id: int, remark: bool = True, tag_ids: list[int] | None = None) -> None:
    """Tell the host the taker's remark (when owed) and the tags the taker's relationship lacked there."""
    line = db.session.get(HandoverLine, line_id)
    if line is None or line.carried_over or line.state != "done" or not line.customer_id:
        db.session.rollback()
        return
    corp = db.session.get(Corp, line.corp_id)
    host = host_for(corp)
    old = db.session.get(Relationship, line.old_relationship_id) if line.old_relationship_id else None
    new = db.session.get(Relationship, line.new_relationship_id) if line.new_relationship_id else None
    if old is not None and new is not None and Capability.TRANSFER_RESULTS in host.capabilities:
        taker = db.session.get(Employee, new.employee_id).host_id
        customer = db.session.get(Customer, new.customer_id).host_id
        description = new.description
        tags = list(db.session.scalars(select(Tag.host_id).where(
            Tag.id.in_(tag_ids or [-1]), Tag.host_id.is_not(None), Tag.deleted.is_(False))))
        remark_text = new.remark
        db.session.rollback()  # no transaction open while the host is told
        if remark and (remark_text or description):
            host.set_remark(taker, customer, remark=remark_text, description=description)
        if tags:
            host.mark_tags(taker, customer, add=tags)
    with unit_of_work():
        db.session.get(HandoverLine, line_id, populate_existing=True).carried_over = True
