"""The handover ledger: a line moves from state to state, each move recorded with its time and source; a line that
ends done moves the local records (the old relationship ends as transferred, linked to the taker's, which carries
over remark, description and tags); a handover whose lines are all final is done and says so (handover.completed).

Everything here runs inside the caller's unit of work and never talks to the host: what the host still has to be
told for the taker (remark, tags) is a follow-up of its own (`CARRY_OVER`)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from scrm.db import get_or_create
from scrm.extensions import db
from scrm.models import (ASKED_STATES, FINAL_STATES, Corp, DomainEvent, Employee, GroupChat, Handover, HandoverLine, HandoverStep,
                         Relationship, RelationshipTag, utcnow)
from scrm.services import followups, pool, timeline

CARRY_OVER = "scrm.handovers.carry_over"  # the follow-up that tells the host the taker's remark and tags
COMPLETED = "handover.completed"

#: the host's per-customer errcodes (doc 92125 / 94081 / 92127) and the state each leaves a line in
NOT_A_FOLLOWER = {40131, 84061}  # the handover member no longer follows the customer
ERRCODE_STATES = dict.fromkeys(NOT_A_FOLLOWER, "no_longer_customer")


def move(line: HandoverLine, state: str, *, source: str, at: datetime | None = None,
         errcode: int | None = None) -> bool:
    """Move a line to `state`, recording the step; a final line never moves again. Whether it moved."""
    if line.state == state or line.state in FINAL_STATES:
        return False
    db.session.add(HandoverStep(line_id=line.id, from_state=line.state, to_state=state, source=source,
                                errcode=errcode, at=at or utcnow()))
    line.state = state
    if errcode is not None:
        line.errcode = errcode
    if state == "requested":
        line.requested_at = at or utcnow()
        if line.customer_id:  # on the way to a colleague: out of the pool (refused, they come back)
            pool.followed_again(line.customer_id, line.requested_at)
    if state in FINAL_STATES:
        line.settled_at = at or utcnow()
    if state in ("refused", "taker_at_limit") and line.customer_id:
        _lost_if_departed(line, at or utcnow())
    return True


def _lost_if_departed(line: HandoverLine, at: datetime) -> None:
    """A departed member's customer who was not taken over is nobody's on the host any more (WeCom drops the
    friendship of a departed member whose takeover failed): the relationship ends, and the customer is pooled."""
    handover = db.session.get(Handover, line.handover_id)
    old = _relationship(line.from_employee_id, line.customer_id)
    if handover.kind == "departed" and old is not None and old.status == "active":
        old.status, old.ended_at, old.end_reason = "removed_by_customer", at, "takeover_failed"


def fail(line: HandoverLine, errcode: int, *, source: str, at: datetime | None = None) -> bool:
    """A line the host refused with `errcode`: why, in the ledger's words."""
    return move(line, ERRCODE_STATES.get(errcode, "failed"), source=source, at=at, errcode=errcode)


