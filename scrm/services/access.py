"""API tokens and what each role may see and edit.

- admin: the whole corp, every relationship, active or ended.
- manager: the customers with an active relationship to an employee of the manager's departments, each department
  with its whole subtree. The root department counts only for a manager whose only department it is: on DingTalk
  every user is also a member of the root department, which must not open the whole corp to every manager.
- sales: the customers they follow now (an active relationship of their own), and those they claimed from the pool
  (until the customer enters the pool again).

Managers and sales may edit (tags, remark) the relationships within that scope: sales their own, managers those of
their subtree's employees. A customer outside the scope is 404 (nothing tells it apart from a missing one); a
relationship of a visible customer that the principal may not edit is 403. Another corp's data is never visible.

Tokens are stored as sha256 hashes. A token of a departed employee is refused at authentication even when its
revocation was missed; departure revokes the employee's tokens (`revoke_employee_tokens`, called by
`org.mark_departed` in the unit that marks them departed).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, exists, or_, select, true, update

from scrm.db import unit_of_work
from scrm.errors import Forbidden, NotFound, ValidationError
from scrm.extensions import db
from scrm.models import (ROLES, ApiToken, Corp, Customer, Department, Employee, EmployeeDepartment, PoolEntry,
                         Relationship, utcnow)

#: the root department's id on both hosts (WeCom's department 1, DingTalk's dept_id 1); a department known only by
#: id (no parent yet, until a sync names it) is not a root
ROOT_DEPARTMENT = "1"


@dataclass(frozen=True)
class Principal:
    corp: Corp
    role: str
    employee_id: int | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- tokens

def create_token(corp: Corp, role: str, *, employee_id: int | None = None, label: str | None = None) -> str:
    """A new token (returned once; only its hash is kept)."""
    token, _row = issue_token(corp, role, employee_id=employee_id, label=label)
    return token


def issue_token(corp: Corp, role: str, *, employee_id: int | None = None,
                label: str | None = None) -> tuple[str, ApiToken]:
    """A new token and its stored row (the secret is returned once; only its hash is kept)."""
    if role not in ROLES:
        raise ValidationError("role", f"must be one of {', '.join(ROLES)}")
    if label is not None and len(label) > 64:
        raise ValidationError("label", "at most 64 characters")
    emp = db.session.get(Employee, employee_id) if employee_id else None
    if employee_id and (emp is None or emp.corp_id != corp.id):
        raise ValidationError("employee", f"no employee {employee_id} in this corp")
    if role != "admin" and emp is None:
        raise ValidationError("employee", f"a {role} token needs an employee of this corp")
    if emp is not None and emp.status == "departed":
        raise ValidationError("employee", f"{emp.name} ({emp.host_id}) has left the corp: a departed employee "
                                          "cannot hold a token")
    token = "scrm_" + secrets.token_urlsafe(32)
    with unit_of_work():
        row = ApiToken(corp_id=corp.id, token_hash=_hash(token), role=role, employee_id=emp.id if emp else None,
                       label=label)
        db.session.add(row)
    return token, row


def create_token_described(corp: Corp, role: str, *, employee_id: int | None = None,
                           label: str | None = None) -> dict:
    """A new token described, with its secret under `token` (the one time it is shown)."""
    token, row = issue_token(corp, role, employee_id=employee_id, label=label)
    return {**describe(row), "token": token}


def list_tokens(corp: Corp) -> list[dict]:
    """The corp's tokens, oldest first: never the secret nor its hash."""
    rows = db.session.execute(select(ApiToken, Employee).outerjoin(Employee, Employee.id == ApiToken.employee_id)
                              .where(ApiToken.corp_id == corp.id).order_by(ApiToken.id)).all()
    return [describe(token, emp) for token, emp in rows]


def describe(token: ApiToken, emp: Employee | None = None) -> dict:
    if emp is None and token.employee_id:
        emp = db.session.get(Employee, token.employee_id)
    return {"id": token.id, "role": token.role, "label": token.label,
            "employee": {"id": emp.id, "host_id": emp.host_id, "name": emp.name, "status": emp.status}
            if emp else None,
            "created_at": token.created_at, "revoked_at": token.revoked_at}


