"""What follows a member's departure (a follow-up of `org.mark_departed`): out of every channel at once, and their
customers into the pool until a handover takes them over."""
from __future__ import annotations

from scrm.extensions import db
from scrm.models import Corp, Employee
from scrm.services import channels, pool


def employee_departed(employee_id: int) -> dict[str, int]:
    counts = channels.employee_left(employee_id)
    employee = db.session.get(Employee, employee_id)
    if employee is not None and employee.status == "departed":
        counts.update(pool.refresh(db.session.get(Corp, employee.corp_id)))
    return counts
