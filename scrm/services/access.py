"""API tokens and what each role may see: admin the corp, manager their departments' customers, sales the
customers they follow. Another corp's data is never visible (callers answer 404, not 403)."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Select, exists, select

from scrm.db import unit_of_work
from scrm.errors import ValidationError
from scrm.extensions import db
from scrm.models import ROLES, ApiToken, Corp, Customer, Employee, EmployeeDepartment, Relationship


@dataclass(frozen=True)
class Principal:
    corp: Corp
    role: str
    employee_id: int | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(corp: Corp, role: str, *, employee_id: int | None = None, label: str | None = None) -> str:
    """A new token (returned once; only its hash is kept)."""
    if role not in ROLES:
        raise ValidationError("role", f"must be one of {', '.join(ROLES)}")
    if role != "admin":
        emp = db.session.get(Employee, employee_id) if employee_id else None
        if emp is None or emp.corp_id != corp.id:
            raise ValidationError("employee", f"a {role} token needs an employee of this corp")
    token = "scrm_" + secrets.token_urlsafe(32)
    with unit_of_work():
        db.session.add(ApiToken(corp_id=corp.id, token_hash=_hash(token), role=role, employee_id=employee_id,
                                label=label))
    return token


def authenticate(token: str | None) -> Principal | None:
    if not token:
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(token),
                                                   ApiToken.revoked_at.is_(None)))
    if row is None:
        return None
    return Principal(db.session.get(Corp, row.corp_id), row.role, row.employee_id)


def visible_customers(principal: Principal, query: Select) -> Select:
    """Restrict a customer query to what the principal may see."""
    query = query.where(Customer.corp_id == principal.corp.id)
    if principal.role == "admin":
        return query
    if principal.role == "sales":  # the customers they follow now
        return query.where(exists().where(Relationship.customer_id == Customer.id,
                                          Relationship.employee_id == principal.employee_id,
                                          Relationship.status == "active"))
    # a manager: everyone in the departments the manager belongs to
    departments = select(EmployeeDepartment.department_id).where(EmployeeDepartment.employee_id == principal.employee_id)
    followers = select(EmployeeDepartment.employee_id).where(EmployeeDepartment.department_id.in_(departments))
    return query.where(exists().where(Relationship.customer_id == Customer.id,
                                      Relationship.employee_id.in_(followers)))


def can_see(principal: Principal, customer_id: int) -> bool:
    return db.session.scalar(visible_customers(principal, select(Customer.id).where(
        Customer.id == customer_id))) is not None
