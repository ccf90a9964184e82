"""Running a handover: every request recorded before it is sent, customers in batches of at most 100 per taker,
each customer's errcode read; group chats in batches of 100 within the host's 300 a day to one new owner; results
read by cursor to the end for each (giver, taker) pair once the host's 24 hours have passed. `advance` is the one
entry: idempotent and resumable, a crash anywhere continues without asking the host twice for anyone (lines left
`requested` are first looked up in the host's results)."""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select

from scrm.db import unit_of_work
from scrm.errors import NotFound
from scrm.extensions import db
from scrm.host import Capability, Host, HostError, TransferState, iterate
from scrm.models import ASKED_STATES, Corp, Employee, Handover, HandoverLine, utcnow
from scrm.services import followups, retries
from scrm.services.corps import host_for, start_of_day
from scrm.services.handovers import ledger

log = logging.getLogger(__name__)

RUN = "scrm.handovers.run"  # the follow-up that advances a started handover (on the bulk queue)
BATCH = 100  # customers / chats per transfer call (docs 92125, 94081, 92127)
CHATS_PER_DAY = 300  # chats of one person to one new owner per day (doc 92127, 95703)
TAKEOVER = timedelta(hours=24)  # the customer's window to refuse; the host settles after it (docs 96325, 96331)
POLL_MARGIN = timedelta(minutes=5)
POLL_AGAIN = timedelta(hours=1)  # while the host still says waiting after its 24 hours
ONJOB_PER_90_DAYS = 2  # transfers per customer (40128) or per chat, per 90 natural days
RESULT_STATES = {TransferState.DONE: "done", TransferState.WAITING: "waiting", TransferState.REFUSED: "refused",
                 TransferState.TAKER_AT_LIMIT: "taker_at_limit", TransferState.NO_RECORD: "no_longer_customer"}
TOO_FREQUENT = 40128
ALREADY_MOVED = {90504, 90508}  # a chat's owner unchanged, or inherited already (doc 92127)

followups.BULK_KINDS.update({RUN, ledger.CARRY_OVER})


def start(corp: Corp, handover_id: int) -> Handover:
    """Start a planned handover (starting it again changes nothing): its run is stored, then published."""
    with unit_of_work():
        handover = db.session.scalar(select(Handover).where(Handover.corp_id == corp.id, Handover.id == handover_id)
                                     .with_for_update())
        if handover is None:
            raise NotFound(f"no handover {handover_id}")
        if handover.status != "planned":
            return handover
        handover.status, handover.started_at = "running", utcnow()
        ids = [followups.add(corp.id, RUN, handover.id).id]
    followups.start(ids)
    return handover


def run(handover_id: int) -> None:
    """The follow-up's work: advance the handover as far as the host allows now."""
    advance(handover_id)


def advance(handover_id: int, *, now: datetime | None = None, host: Host | None = None,
            read_results: bool = False) -> dict[str, int]:
    """Send what is planned, read the results that are due (all of them with `read_results`), close the handover
    when every line is final, and note when to look again. Returns the lines per state."""
    handover = db.session.get(Handover, handover_id)
    if handover is None or handover.status != "running":
        db.session.rollback()
        return ledger.state_counts(handover_id) if handover else {}
    corp = db.session.get(Corp, handover.corp_id)
    host = host or host_for(corp)
    now = now or utcnow()
    immediate = Capability.TRANSFER_RESULTS not in host.capabilities
    giver = db.session.get(Employee, handover.from_employee_id)
    takers = dict(db.session.execute(select(Employee.id, Employee.host_id).join(
        HandoverLine, HandoverLine.to_employee_id == Employee.id).where(HandoverLine.handover_id == handover_id)
        .distinct()).all())
    started: list[int] = []
    if immediate:  # a follower change asked again changes nothing: ask again
        _replan(_lines(handover_id, "requested"))
    else:
        started += _look_up_requested(handover, giver, takers, host)
    resent_chats = _replan(_lines(handover_id, "requested", chats=True))
    started += _send_customers(handover, giver, takers, host, immediate)
    started += _send_chats(handover, giver, takers, host, now, resent_chats)
    if not immediate:
        started += _read_results(handover, giver, takers, host, now, everything=read_results)
    with unit_of_work():
        ledger.finish_if_final(handover_id)
        _schedule(handover_id, now)
    followups.start(started)
    return ledger.state_counts(handover_id)


