"""A corp's handover rule: a departed member's customers and chats go to their manager (a leader of one of their
departments) once they have been gone N hours and nobody planned a handover for them. The corp's option
`handover: {"to_manager_after_hours": N}`."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from scrm.errors import DomainError
from scrm.extensions import db
from scrm.models import Corp, Employee, EmployeeDepartment, Handover, Relationship, utcnow
from scrm.services.handovers.execution import start
from scrm.services.handovers.planning import Spec, create

log = logging.getLogger(__name__)


def manager_of(employee: Employee) -> Employee | None:
    departments = select(EmployeeDepartment.department_id).where(EmployeeDepartment.employee_id == employee.id)
    return db.session.scalar(select(Employee).join(EmployeeDepartment, EmployeeDepartment.employee_id == Employee.id)
                             .where(EmployeeDepartment.department_id.in_(departments),
                                    EmployeeDepartment.is_leader.is_(True), Employee.status == "active",
                                    Employee.id != employee.id).order_by(Employee.id).limit(1))


def apply(now: datetime | None = None) -> list[int]:
    """Plan and start the handovers the corps' rules call for; their ids."""
    now = now or utcnow()
    started = []
    for corp in list(db.session.scalars(select(Corp))):
        hours = ((corp.options or {}).get("handover") or {}).get("to_manager_after_hours")
        if hours is None:
            continue
        waiting = list(db.session.scalars(select(Employee).where(
            Employee.corp_id == corp.id, Employee.status == "departed",
            Employee.departed_at <= now - timedelta(hours=float(hours)),
            exists().where(Relationship.employee_id == Employee.id, Relationship.status == "active"),
            ~exists().where(Handover.from_employee_id == Employee.id))))
        for employee in waiting:
            manager = manager_of(employee)
            if manager is None:
                log.warning("%s left %s h ago and has no manager to take over: plan a handover by hand",
                            employee.host_id, hours)
                continue
            try:
                _preview, handover = create(corp, Spec(kind="departed", from_employee_id=employee.id,
                                                       to_employee_ids=[manager.id], reason="to the manager",
                                                       requested_by="rule:to_manager"))
            except DomainError as exc:
                log.warning("handover rule for %s: %s", employee.host_id, exc)
                continue
            start(corp, handover.id)
            started.append(handover.id)
    return started
