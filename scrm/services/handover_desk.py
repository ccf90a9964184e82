"""Handovers and the pool as the API's principals may use them: admins the whole corp, managers the employees of
their departments (giver and takers alike), salespeople only what concerns them (the handovers they take part in,
claims for themselves)."""
from __future__ import annotations

from sqlalchemy import select

from scrm.errors import Forbidden, NotFound, ValidationError
from scrm.extensions import db
from scrm.models import Employee
from scrm.services import handovers, pool, pool_claims
from scrm.services.access import Principal, in_scope


def _scope(principal: Principal) -> list[int] | None:
    """The employees within the principal's scope; None for the whole corp."""
    if principal.role == "admin":
        return None
    return list(db.session.scalars(select(Employee.id).where(Employee.corp_id == principal.corp.id,
                                                             in_scope(principal, Employee.id))))


def _may_hand_over(principal: Principal, employee_ids: list[int]) -> None:
    if principal.role == "sales":
        raise Forbidden("only admins and managers hand customers over; a salesperson claims from the pool")
    scope = _scope(principal)
    outside = [i for i in employee_ids if scope is not None and i not in scope]
    if outside:
        raise Forbidden(f"employees {outside} are outside your departments")


def unassigned(principal: Principal) -> dict:
    if principal.role == "sales":
        raise Forbidden("only admins and managers see departed employees' customers")
    scope = _scope(principal)
    items = handovers.unassigned(principal.corp)
    return {"items": [i for i in items if scope is None or i["employee"]["id"] in scope]}


def create(principal: Principal, body: dict, *, dry_run: bool) -> dict:
    _may_hand_over(principal, [body["from_employee_id"], *body["to_employee_ids"]])
    spec = handovers.Spec(kind=body["kind"], from_employee_id=body["from_employee_id"],
                          to_employee_ids=body["to_employee_ids"], split=body.get("split", "even"),
                          customer_ids=body.get("customer_ids"), group_chat_ids=body.get("group_chat_ids"),
                          message=body.get("message"), reason=body.get("reason"),
                          requested_by=f"{principal.role}:{principal.employee_id or 'corp'}")
    preview, _handover = handovers.create(principal.corp, spec, dry_run=dry_run)
    return preview


def _visible(principal: Principal, handover_id: int) -> dict:
    summary = handovers.show(principal.corp.id, handover_id, lines=False)
    scope = _scope(principal)
    if scope is not None:
        mine = handovers.list_handovers(principal.corp.id, employee_ids=scope, before=handover_id + 1, limit=1)
        if not mine or mine[0]["id"] != handover_id:
            raise NotFound(f"no handover {handover_id}")
    return summary


def start(principal: Principal, handover_id: int) -> dict:
    summary = _visible(principal, handover_id)
    _may_hand_over(principal, [summary["from_employee"]["id"]])
    handovers.start(principal.corp, handover_id)
    return handovers.show(principal.corp.id, handover_id, lines=False)


def show(principal: Principal, handover_id: int, **page) -> dict:
    """The lines within the principal's scope: all of them for the giver's side, a taker's own otherwise."""
    _visible(principal, handover_id)
    out = handovers.show(principal.corp.id, handover_id, **page)
    scope = _scope(principal)
    if scope is not None and out["from_employee"]["id"] not in scope:
        out["lines"] = [line for line in out["lines"] if line["to_employee"]["id"] in scope]
    return out


def list_all(principal: Principal, *, limit: int, before: int | None) -> dict:
    return {"items": handovers.list_handovers(principal.corp.id, employee_ids=_scope(principal), limit=limit,
                                              before=before)}


def pool_entries(principal: Principal, *, limit: int, after: int | None, reason: str | None) -> dict:
    return pool.list_entries(principal.corp, limit=limit, after=after, reason=reason)


def claim(principal: Principal, customer_id: int, employee_id: int | None) -> dict:
    """Sales claim for themselves; admins and managers on behalf of an employee within their scope."""
    if principal.role == "sales" or employee_id is None:
        if employee_id not in (None, principal.employee_id):
            raise Forbidden("a salesperson claims for themselves")
        employee_id = principal.employee_id
    if employee_id is None:
        raise ValidationError("employee_id", "name the employee who claims the customer")
    scope = _scope(principal)
    if scope is not None and employee_id not in scope:
        raise Forbidden(f"employee {employee_id} is outside your departments")
    return pool_claims.claim(principal.corp, customer_id, employee_id)