def revoke_token(corp: Corp, token_id: int) -> dict:
    """Revoke one of the corp's tokens (revoking it again changes nothing); the token described."""
    with unit_of_work():
        row = db.session.scalar(select(ApiToken).where(ApiToken.corp_id == corp.id, ApiToken.id == token_id)
                                .with_for_update())
        if row is None:
            raise NotFound(f"no token {token_id}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
    return describe(row)


def revoke_employee_tokens(employee_id: int, at: datetime | None = None) -> int:
    """Revoke every live token of an employee, in the caller's unit of work; how many."""
    result = db.session.execute(update(ApiToken).where(ApiToken.employee_id == employee_id,
                                                       ApiToken.revoked_at.is_(None))
                                .values(revoked_at=at or utcnow()).execution_options(synchronize_session=False))
    return result.rowcount


def authenticate(token: str | None) -> Principal | None:
    """The principal of a live token; None for an unknown or revoked one, or one of a departed employee."""
    if not token:
        return None
    row = db.session.execute(select(ApiToken, Employee.status).outerjoin(Employee, Employee.id == ApiToken.employee_id)
                             .where(ApiToken.token_hash == _hash(token), ApiToken.revoked_at.is_(None))).first()
    if row is None:
        return None
    api_token, status = row
    if api_token.employee_id is not None and status != "active":
        return None
    return Principal(db.session.get(Corp, api_token.corp_id), api_token.role, api_token.employee_id)


# ---------------------------------------------------------------- scope

def _own_departments(principal: Principal) -> list[int]:
    """The manager's departments that root their scope (see the module's rule about the root department)."""
    rows = db.session.execute(select(Department.id, Department.host_id).join(
        EmployeeDepartment, EmployeeDepartment.department_id == Department.id).where(
        EmployeeDepartment.employee_id == principal.employee_id, Department.corp_id == principal.corp.id)).all()
    below_root = [d for d, host_id in rows if host_id != ROOT_DEPARTMENT]
    return below_root or [d for d, _ in rows]


def _subtree_members(principal: Principal) -> Select:
    """The employees of a manager's departments and everything below them."""
    return department_members(principal.corp.id, _own_departments(principal))


def department_members(corp_id: int, department_ids: list[int], *, name: str = "scope") -> Select:
    """The employees of these departments (ids of the corp's) and of every department below them: a recursive CTE
    over parent ids. The one subtree query: managers' scopes and the department filters use it (each under a name
    of its own, as one statement may hold both)."""
    subtree = select(Department.host_id).where(Department.corp_id == corp_id,
                                               Department.id.in_(department_ids or [-1])).cte(name, recursive=True)
    subtree = subtree.union(select(Department.host_id).where(Department.corp_id == corp_id,
                                                             Department.parent_host_id == subtree.c.host_id))
    return (select(EmployeeDepartment.employee_id)
            .join(Department, Department.id == EmployeeDepartment.department_id)
            .where(Department.corp_id == corp_id, Department.host_id.in_(select(subtree.c.host_id))))


def scope_employees(principal: Principal) -> list[int] | None:
    """The employees whose active relationships (and claims) make a customer visible to the principal, as ids worked
    out now (None for an admin: every customer of the corp). The same scope as `visible_customers`; for a query that
    starts from these employees' relationships instead of probing every customer of the corp."""
    if principal.role == "admin":
        return None
    if principal.role == "manager":
        members = db.session.scalars(_subtree_members(principal)).all()
        return sorted({principal.employee_id, *members})
    return [principal.employee_id]


def in_scope(principal: Principal, employee_id: ColumnElement, *also: ColumnElement) -> ColumnElement[bool]:
    """Whether the employee (a column) is within the principal's scope: anyone for an admin, themselves for sales,
    themselves and the members of their subtree for a manager. With `also`, a condition per column, in the same
    order (one subtree query serves them all)."""
    columns = (employee_id, *also)
    if principal.role == "admin":
        conditions = [true() for _ in columns]
    elif principal.role == "manager":
        members = _subtree_members(principal)
        conditions = [or_(c == principal.employee_id, c.in_(members)) for c in columns]
    else:
        conditions = [c == principal.employee_id for c in columns]
    return conditions[0] if not also else conditions


def visible_customers(principal: Principal, query: Select) -> Select:
    """Restrict a customer query to what the principal may see: admins every customer of the corp, managers and
    sales those with an active relationship within their scope (ended relationships give no access)."""
    query = query.where(Customer.corp_id == principal.corp.id)
    if principal.role == "admin":
        return query
    follower, claimant = in_scope(principal, Relationship.employee_id, PoolEntry.claimed_by)
    return query.where(or_(exists().where(Relationship.customer_id == Customer.id, Relationship.status == "active",
                                          follower),
                           exists().where(PoolEntry.customer_id == Customer.id, PoolEntry.status == "claimed",
                                          claimant)))


def can_see(principal: Principal, customer_id: int) -> bool:
    return db.session.scalar(visible_customers(principal, select(Customer.id).where(
        Customer.id == customer_id))) is not None


def check_can_edit(principal: Principal, customer_id: int, relationship_id: int) -> None:
    """A relationship's tags and remark: 404 unless it is one of this customer's, 403 unless its employee is within
    the principal's scope (sales: their own; managers: their subtree's employees')."""
    rel = db.session.get(Relationship, relationship_id)
    if rel is None or rel.corp_id != principal.corp.id or rel.customer_id != customer_id:
        raise NotFound(f"no relationship {relationship_id} for customer {customer_id}")
    if db.session.scalar(select(Employee.id).where(Employee.id == rel.employee_id,
                                                   in_scope(principal, Employee.id))) is None:
        raise Forbidden(f"relationship {relationship_id} is another employee's: " + (
            "a manager edits only the relationships of their departments" if principal.role == "manager"
            else "a salesperson edits only their own relationships"))
