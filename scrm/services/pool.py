"""The customer pool (公海): customers nobody follows any more, whose follower left and nobody took over yet, or
whom a corp rule put back (no follow-up note for N days, the stage lost). Salespeople claim them from here, up to
a daily number each (`services.pool_claims`); entries and claims are on the customer's timeline.

The corp's option `pool` holds the rules: `{"no_followup_days": N, "stage_lost": true, "daily_claims": N}`.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.models import (ASKED_STATES, Corp, Customer, Employee, HandoverLine, Note, PoolEntry, Relationship,
                         StageChange, utcnow)
from scrm.services import timeline
from scrm.services.corps import start_of_day

DAILY_CLAIMS = 20  # claims per employee per day, unless the corp sets `pool.daily_claims`
RULE_REASONS = ("no_followup", "stage_lost")


def rules(corp: Corp) -> dict:
    return dict((corp.options or {}).get("pool") or {})


def daily_claims(corp: Corp) -> int:
    return int(rules(corp).get("daily_claims") or DAILY_CLAIMS)


def _followed(customer_id_column):
    """Someone still with the corp follows the customer."""
    return exists().where(Relationship.customer_id == customer_id_column, Relationship.status == "active",
                          Relationship.employee_id == Employee.id, Employee.status == "active")


def _open_entry(customer_id_column):
    return exists().where(PoolEntry.customer_id == customer_id_column, PoolEntry.status == "open")


def _on_the_way(customer_id_column):
    """A handover has asked the host to move the customer: they are being taken over, not in the pool."""
    return exists().where(HandoverLine.customer_id == customer_id_column,
                          HandoverLine.state.in_(ASKED_STATES))


def refresh(corp: Corp, now: datetime | None = None) -> dict[str, int]:
    """Put in the pool every customer nobody with the corp follows (and no handover is moving), and take out the
    ones someone follows again. Returns how many entered and left."""
    now = now or utcnow()
    with unit_of_work():
        departed_follower = (select(Relationship.employee_id).join(Employee, Employee.id == Relationship.employee_id)
                             .where(Relationship.customer_id == Customer.id, Relationship.status == "active",
                                    Employee.status == "departed").limit(1).scalar_subquery())
        last_follower = (select(Relationship.employee_id).where(Relationship.customer_id == Customer.id)
                         .order_by(Relationship.ended_at.desc()).limit(1).scalar_subquery())
        rows = db.session.execute(select(Customer.id, departed_follower, last_follower).where(
            Customer.corp_id == corp.id, exists().where(Relationship.customer_id == Customer.id),
            ~_followed(Customer.id), ~_open_entry(Customer.id), ~_on_the_way(Customer.id))).all()
        for customer_id, departed, last in rows:
            enter(corp.id, customer_id, "departed" if departed else "ended", departed or last, now)
        left = db.session.scalars(select(PoolEntry.id).where(
            PoolEntry.corp_id == corp.id, PoolEntry.status == "open", PoolEntry.reason.not_in(RULE_REASONS),
            _followed(PoolEntry.customer_id))).all()
        _close(left, now)
    return {"entered": len(rows), "left": len(left)}


def apply_rules(corp: Corp, now: datetime | None = None) -> dict[str, int]:
    """The corp's rules: customers with no follow-up note for N days, and lost ones, back into the pool."""
    now = now or utcnow()
    options = rules(corp)
    counts = {"no_followup": 0, "stage_lost": 0}
    with unit_of_work():
        days = options.get("no_followup_days")
        if days:
            since = now - timedelta(days=int(days))
            last_note = select(func.max(Note.created_at)).where(Note.customer_id == Customer.id,
                                                                Note.deleted_at.is_(None)).scalar_subquery()
            last_claim = select(func.max(PoolEntry.claimed_at)).where(
                PoolEntry.customer_id == Customer.id).scalar_subquery()
            follower = (select(Relationship.employee_id).join(Employee, Employee.id == Relationship.employee_id)
                        .where(Relationship.customer_id == Customer.id, Relationship.status == "active",
                               Employee.status == "active", Relationship.started_at < since)
                        .order_by(Relationship.started_at).limit(1).scalar_subquery())
            stale = db.session.execute(select(Customer.id, follower).where(
                Customer.corp_id == corp.id, ~_open_entry(Customer.id), ~_on_the_way(Customer.id),
                follower.is_not(None),
                ~exists().where(Relationship.customer_id == Customer.id, Relationship.status == "active",
                                Relationship.started_at >= since),
                func.coalesce(last_note, since) <= since, func.coalesce(last_claim, since) <= since)).all()
            for customer_id, employee_id in stale:
                enter(corp.id, customer_id, "no_followup", employee_id, now)
            counts["no_followup"] = len(stale)
        if options.get("stage_lost"):
            lost_at = select(func.max(StageChange.changed_at)).where(
                StageChange.customer_id == Customer.id, StageChange.to_stage == "lost").scalar_subquery()
            lost = db.session.scalars(select(Customer.id).where(
                Customer.corp_id == corp.id, Customer.stage == "lost", ~_open_entry(Customer.id),
                ~exists().where(PoolEntry.customer_id == Customer.id,
                                PoolEntry.entered_at >= func.coalesce(lost_at, Customer.created_at)))).all()
            for customer_id in lost:
                enter(corp.id, customer_id, "stage_lost", None, now)
            counts["stage_lost"] = len(lost)
    return counts


