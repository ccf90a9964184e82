"""The welcome deliveries an admin (or a manager, a salesperson) may look at: did customer X get the welcome, and if
not, why. Each row names its customer, employee and channel, the host's errcode and the reason in words, and the
time from the add's callback to the welcome sent.

Scope follows the customer API (`access`): admins see every delivery of the corp; managers and sales those of an
employee within their scope to a customer they may see (an active relationship within it). Filters naming another
corp's (or an invisible) customer, employee or channel are NotFound.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, select

from scrm.errors import NotFound, ValidationError
from scrm.extensions import db
from scrm.models import Channel, Customer, Employee, Relationship, WelcomeDelivery
from scrm.services import welcome
from scrm.services.access import Principal, can_see, in_scope


def _naive(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.replace(tzinfo=None) - value.utcoffset()


def _query(principal: Principal, filters: dict):
    corp = principal.corp
    query = (select(WelcomeDelivery, Customer, Employee, Channel)
             .outerjoin(Customer, and_(Customer.corp_id == WelcomeDelivery.corp_id,
                                       Customer.host_id == WelcomeDelivery.customer_host_id))
             .outerjoin(Employee, and_(Employee.corp_id == WelcomeDelivery.corp_id,
                                       Employee.host_id == WelcomeDelivery.employee_host_id))
             .outerjoin(Channel, Channel.id == WelcomeDelivery.channel_id)
             .where(WelcomeDelivery.corp_id == corp.id))
    if principal.role != "admin":
        query = query.where(in_scope(principal, Employee.id), exists().where(
            Relationship.customer_id == Customer.id, Relationship.status == "active",
            in_scope(principal, Relationship.employee_id)))
    if filters.get("customer_id"):
        customer = db.session.get(Customer, filters["customer_id"])
        if customer is None or customer.corp_id != corp.id or not can_see(principal, customer.id):
            raise NotFound(f"no customer {filters['customer_id']}")
        query = query.where(WelcomeDelivery.customer_host_id == customer.host_id)
    if filters.get("external_userid"):
        query = query.where(WelcomeDelivery.customer_host_id == filters["external_userid"])
    if filters.get("employee_id"):
        employee = db.session.get(Employee, filters["employee_id"])
        if employee is None or employee.corp_id != corp.id:
            raise NotFound(f"no employee {filters['employee_id']}")
        query = query.where(WelcomeDelivery.employee_host_id == employee.host_id)
    if filters.get("channel_id"):
        channel = db.session.get(Channel, filters["channel_id"])
        if channel is None or channel.corp_id != corp.id:
            raise NotFound(f"no channel {filters['channel_id']}")
        query = query.where(WelcomeDelivery.channel_id == channel.id)
    if filters.get("status"):
        if filters["status"] not in welcome.STATUSES:
            raise ValidationError("status", f"must be one of {', '.join(welcome.STATUSES)}")
        query = query.where(WelcomeDelivery.status == filters["status"])
    if filters.get("from"):
        query = query.where(WelcomeDelivery.received_at >= _naive(filters["from"]))
    if filters.get("to"):
        query = query.where(WelcomeDelivery.received_at < _naive(filters["to"]))
    return query


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def describe(delivery: WelcomeDelivery, customer: Customer | None, employee: Employee | None,
             channel: Channel | None) -> dict:
    return {
        "id": delivery.id, "at": _iso(delivery.received_at), "sent_at": _iso(delivery.sent_at),
        "status": delivery.status, "errcode": welcome.errcode_of(delivery), "error": delivery.error,
        "reason": welcome.reason(delivery), "latency_seconds": welcome.latency(delivery),
        "customer": {"id": customer.id if customer else None, "name": customer.name if customer else None,
                     "external_userid": delivery.customer_host_id},
        "employee": {"id": employee.id if employee else None, "name": employee.name if employee else None,
                     "userid": delivery.employee_host_id},
        "channel": {"id": channel.id, "name": channel.name} if channel else None,
    }


def search(principal: Principal, filters: dict, *, limit: int = 50, after: int | None = None) -> dict:
    """One page of deliveries, newest first (keyset on id: pass `next` as `after`)."""
    query = _query(principal, filters)
    if after:
        query = query.where(WelcomeDelivery.id < after)
    rows = db.session.execute(query.order_by(WelcomeDelivery.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    items = [describe(*row) for row in rows[:limit]]
    return {"items": items, "next": items[-1]["id"] if more else None}


def latest_by_pair(corp_id: int, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """The newest delivery of each (employee host id, customer host id): status, reason, at (for the 360)."""
    if not pairs:
        return {}
    customers = {c for _, c in pairs}
    found: dict[tuple[str, str], dict] = {}
    for delivery in db.session.scalars(select(WelcomeDelivery).where(
            WelcomeDelivery.corp_id == corp_id, WelcomeDelivery.customer_host_id.in_(customers))
            .order_by(WelcomeDelivery.id)):
        key = (delivery.employee_host_id, delivery.customer_host_id)
        if key in pairs:
            found[key] = {"status": delivery.status, "reason": welcome.reason(delivery),
                          "errcode": welcome.errcode_of(delivery), "at": _iso(delivery.received_at),
                          "sent_at": _iso(delivery.sent_at)}
    return found