def _lines(handover_id: int, *states: str, chats: bool = False) -> list[HandoverLine]:
    column = HandoverLine.group_chat_id if chats else HandoverLine.customer_id
    return list(db.session.scalars(select(HandoverLine).where(
        HandoverLine.handover_id == handover_id, HandoverLine.state.in_(states), column.is_not(None))
        .order_by(HandoverLine.id)))


def _by_taker(lines: list[HandoverLine]) -> dict[int, list[HandoverLine]]:
    out: dict[int, list[HandoverLine]] = defaultdict(list)
    for line in lines:
        out[line.to_employee_id].append(line)
    return out


def _look_up_requested(handover: Handover, giver: Employee, takers: dict[int, str], host: Host) -> list[int]:
    """Lines a crash left `requested` (asked, answer not recorded): the host's results say whether it got them;
    the ones it does not know go back to planned and are asked again. The follow-ups stored."""
    started: list[int] = []
    for taker_id, lines in _by_taker(_lines(handover.id, "requested")).items():
        seen = _results(handover, giver.host_id, takers[taker_id], host)
        with unit_of_work():
            for line in lines:
                line = db.session.get(HandoverLine, line.id, populate_existing=True)
                status = _fresh(seen.get(line.host_id), line)
                if status is None:  # the host never got it: ask again
                    ledger.move(line, "planned", source="reconcile")
                else:
                    started += _apply(line, *status, source="reconcile")
    return started


def _replan(lines: list[HandoverLine]) -> set[int]:
    """Lines a crash left requested, to be asked again; their ids."""
    if lines:
        with unit_of_work():
            for line in lines:
                ledger.move(db.session.get(HandoverLine, line.id, populate_existing=True), "planned",
                            source="reconcile")
    return {line.id for line in lines}


def _ask(batch: list[HandoverLine], call) -> dict[str, int]:
    """Ask the host for a batch, recorded as requested first (a crash after the call finds these requested):
    each host id's errcode. A transient error is raised (the follow-up retries, looking the batch up first); any
    other refusal of the whole call is every line's errcode."""
    host_ids = [line.host_id for line in batch]
    with unit_of_work():
        for line in batch:
            ledger.move(line, "requested", source="request")
    try:
        return {o.customer_id: o.errcode for o in call(host_ids)}
    except HostError as exc:
        if retries.transient(exc):
            raise
        return dict.fromkeys(host_ids, exc.number)


def _send_customers(handover: Handover, giver: Employee, takers: dict[int, str], host: Host,
                    immediate: bool) -> list[int]:
    started: list[int] = []
    for taker_id, lines in _by_taker(_lines(handover.id, "planned")).items():
        for n in range(0, len(lines), BATCH):
            batch = _precheck(handover, lines[n:n + BATCH])
            if not batch:
                continue
            outcomes_by = _ask(batch, lambda ids: host.transfer_customers(
                giver.host_id, takers[taker_id], ids, departed=handover.kind == "departed", message=handover.message))
            with unit_of_work():
                for line in batch:
                    errcode = outcomes_by.get(line.host_id, -1)
                    if errcode == 0 and immediate:  # DingTalk: the follower changed at once
                        started += ledger.done(line, source="follower_updated")
                    elif errcode == 0:
                        ledger.move(line, "waiting", source="request")
                    else:
                        ledger.fail(line, errcode, source="request")
    return started


def _precheck(handover: Handover, lines: list[HandoverLine]) -> list[HandoverLine]:
    """On-job: a customer moved twice in 90 days is refused by the host (40128); tell it here without a call."""
    if handover.kind != "onjob":
        return lines
    since = utcnow() - timedelta(days=90)
    counts = dict(db.session.execute(select(HandoverLine.customer_id, func.count()).join(
        Handover, Handover.id == HandoverLine.handover_id).where(
        Handover.kind == "onjob", HandoverLine.customer_id.in_([line.customer_id for line in lines]),
        HandoverLine.id.not_in([line.id for line in lines]),
        HandoverLine.state.in_((*ASKED_STATES, "done")), HandoverLine.requested_at >= since)
        .group_by(HandoverLine.customer_id)).all())
    refused = [line for line in lines if counts.get(line.customer_id, 0) >= ONJOB_PER_90_DAYS]
    if refused:
        with unit_of_work():
            for line in refused:
                ledger.fail(line, TOO_FREQUENT, source="precheck")
    return [line for line in lines if line not in refused]


