"""Keep departments and employees current from the host (callbacks, sync, reconcile)."""
from __future__ import annotations

import logging

from sqlalchemy import delete, select

from scrm.db import get_or_create
from scrm.events import DepartmentChanged, EmployeeChanged
from scrm.extensions import db
from scrm.host import Host, HostDepartment, HostEmployee, HostNotFound
from scrm.models import Corp, Department, Employee, EmployeeDepartment, utcnow
from scrm.services import access
from scrm.services.event_context import EventContext

log = logging.getLogger(__name__)

DEPARTED = "scrm.org.departed"  # the follow-up of a departure


def upsert_department(corp: Corp, hd: HostDepartment) -> Department:
    dept = get_or_create(Department, lambda: Department(corp_id=corp.id, host_id=hd.id, name=hd.name),
                         corp_id=corp.id, host_id=hd.id)
    dept.name, dept.parent_host_id, dept.order, dept.deleted = hd.name, hd.parent_id, hd.order, False
    return dept


def _department(corp: Corp, host_id: str) -> Department:
    # known by id only until the next department event or sync names it
    return get_or_create(Department, lambda: Department(corp_id=corp.id, host_id=host_id, name=host_id),
                         corp_id=corp.id, host_id=host_id)


def find_employee(corp: Corp, host_id: str) -> Employee | None:
    return db.session.scalar(select(Employee).where(Employee.corp_id == corp.id, Employee.host_id == host_id))


def upsert_employee(corp: Corp, he: HostEmployee) -> Employee:
    # someone the host no longer knows (or disabled) is stored as departed, never active with access
    emp = get_or_create(Employee, lambda: Employee(corp_id=corp.id, host_id=he.user_id, name=he.name,
                                                   status="active" if he.active else "departed",
                                                   departed_at=None if he.active else utcnow()),
                        corp_id=corp.id, host_id=he.user_id)
    emp.name = he.name or emp.name
    for attr in ("position", "mobile", "email", "avatar"):
        value = getattr(he, attr)
        if value:
            setattr(emp, attr, value)
    if he.active and emp.status == "departed":
        emp.status, emp.departed_at = "active", None
    db.session.flush()
    if he.department_ids:
        wanted = {_department(corp, d).id for d in he.department_ids}
        db.session.execute(delete(EmployeeDepartment).where(EmployeeDepartment.employee_id == emp.id,
                                                            EmployeeDepartment.department_id.not_in(wanted)))
        have = set(db.session.scalars(select(EmployeeDepartment.department_id)
                                      .where(EmployeeDepartment.employee_id == emp.id)))
        db.session.add_all(EmployeeDepartment(employee_id=emp.id, department_id=d) for d in wanted - have)
    return emp


def ensure_employee(corp: Corp, host_id: str, host: Host) -> Employee:
    """The employee with this host id, read from the host the first time we meet them."""
    emp = find_employee(corp, host_id)
    if emp is not None:
        return emp
    try:
        return upsert_employee(corp, host.get_employee(host_id))
    except HostNotFound:
        return upsert_employee(corp, HostEmployee(user_id=host_id, name=host_id, active=False))


def mark_departed(corp: Corp, host_id: str, at, ctx: EventContext | None = None) -> Employee | None:
    """The employee left: recorded, and what follows a departure (out of every channel) stored with it."""
    emp = get_or_create(Employee, lambda: Employee(corp_id=corp.id, host_id=host_id, name=host_id),
                        corp_id=corp.id, host_id=host_id)
    if emp.status != "departed":
        emp.status, emp.departed_at = "departed", at or utcnow()
        (ctx or EventContext(None, corp.id)).then(DEPARTED, emp.id)  # without a row's context: swept in seconds
    access.revoke_employee_tokens(emp.id, emp.departed_at)
    return emp


def _employee_from_details(user_id: str, details: dict) -> HostEmployee:
    depts = [d for d in str(details.get("Department") or "").split(",") if d]
    return HostEmployee(user_id=user_id, name=details.get("Name") or user_id, department_ids=depts,
                        position=details.get("Position"), mobile=details.get("Mobile"),
                        email=details.get("Email"), avatar=details.get("Avatar"))


def on_employee_changed(corp: Corp, event: EmployeeChanged, host: Host, ctx: EventContext) -> None:
    """Created/updated: read the employee (the callback may carry only ids); departed: mark them departed."""
    for user_id in event.user_ids:
        if event.change == "departed":
            mark_departed(corp, user_id, event.occurred_at, ctx)
            continue
        if event.new_user_id and event.new_user_id != user_id:
            emp = find_employee(corp, user_id)
            if emp is not None and find_employee(corp, event.new_user_id) is None:
                emp.host_id = event.new_user_id
            user_id = event.new_user_id
        try:
            he = host.get_employee(user_id)
        except HostNotFound:
            he = _employee_from_details(user_id, event.details)
        upsert_employee(corp, he)


def on_department_changed(corp: Corp, event: DepartmentChanged, host: Host, ctx: EventContext) -> None:
    if event.change == "deleted":
        for host_id in event.department_ids:
            dept = db.session.scalar(select(Department).where(Department.corp_id == corp.id,
                                                              Department.host_id == host_id))
            if dept is not None:
                dept.deleted = True
        return
    by_id = {d.id: d for d in host.list_departments()}
    for host_id in event.department_ids:
        hd = by_id.get(host_id) or HostDepartment(
            id=host_id, name=event.details.get("Name") or host_id, parent_id=event.details.get("ParentId"),
            order=int(event.details.get("Order") or 0))
        upsert_department(corp, hd)


def list_employees(corp: Corp) -> list[dict]:
    """The corp's employees with their departments' names."""
    rows = db.session.scalars(select(Employee).where(Employee.corp_id == corp.id).order_by(Employee.id))
    return [{"id": e.id, "host_id": e.host_id, "name": e.name, "status": e.status,
             "departments": [d.name for d in e.departments]} for e in rows]
