"""A salesperson claims a customer from the pool, up to the corp's daily number: the claim is recorded on the
customer's timeline and gives them the customer's history; when someone still follows the customer on the host (a
departed member whose customers wait, or a colleague a rule took the customer from), the claim starts the handover
that moves the customer to the claimant."""
from __future__ import annotations

from sqlalchemy import delete, select

from scrm.db import unit_of_work
from scrm.errors import Conflict, NotFound, ValidationError
from scrm.extensions import db
from scrm.models import (OPEN_STATES, Corp, Employee, Handover, HandoverLine, PoolEntry, Relationship,
                         utcnow)
from scrm.services import handovers, pool, timeline


class ClaimRefused(Conflict):
    """A claim the pool refuses, and why: `daily_limit` (the claimant's number for today is used up), `taken`
    (someone else claimed the customer first) or `moving` (a handover is moving the customer already)."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


def claim(corp: Corp, customer_id: int, employee_id: int) -> dict:
    claimant = db.session.get(Employee, employee_id)
    if claimant is None or claimant.corp_id != corp.id or claimant.status != "active":
        raise ValidationError("employee_id", "a claim needs an employee with the corp")
    entry = db.session.scalar(select(PoolEntry).where(PoolEntry.corp_id == corp.id, PoolEntry.customer_id == customer_id,
                                                      PoolEntry.status == "open"))
    if entry is None:
        raise NotFound(f"customer {customer_id} is not in the pool")
    cap = pool.daily_claims(corp)
    if pool.claims_today(corp, claimant.id) >= cap:
        raise ClaimRefused("daily_limit",
                           f"{claimant.name} has claimed {cap} customers today, the corp's daily number")
    moving = db.session.scalar(select(HandoverLine.handover_id).where(
        HandoverLine.corp_id == corp.id, HandoverLine.customer_id == customer_id,
        HandoverLine.state.in_(OPEN_STATES)).limit(1))
    if moving is not None:  # a plan skips them: the claim would move nobody while they go to someone else
        raise ClaimRefused("moving", f"customer {customer_id} is being handed over already (handover {moving})")
    follower = db.session.execute(select(Relationship.employee_id, Employee.status).join(
        Employee, Employee.id == Relationship.employee_id).where(
        Relationship.customer_id == customer_id, Relationship.status == "active",
        Relationship.employee_id != claimant.id).order_by(Employee.status.desc(), Relationship.started_at)
        .limit(1)).first()  # departed ones first: their customers wait on the host
    mine = db.session.scalar(select(Relationship.id).where(Relationship.customer_id == customer_id,
                                                           Relationship.employee_id == claimant.id,
                                                           Relationship.status == "active"))
    handover = None
    if follower is not None and mine is None:
        _preview, handover = handovers.create(corp, handovers.Spec(
            kind="departed" if follower.status == "departed" else "onjob", from_employee_id=follower.employee_id,
            to_employee_ids=[claimant.id], customer_ids=[customer_id], reason="claimed from the pool",
            requested_by=f"claim:{claimant.id}"))
    try:
        with unit_of_work():
            db.session.get(Employee, claimant.id, with_for_update=True)  # one claimant's claims one at a time
            entry = db.session.get(PoolEntry, entry.id, with_for_update=True, populate_existing=True)
            if entry.status != "open":
                raise ClaimRefused("taken", f"customer {customer_id} was claimed meanwhile")
            if pool.claims_today(corp, claimant.id) >= cap:
                raise ClaimRefused("daily_limit",
                                   f"{claimant.name} has claimed {cap} customers today, the corp's daily number")
            now = utcnow()
            entry.status, entry.claimed_by, entry.claimed_at = "claimed", claimant.id, now
            entry.handover_id = handover.id if handover else None
            timeline.record(corp_id=corp.id, customer_id=customer_id, employee_id=claimant.id,
                            kind="pool_claimed", payload={"reason": entry.reason, "handover_id": entry.handover_id},
                            occurred_at=now)
    except Conflict:
        if handover is not None:  # never started: its planned line would keep the customer out of every later plan
            with unit_of_work():
                db.session.execute(delete(HandoverLine).where(HandoverLine.handover_id == handover.id))
                db.session.execute(delete(Handover).where(Handover.id == handover.id))
        raise
    if handover is not None:
        handovers.start(corp, handover.id)
    return {"customer_id": customer_id, "claimed_by": {"id": claimant.id, "name": claimant.name},
            "claimed_at": now.isoformat() + "Z", "handover_id": entry.handover_id,
            "claims_left_today": max(cap - pool.claims_today(corp, claimant.id), 0)}