def _send_chats(handover: Handover, giver: Employee, takers: dict[int, str], host: Host, now: datetime,
                resent: set[int]) -> list[int]:
    """Group chats: moved at once when the host accepts them (failed_chat_list says which it did not). A chat
    asked again after a crash that the host calls unchanged or inherited already is looked up: done if the
    taker owns it."""
    started: list[int] = []
    day = start_of_day(db.session.get(Corp, handover.corp_id), now)  # the host's day is Beijing's
    for taker_id, lines in _by_taker(_lines(handover.id, "planned", chats=True)).items():
        sent_today = db.session.scalar(select(func.count()).select_from(HandoverLine).where(
            HandoverLine.to_employee_id == taker_id, HandoverLine.group_chat_id.is_not(None),
            HandoverLine.requested_at >= day)) or 0
        lines = lines[:max(CHATS_PER_DAY - sent_today, 0)]  # the rest waits for tomorrow
        for n in range(0, len(lines), BATCH):
            batch = lines[n:n + BATCH]
            outcomes_by = _ask(batch, lambda ids: host.transfer_group_chats(ids, takers[taker_id],
                                                                            departed=handover.kind == "departed"))
            owned = {line.id for line in batch if line.id in resent and outcomes_by.get(line.host_id) in ALREADY_MOVED
                     and host.get_group_chat(line.host_id).owner_id == takers[taker_id]}
            with unit_of_work():
                for line in batch:
                    errcode = outcomes_by.get(line.host_id, -1)
                    if errcode == 0 or line.id in owned:
                        started += ledger.done(line, source="request" if errcode == 0 else "reconcile")
                    else:
                        ledger.fail(line, errcode, source="request")
    return started


def _results(handover: Handover, giver: str, taker: str, host: Host) -> dict[str, tuple[TransferState, datetime]]:
    """The host's results for one (giver, taker) pair, read by cursor to the end: the last word per customer."""
    out = {}
    for status in iterate(lambda cursor: host.transfer_results(giver, taker, departed=handover.kind == "departed",
                                                               cursor=cursor)):
        out[status.customer_id] = (status.status, status.takeover_at)
    return out


def _fresh(status: tuple[TransferState, datetime | None] | None,
           line: HandoverLine) -> tuple[TransferState, datetime | None] | None:
    """A result that answers this line's request, not an older transfer of the same pair (a customer who came
    back and is handed over again): its takeover time is not before the request (a day's slack for clocks)."""
    if status is None or status[1] is None or line.requested_at is None:
        return status
    return status if status[1] + TAKEOVER >= line.requested_at else None


def _read_results(handover: Handover, giver: Employee, takers: dict[int, str], host: Host, now: datetime,
                  *, everything: bool) -> list[int]:
    started: list[int] = []
    for taker_id, lines in _by_taker(_lines(handover.id, "waiting")).items():
        if not everything and min(line.requested_at for line in lines) + TAKEOVER > now:
            continue  # nothing of this pair can have settled yet: no call
        seen = _results(handover, giver.host_id, takers[taker_id], host)
        with unit_of_work():
            for line in lines:
                line = db.session.get(HandoverLine, line.id, populate_existing=True, with_for_update=True)
                status = _fresh(seen.get(line.host_id), line)
                if status is not None:
                    started += _apply(line, *status, source="transfer_result")
    return started


def _apply(line: HandoverLine, status: TransferState, at: datetime | None, *, source: str) -> list[int]:
    state = RESULT_STATES.get(status, "failed")
    if state == "done":
        return ledger.done(line, source=source, at=at)
    ledger.move(line, state, source=source, at=None if state == "waiting" else at)  # waiting's is still to come
    return []


def _schedule(handover_id: int, now: datetime) -> None:
    """When to look again: after the host's 24 hours for waiting lines (hourly once they are past), tomorrow for
    chats over the day's cap."""
    handover = db.session.get(Handover, handover_id, populate_existing=True)
    if handover.status != "running":
        return
    candidates = []
    first = db.session.scalar(select(func.min(HandoverLine.requested_at)).where(
        HandoverLine.handover_id == handover_id, HandoverLine.state == "waiting"))
    if first is not None:
        settles = first + TAKEOVER + POLL_MARGIN
        candidates.append(settles if settles > now else now + POLL_AGAIN)
    if db.session.scalar(select(HandoverLine.id).where(HandoverLine.handover_id == handover_id,
                                                       HandoverLine.state.in_(("planned", "requested"))).limit(1)):
        corp = db.session.get(Corp, handover.corp_id)
        candidates.append(start_of_day(corp, now) + timedelta(days=1))
    handover.next_poll_at = min(candidates) if candidates else now + POLL_AGAIN
