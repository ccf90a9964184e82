"""Who still has customers and group chats to hand over, and the plan of a handover: which customer and chat goes
to which colleague (evenly, or by their current load), previewed before anything is stored or sent."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from scrm.db import get_or_create, unit_of_work
from scrm.errors import ValidationError
from scrm.extensions import db
from scrm.host import Capability, Host, iterate
from scrm.models import (HANDOVER_KINDS, OPEN_STATES, Corp, Customer, Employee, GroupChat, Handover, HandoverLine,
                         Relationship)
from scrm.services.corps import host_for

SPLITS = ("even", "load")
MAX_TAKERS = 100
MAX_MESSAGE = 200  # transfer_success_msg (doc 92125)
GROUP_STATUS_AWAITING = 1  # groupchat/list status_filter: 离职待继承 (doc 92120)
OWNER_FILTER = 100  # owners per groupchat/list call


@dataclass
class Spec:
    kind: str
    from_employee_id: int
    to_employee_ids: list[int]
    split: str = "even"
    customer_ids: list[int] | None = None
    group_chat_ids: list[int] | None = None
    message: str | None = None
    reason: str | None = None
    requested_by: str = "api"


@dataclass
class Plan:
    spec: Spec
    giver: Employee
    takers: list[Employee]
    customers: dict[int, list[Customer]] = field(default_factory=dict)  # taker id -> customers
    chats: dict[int, list[GroupChat]] = field(default_factory=dict)  # taker id -> group chats
    skipped: list[dict] = field(default_factory=list)


# ---------------------------------------------------------------- what is still to hand over

def unassigned(corp: Corp, *, host: Host | None = None) -> list[dict]:
    """Departed employees with the customers and group chats still to hand over. On WeCom the host's unassigned
    list, read to the end by cursor, is the truth for customers (matched with ours) and departed owners' chats come
    from groupchat/list (the unassigned list omits members who owned only chats); elsewhere our relationships."""
    host = host or host_for(corp)
    departed = {e.host_id: e for e in db.session.scalars(select(Employee).where(
        Employee.corp_id == corp.id, Employee.status == "departed"))}
    if Capability.LIST_UNASSIGNED in host.capabilities:
        customers = _host_unassigned(host)
    else:
        customers = defaultdict(list)
        for emp_host_id, customer_host_id in db.session.execute(
                select(Employee.host_id, Customer.host_id).join(Relationship, Relationship.employee_id == Employee.id)
                .join(Customer, Customer.id == Relationship.customer_id)
                .where(Employee.corp_id == corp.id, Employee.status == "departed", Relationship.status == "active")):
            customers[emp_host_id].append(customer_host_id)
    chats = _departed_owners_chats(corp, host, list(departed)) if departed else {}
    pending = _pending_host_ids(corp)
    out = []
    for host_id in sorted(set(customers) | set(chats)):
        emp = departed.get(host_id)
        known = dict(db.session.execute(select(Customer.host_id, Customer.id).where(
            Customer.corp_id == corp.id, Customer.host_id.in_(customers.get(host_id, [])))).all())
        ids = [c for c in customers.get(host_id, []) if c not in pending]
        out.append({"employee": {"id": emp.id if emp else None, "host_id": host_id, "name": emp.name if emp else None,
                                 "departed_at": emp.departed_at.isoformat() + "Z" if emp and emp.departed_at else None},
                    "customers": len(ids), "customer_ids": [known[c] for c in ids if c in known],
                    "unknown_customers": sum(1 for c in ids if c not in known),
                    "group_chats": len(chats.get(host_id, [])), "group_chat_host_ids": chats.get(host_id, [])})
    db.session.rollback()  # reads only
    return out


def _host_unassigned(host: Host) -> dict[str, list[str]]:
    """The host's unassigned list read by cursor to the end: each departed member's customers."""
    out: dict[str, list[str]] = defaultdict(list)
    for item in iterate(lambda cursor: host.list_unassigned(cursor)):
        out[item.handover_id].append(item.customer_id)
    return out


def _departed_owners_chats(corp: Corp, host: Host, owners: list[str]) -> dict[str, list[str]]:
    """The chats awaiting 离职继承, by departed owner (the host lists them only when asked by owner)."""
    if Capability.GROUP_CHAT_TRANSFER not in host.capabilities:
        rows = db.session.execute(select(Employee.host_id, GroupChat.host_id).join(
            GroupChat, GroupChat.owner_id == Employee.id).where(Employee.host_id.in_(owners),
                                                                GroupChat.corp_id == corp.id,
                                                                GroupChat.status == "active")).all()
        out: dict[str, list[str]] = defaultdict(list)
        for owner, chat in rows:
            out[owner].append(chat)
        return out
    out = defaultdict(list)
    for start in range(0, len(owners), OWNER_FILTER):
        batch = owners[start:start + OWNER_FILTER]
        chat_ids = list(iterate(lambda cursor: host.list_group_chats(cursor, owner_ids=batch,
                                                                     status=GROUP_STATUS_AWAITING)))
        if len(batch) == 1:
            out[batch[0]] = chat_ids
            continue
        for chat_id in chat_ids:  # several owners in one call: each chat's owner from the host
            out[host.get_group_chat(chat_id).owner_id].append(chat_id)
    return out


def _pending_host_ids(corp: Corp) -> set[str]:
    """Customers and chats a handover is already moving (asked, or waiting on the host)."""
    return set(db.session.scalars(select(HandoverLine.host_id).where(
        HandoverLine.corp_id == corp.id, HandoverLine.state.in_(OPEN_STATES))))


# ---------------------------------------------------------------- the plan

def create(corp: Corp, spec: Spec, *, dry_run: bool = False, host: Host | None = None) -> tuple[dict, Handover | None]:
    """Check a handover's request and split its customers and chats among the takers; store it as a planned
    handover unless this is a dry run. The host is read first (its lists of the giver's customers and chats), then
    one unit records the plan. Returns the preview (who gets whom) and the handover stored."""
    host = host or host_for(corp)
    giver, takers = _people(corp, spec)
    customer_host_ids = None
    if spec.customer_ids is None and spec.kind == "departed" and Capability.LIST_UNASSIGNED in host.capabilities:
        customer_host_ids = _host_unassigned(host).get(giver.host_id, [])
    chat_host_ids = _giver_chats(corp, spec, giver, host)
    with unit_of_work():
        pending = _pending_host_ids(corp)
        customers, skipped = _customers(corp, spec, giver, customer_host_ids, pending)
        chats = _chats(corp, spec, giver, chat_host_ids, pending)
        load = _load([t.id for t in takers]) if spec.split == "load" else None
        out = Plan(spec, giver, takers, customers=_split(customers, takers, load), chats=_split(chats, takers, None),
                   skipped=skipped)
        handover = None if dry_run else _store(corp, out)
    return {**preview(out), "id": handover.id if handover else None}, handover


def _people(corp: Corp, spec: Spec) -> tuple[Employee, list[Employee]]:
    if spec.kind not in HANDOVER_KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(HANDOVER_KINDS)}")
    if spec.split not in SPLITS:
        raise ValidationError("split", f"must be one of {', '.join(SPLITS)}")
    giver = db.session.get(Employee, spec.from_employee_id)
    if giver is None or giver.corp_id != corp.id:
        raise ValidationError("from_employee_id", f"no employee {spec.from_employee_id} in this corp")
    if spec.kind == "departed" and giver.status != "departed":
        raise ValidationError("from_employee_id", f"{giver.name} has not left: an on-job handover (kind onjob) "
                                                  "moves a current employee's customers")
    if spec.kind == "onjob" and giver.status == "departed":
        raise ValidationError("from_employee_id", f"{giver.name} has left: use kind departed")
    ids = list(dict.fromkeys(spec.to_employee_ids or []))
    if not ids or len(ids) > MAX_TAKERS:
        raise ValidationError("to_employee_ids", f"name 1 to {MAX_TAKERS} colleagues")
    takers = {e.id: e for e in db.session.scalars(select(Employee).where(Employee.corp_id == corp.id,
                                                                          Employee.id.in_(ids)))}
    missing = [i for i in ids if i not in takers]
    if missing:
        raise ValidationError("to_employee_ids", f"no employees {missing} in this corp")
    gone = [takers[i].name for i in ids if takers[i].status != "active"]
    if gone:
        raise ValidationError("to_employee_ids", f"{', '.join(gone)} left the corp: a taker must be with the corp")
    if giver.id in takers:
        raise ValidationError("to_employee_ids", "the employee handing over cannot take over (40130)")
    if spec.message is not None and (spec.kind != "onjob" or len(spec.message) > MAX_MESSAGE):
        raise ValidationError("message", f"only an on-job handover tells the customer, in at most {MAX_MESSAGE} "
                                         "characters")
    return giver, [takers[i] for i in ids]


def _customers(corp: Corp, spec: Spec, giver: Employee, host_ids: list[str] | None,
               pending: set[str]) -> tuple[list[Customer], list[dict]]:
    """The giver's customers to move: the host's unassigned list when it was read (a whole departed handover on
    WeCom), else our active relationships; those a handover is already moving are skipped."""
    if host_ids is not None:
        customers = [get_or_create(Customer, lambda h=h: Customer(corp_id=corp.id, host_id=h, name=""),
                                   corp_id=corp.id, host_id=h) for h in dict.fromkeys(host_ids)]
    else:
        query = (select(Customer).join(Relationship, Relationship.customer_id == Customer.id)
                 .where(Relationship.employee_id == giver.id, Relationship.status == "active"))
        if spec.customer_ids is not None:
            query = query.where(Customer.id.in_(spec.customer_ids or [-1]))
        customers = list(db.session.scalars(query.order_by(Customer.id)))
        if spec.customer_ids is not None:
            found = {c.id for c in customers}
            missing = [i for i in dict.fromkeys(spec.customer_ids) if i not in found]
            if missing:
                raise ValidationError("customer_ids", f"{giver.name} does not follow customers {missing[:20]}")
    skipped = [{"customer_id": c.id, "reason": "already in a handover"} for c in customers if c.host_id in pending]
    return [c for c in customers if c.host_id not in pending], skipped


def _giver_chats(corp: Corp, spec: Spec, giver: Employee, host: Host) -> list[str]:
    """The host ids of the giver's group chats: by default all of a whole handover, none of one limited to some
    customers (unless chats are named)."""
    if spec.group_chat_ids is None and spec.customer_ids is not None:
        return []
    if Capability.GROUP_CHAT_TRANSFER not in host.capabilities:
        if spec.group_chat_ids:
            raise ValidationError("group_chat_ids", f"{host.platform} cannot transfer group chats")
        return []
    if spec.kind == "departed":
        return _departed_owners_chats(corp, host, [giver.host_id]).get(giver.host_id, [])
    return list(iterate(lambda cursor: host.list_group_chats(cursor, owner_ids=[giver.host_id])))


def _chats(corp: Corp, spec: Spec, giver: Employee, host_ids: list[str], pending: set[str]) -> list[GroupChat]:
    chats = [get_or_create(GroupChat, lambda h=h: GroupChat(corp_id=corp.id, host_id=h, owner_id=giver.id),
                           corp_id=corp.id, host_id=h) for h in dict.fromkeys(host_ids)]
    if spec.group_chat_ids is not None:
        wanted = set(spec.group_chat_ids)
        missing = wanted - {c.id for c in chats}
        if missing:
            raise ValidationError("group_chat_ids", f"{giver.name} owns no group chats {sorted(missing)[:20]}")
        chats = [c for c in chats if c.id in wanted]
    return sorted((c for c in chats if c.host_id not in pending), key=lambda c: c.id)


def _load(employee_ids: list[int]) -> dict[int, int]:
    """Each taker's current number of customers."""
    counts = dict(db.session.execute(select(Relationship.employee_id, func.count()).where(
        Relationship.employee_id.in_(employee_ids), Relationship.status == "active")
        .group_by(Relationship.employee_id)).all())
    return {e: counts.get(e, 0) for e in employee_ids}


def _split(items: list, takers: list[Employee], load: dict[int, int] | None) -> dict[int, list]:
    """Evenly (round robin, counts differ by at most one), or each to whoever has the fewest so far."""
    out: dict[int, list] = {t.id: [] for t in takers}
    if load is None:
        for n, item in enumerate(items):
            out[takers[n % len(takers)].id].append(item)
        return out
    have = dict(load)
    for item in items:
        taker = min(takers, key=lambda t: (have[t.id], takers.index(t)))
        out[taker.id].append(item)
        have[taker.id] += 1
    return out


def _store(corp: Corp, plan_: Plan) -> Handover:
    """The plan as a handover with one planned line per customer and chat (in the caller's unit)."""
    spec = plan_.spec
    handover = Handover(corp_id=corp.id, kind=spec.kind, from_employee_id=plan_.giver.id, split=spec.split,
                        reason=spec.reason, message=spec.message, requested_by=spec.requested_by,
                        status="planned")
    db.session.add(handover)
    db.session.flush()
    for taker in plan_.takers:
        db.session.add_all(HandoverLine(handover_id=handover.id, corp_id=corp.id, customer_id=c.id, host_id=c.host_id,
                                        from_employee_id=plan_.giver.id, to_employee_id=taker.id,
                                        state="planned", carried_over=False)
                           for c in plan_.customers[taker.id])
        db.session.add_all(HandoverLine(handover_id=handover.id, corp_id=corp.id, group_chat_id=g.id,
                                        host_id=g.host_id, from_employee_id=plan_.giver.id,
                                        to_employee_id=taker.id, state="planned", carried_over=False)
                           for g in plan_.chats[taker.id])
    return handover


def preview(plan_: Plan) -> dict:
    """Who gets whom."""
    return {"kind": plan_.spec.kind, "split": plan_.spec.split,
            "from_employee": {"id": plan_.giver.id, "name": plan_.giver.name},
            "customers": sum(len(v) for v in plan_.customers.values()),
            "group_chats": sum(len(v) for v in plan_.chats.values()),
            "takers": [{"employee": {"id": t.id, "name": t.name}, "customers": len(plan_.customers[t.id]),
                        "group_chats": len(plan_.chats[t.id]),
                        "customer_ids": [c.id for c in plan_.customers[t.id]],
                        "group_chat_ids": [g.id for g in plan_.chats[t.id]]} for t in plan_.takers],
            "skipped": plan_.skipped}