def done(line: HandoverLine, *, source: str, at: datetime | None = None) -> list[int]:
    """The host confirmed the takeover: the line is done and the local records move. The follow-ups stored (to
    start after the commit)."""
    at = at or utcnow()
    if not move(line, "done", source=source, at=at):
        return []
    if line.group_chat_id:
        chat = db.session.get(GroupChat, line.group_chat_id)
        chat.owner_id = line.to_employee_id
        return []
    handover = db.session.get(Handover, line.handover_id)
    old = _relationship(line.from_employee_id, line.customer_id)
    new = _relationship(line.to_employee_id, line.customer_id)
    from_host = new is not None and new.status == "active"  # read from the host's add event: it shows the host's view
    if new is None:  # the host's add event has not arrived (or never will: the taker was a friend already)
        new = get_or_create(Relationship, lambda: Relationship(
            corp_id=line.corp_id, employee_id=line.to_employee_id, customer_id=line.customer_id, started_at=at,
            add_way=202 if handover.kind == "onjob" else 203), corp_id=line.corp_id,
            employee_id=line.to_employee_id, customer_id=line.customer_id)
    if new.status != "active":
        new.status, new.started_at, new.ended_at, new.end_reason = "active", at, None, None
    owed_remark, owed_tags = False, []
    if old is not None:
        owed_remark = bool(old.remark or old.description) and (
            not from_host or (new.remark, new.description) != (old.remark, old.description))
        new.remark = old.remark if owed_remark or not new.remark else new.remark
        new.description = old.description if owed_remark or not new.description else new.description
        new.remark_mobiles = new.remark_mobiles or list(old.remark_mobiles or [])
        new.state, new.channel_id = new.state or old.state, new.channel_id or old.channel_id
        if old.status == "active":
            old.status, old.ended_at = "transferred", at
        old.end_reason = old.end_reason or f"handover:{handover.id}"
    db.session.flush()
    if old is not None:
        old.transferred_to_id = new.id
        have = set(db.session.scalars(select(RelationshipTag.tag_id).where(RelationshipTag.relationship_id == new.id)))
        theirs = set(db.session.scalars(select(RelationshipTag.tag_id).where(RelationshipTag.relationship_id == old.id)))
        owed_tags = sorted(theirs - have)
        db.session.add_all(RelationshipTag(relationship_id=new.id, tag_id=t, customer_id=new.customer_id)
                           for t in owed_tags)
    line.old_relationship_id, line.new_relationship_id = old.id if old else None, new.id
    names = dict(db.session.execute(select(Employee.id, Employee.name).where(
        Employee.id.in_([line.from_employee_id, line.to_employee_id]))).all())
    timeline.record(corp_id=line.corp_id, customer_id=line.customer_id, employee_id=line.to_employee_id,
                    relationship_id=new.id, kind="transferred", occurred_at=at,
                    dedupe_key=f"handover-line:{line.id}:done", channel_id=None,
                    payload={"handover_id": handover.id, "kind": handover.kind, "reason": handover.reason,
                             "requested_by": handover.requested_by,
                             "from": {"id": line.from_employee_id, "name": names.get(line.from_employee_id)},
                             "to": {"id": line.to_employee_id, "name": names.get(line.to_employee_id)}})
    pool.followed_again(line.customer_id, at)
    if not (owed_remark or owed_tags):
        line.carried_over = True
        return []
    return [followups.add(line.corp_id, CARRY_OVER, line.id, owed_remark, owed_tags).id]


def by_event(line: HandoverLine, state: str, *, source: str, at: datetime | None = None) -> list[int]:
    """A host callback settled the line: recorded, and the handover closed when it was the last one."""
    started = done(line, source=source, at=at) if state == "done" else []
    if state != "done":
        move(line, state, source=source, at=at)
    db.session.flush()
    finish_if_final(line.handover_id)
    return started


def _relationship(employee_id: int, customer_id: int) -> Relationship | None:
    return db.session.scalar(select(Relationship).where(Relationship.employee_id == employee_id,
                                                        Relationship.customer_id == customer_id))


def open_line(corp_id: int, customer_id: int, *, to_employee_id: int | None = None,
              from_employee_id: int | None = None) -> HandoverLine | None:
    """The newest line of this customer still waiting on the host, to or from this employee."""
    query = select(HandoverLine).where(HandoverLine.corp_id == corp_id, HandoverLine.customer_id == customer_id,
                                       HandoverLine.state.in_(ASKED_STATES))
    if to_employee_id is not None:
        query = query.where(HandoverLine.to_employee_id == to_employee_id)
    if from_employee_id is not None:
        query = query.where(HandoverLine.from_employee_id == from_employee_id)
    return db.session.scalar(query.order_by(HandoverLine.id.desc()).limit(1).with_for_update())


def finish_if_final(handover_id: int) -> bool:
    """Close a running handover whose lines are all final, and record handover.completed once."""
    handover = db.session.get(Handover, handover_id)
    if handover is None or handover.status != "running":
        return False
    counts = state_counts(handover_id)
    if any(state not in FINAL_STATES for state in counts):
        return False
    handover.status, handover.finished_at, handover.next_poll_at = "done", utcnow(), None
    db.session.add(DomainEvent(corp_id=handover.corp_id, kind=COMPLETED, subject_id=handover.id,
                               payload={"handover_id": handover.id, "kind": handover.kind, "counts": counts}))
    pool.refresh(db.session.get(Corp, handover.corp_id))  # the customers nobody took over are back in the pool
    return True


def state_counts(handover_id: int) -> dict[str, int]:
    return dict(db.session.execute(select(HandoverLine.state, func.count()).where(
        HandoverLine.handover_id == handover_id).group_by(HandoverLine.state)).all())