def enter(corp_id: int, customer_id: int, reason: str, from_employee_id: int | None, at: datetime) -> PoolEntry:
    """A customer enters the pool (in the caller's unit); an earlier claim no longer grants access."""
    db.session.execute(update(PoolEntry).where(PoolEntry.customer_id == customer_id, PoolEntry.status == "claimed")
                       .values(status="closed", closed_at=at).execution_options(synchronize_session=False))
    entry = PoolEntry(corp_id=corp_id, customer_id=customer_id, reason=reason, from_employee_id=from_employee_id,
                      entered_at=at, status="open")
    db.session.add(entry)
    timeline.record(corp_id=corp_id, customer_id=customer_id, employee_id=from_employee_id, kind="pool_in",
                    payload={"reason": reason}, occurred_at=at)
    return entry


def followed_again(customer_id: int, at: datetime | None = None) -> None:
    """Someone follows the customer again (a takeover, a new friend): the pool's own entries close."""
    ids = db.session.scalars(select(PoolEntry.id).where(PoolEntry.customer_id == customer_id,
                                                        PoolEntry.status == "open",
                                                        PoolEntry.reason.not_in(RULE_REASONS))).all()
    _close(ids, at or utcnow())


def _close(ids: list[int], at: datetime) -> None:
    if ids:
        db.session.execute(update(PoolEntry).where(PoolEntry.id.in_(ids)).values(status="closed", closed_at=at)
                           .execution_options(synchronize_session=False))


def list_entries(corp: Corp, *, limit: int = 50, after: int | None = None, reason: str | None = None) -> dict:
    """The open entries, newest first, with the customer's name and stage and who they came from."""
    query = (select(PoolEntry, Customer.name, Customer.stage, Employee.name)
             .join(Customer, Customer.id == PoolEntry.customer_id)
             .outerjoin(Employee, Employee.id == PoolEntry.from_employee_id)
             .where(PoolEntry.corp_id == corp.id, PoolEntry.status == "open")
             .order_by(PoolEntry.id.desc()).limit(limit + 1))
    if after:
        query = query.where(PoolEntry.id < after)
    if reason:
        query = query.where(PoolEntry.reason == reason)
    rows = db.session.execute(query).all()
    items = [{"customer_id": e.customer_id, "name": name, "stage": stage, "reason": e.reason,
              "entered_at": e.entered_at.isoformat() + "Z",
              "from_employee": {"id": e.from_employee_id, "name": from_name} if e.from_employee_id else None,
              "entry_id": e.id} for e, name, stage, from_name in rows[:limit]]
    total = db.session.scalar(select(func.count()).select_from(PoolEntry).where(
        PoolEntry.corp_id == corp.id, PoolEntry.status == "open"))
    return {"items": items, "total": total, "next": rows[limit - 1][0].id if len(rows) > limit else None}


def claims_today(corp: Corp, employee_id: int, now: datetime | None = None) -> int:
    return db.session.scalar(select(func.count()).select_from(PoolEntry).where(
        PoolEntry.claimed_by == employee_id, PoolEntry.claimed_at >= start_of_day(corp, now))) or 0
