"""Handovers as the API and the CLI show them: counts per state, each line's state with its last step."""
from __future__ import annotations

from sqlalchemy import func, select

from scrm.errors import NotFound
from scrm.extensions import db
from scrm.models import Customer, Employee, GroupChat, Handover, HandoverLine, HandoverStep
from scrm.services.handovers.ledger import state_counts


def _iso(value):
    return value.isoformat() + "Z" if value else None


def summary(handover: Handover, names: dict[int, str] | None = None) -> dict:
    names = names if names is not None else dict(db.session.execute(select(Employee.id, Employee.name).where(
        Employee.id == handover.from_employee_id)).all())
    return {"id": handover.id, "kind": handover.kind, "status": handover.status, "split": handover.split,
            "reason": handover.reason, "message": handover.message, "requested_by": handover.requested_by,
            "from_employee": {"id": handover.from_employee_id, "name": names.get(handover.from_employee_id)},
            "created_at": _iso(handover.created_at), "started_at": _iso(handover.started_at),
            "finished_at": _iso(handover.finished_at), "next_poll_at": _iso(handover.next_poll_at),
            "counts": state_counts(handover.id)}


def list_handovers(corp_id: int, *, employee_ids=None, limit: int = 50, before: int | None = None) -> list[dict]:
    """Newest first; `employee_ids` (a scope) keeps those from or to these employees."""
    query = select(Handover).where(Handover.corp_id == corp_id).order_by(Handover.id.desc()).limit(limit)
    if before:
        query = query.where(Handover.id < before)
    if employee_ids is not None:
        query = query.where(Handover.from_employee_id.in_(employee_ids) | Handover.id.in_(
            select(HandoverLine.handover_id).where(HandoverLine.to_employee_id.in_(employee_ids))))
    rows = list(db.session.scalars(query))
    names = dict(db.session.execute(select(Employee.id, Employee.name).where(
        Employee.id.in_([h.from_employee_id for h in rows] or [-1]))).all())
    return [summary(h, names) for h in rows]


def show(corp_id: int, handover_id: int, *, lines: bool = True, state: str | None = None, limit: int | None = None,
         after: int | None = None) -> dict:
    """The summary and, with `lines`, each line (of one state; `limit` a page, `after` the last line id seen)."""
    handover = db.session.scalar(select(Handover).where(Handover.corp_id == corp_id, Handover.id == handover_id))
    if handover is None:
        raise NotFound(f"no handover {handover_id}")
    out = summary(handover)
    if not lines:
        return out
    rows = db.session.execute(
        select(HandoverLine, Customer.name, GroupChat.name, Employee.name)
        .outerjoin(Customer, Customer.id == HandoverLine.customer_id)
        .outerjoin(GroupChat, GroupChat.id == HandoverLine.group_chat_id)
        .join(Employee, Employee.id == HandoverLine.to_employee_id)
        .where(HandoverLine.handover_id == handover_id, *([HandoverLine.state == state] if state else []),
               *([HandoverLine.id > after] if after else []))
        .order_by(HandoverLine.id).limit(limit + 1 if limit else None)).all()
    more = bool(limit) and len(rows) > limit
    rows = rows[:limit] if limit else rows
    last_source = dict(db.session.execute(
        select(HandoverStep.line_id, HandoverStep.source).where(HandoverStep.id.in_(
            select(func.max(HandoverStep.id)).join(HandoverLine, HandoverLine.id == HandoverStep.line_id)
            .where(HandoverLine.handover_id == handover_id).group_by(HandoverStep.line_id)))).all())
    out["lines"] = [{"id": line.id, "type": "group_chat" if line.group_chat_id else "customer",
                     "customer_id": line.customer_id, "group_chat_id": line.group_chat_id,
                     "name": chat_name if line.group_chat_id else customer_name,
                     "to_employee": {"id": line.to_employee_id, "name": taker}, "state": line.state,
                     "errcode": line.errcode, "source": last_source.get(line.id),
                     "requested_at": _iso(line.requested_at), "settled_at": _iso(line.settled_at),
                     "new_relationship_id": line.new_relationship_id}
                    for line, customer_name, chat_name, taker in rows]
    out["next"] = out["lines"][-1]["id"] if more else None
    return out


def steps(line_id: int) -> list[dict]:
    return [{"from": s.from_state, "to": s.to_state, "source": s.source, "errcode": s.errcode, "at": _iso(s.at)}
            for s in db.session.scalars(select(HandoverStep).where(HandoverStep.line_id == line_id)
                                        .order_by(HandoverStep.id))]
