"""Full sync and reconcile: read a corp's organisation, tag library, customers with every relationship, and group
chats from the host, page by page, writing each page in bulk and checkpointing after it.

A crash resumes from the last committed page; running it again changes nothing that is already right. What the
host no longer has (a relationship it says ended while we think it active) is repaired at the end of the
customers stage and written on the timeline, so missed callbacks do not leave drift behind.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from scrm import metrics
from scrm.db import unit_of_work
from scrm.errors import ValidationError
from scrm.extensions import db
from scrm.host import Capability, Host, HostCustomerRecord, iterate
from scrm.models import (Channel, Corp, Customer, Employee, Relationship, RelationshipTag, SyncRun, Tag, TagGroup,
                         TimelineEntry, utcnow)
from scrm.services import group_chats, org, tags
from scrm.services.corps import host_for
from scrm.services.event_context import EventContext

log = logging.getLogger(__name__)
STAGES = ("employees", "tags", "customers", "groups")
EMPLOYEE_BATCH = 100  # batch/get_by_user takes at most 100 userids
PAGE = 100  # ... and at most 100 records a page
OWNER_BATCH = 100  # groupchat/list's owner_filter takes at most 100 userids
PAGE_ATTEMPTS = 3
_CUSTOMER_FIELDS = ("name", "avatar", "type", "gender", "unionid", "corp_name", "corp_full_name", "position", "mobile")


#: What each stage counts, and its rate is in: employees/s, tag groups/s, relationships/s, group chats/s.
UNITS = {"employees": "employees", "tags": "tag_groups", "customers": "relationships", "groups": "group_chats"}
#: A rate over less time than this says nothing (a stage done in a millisecond is no "13 million a second").
MIN_RATE_SECONDS = 0.5


@dataclass
class Progress:
    stage: str
    done: int  # units finished in this stage (employee batches for customers)
    total: int | None
    counts: dict = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)  # when this stage began
    base: dict = field(default_factory=dict)  # the counts when this stage began (a resumed run counted some already)

    @property
    def unit(self) -> str:
        """What the stage counts, in words: "relationships", "group chats"."""
        return UNITS.get(self.stage, self.stage).replace("_", " ")

    @property
    def rate(self) -> float | None:
        """This stage's items a second since it began, in its own unit; None until it has run long enough."""
        elapsed = time.monotonic() - self.started
        if elapsed < MIN_RATE_SECONDS:
            return None
        key = UNITS.get(self.stage, self.stage)
        return max(self.counts.get(key, 0) - self.base.get(key, 0), 0) / elapsed

    @property
    def eta(self) -> float | None:
        elapsed = time.monotonic() - self.started
        if not self.total or not self.done:
            return None
        return elapsed / self.done * (self.total - self.done)


def start(corp: Corp, only: str | None = None) -> SyncRun:
    """The corp's unfinished run of the same stages (to resume), or a new one."""
    if only is not None and only not in STAGES:
        raise ValidationError("only", f"must be one of {', '.join(STAGES)}")
    stages = [only] if only else list(STAGES)
    with unit_of_work():
        run = db.session.scalar(select(SyncRun).where(SyncRun.corp_id == corp.id, SyncRun.status != "done")
                                .order_by(SyncRun.id.desc()))
        if run is None or run.stages != stages:
            run = SyncRun(corp_id=corp.id, stages=stages, status="running", checkpoint={}, counts={})
            db.session.add(run)
        run.status, run.error = "running", None
    return run


def ever_finished(corp: Corp) -> bool:
    """Whether a full sync of the corp ever finished."""
    return db.session.scalar(select(SyncRun.id).where(SyncRun.corp_id == corp.id, SyncRun.status == "done")
                             .limit(1)) is not None


def run_sync(run_id: int, *, progress: Callable[[Progress], None] | None = None, host: Host | None = None) -> SyncRun:
    """Run (or resume) a sync to the end; a failure is recorded on the run and raised."""
    run = db.session.get(SyncRun, run_id)
    corp = db.session.get(Corp, run.corp_id)
    host = host or host_for(corp)
    report = progress or (lambda p: None)
    try:
        for stage in run.stages[run.stages.index(run.checkpoint.get("stage", run.stages[0])):]:
            if run.checkpoint.get("stage") != stage:
                _save(run, {"stage": stage})
            _STAGE_RUNNERS[stage](corp, run, host, report)
        with unit_of_work():
            run.status, run.finished_at, run.checkpoint = "done", utcnow(), {}
    except Exception as exc:
        db.session.rollback()
        with unit_of_work():
            run = db.session.get(SyncRun, run_id)
            run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        raise
    return run


def _save(run: SyncRun, checkpoint: dict, **counted: int) -> None:
    with unit_of_work():
        run.checkpoint = checkpoint
        counts = dict(run.counts or {})
        for key, n in counted.items():
            counts[key] = counts.get(key, 0) + n
        run.counts = counts


# ---------------------------------------------------------------- stages

def _begun(run: SyncRun) -> dict:
    """What a stage's Progress needs from its start: the time and the counts so far."""
    return {"started": time.monotonic(), "base": dict(run.counts or {})}


def _employees(corp: Corp, run: SyncRun, host: Host, report) -> None:
    begun = _begun(run)
    with unit_of_work():
        departments = host.list_departments()
        for dept in departments:
            org.upsert_department(corp, dept)
        staff = host.list_employees()
        for he in staff:
            org.upsert_employee(corp, he)
        present = {he.user_id for he in staff}
        for emp in db.session.scalars(select(Employee).where(Employee.corp_id == corp.id,
                                                             Employee.status == "active")):
            if emp.host_id not in present:  # left while we were not listening
                org.mark_departed(corp, emp.host_id, None)
    _save(run, {"stage": "employees"}, departments=len(departments), employees=len(staff))
    report(Progress("employees", 1, 1, dict(run.counts), **begun))


def _tags(corp: Corp, run: SyncRun, host: Host, report) -> None:
    begun = _begun(run)
    with unit_of_work():
        groups = host.list_tag_groups()
        kept = {tags.upsert_tag_group(corp, hg).id for hg in groups}
        for group in db.session.scalars(select(TagGroup).where(TagGroup.corp_id == corp.id,
                                                               TagGroup.host_id.is_not(None),
                                                               TagGroup.deleted.is_(False))):
            if group.id not in kept:
                group.deleted = True
                for tag in group.tags:
                    tag.deleted = True
    _save(run, {"stage": "tags"}, tag_groups=len(groups))
    report(Progress("tags", 1, 1, dict(run.counts), **begun))


def _customers(corp: Corp, run: SyncRun, host: Host, report) -> None:
    staff = sorted(db.session.scalars(select(Employee.host_id).where(Employee.corp_id == corp.id,
                                                                     Employee.status == "active")))
    # a host that lists all customers at once (DingTalk) is read in one pass, keeping those of these employees
    size = EMPLOYEE_BATCH if Capability.CUSTOMERS_BY_EMPLOYEE in host.capabilities else max(len(staff), 1)
    batches = [staff[i:i + size] for i in range(0, len(staff), size)]
    point = run.checkpoint
    writer = _PageWriter(corp, run.id)
    progress = Progress("customers", point.get("batch", 0), len(batches), dict(run.counts), **_begun(run))
    for index in range(point.get("batch", 0), len(batches)):
        cursor = point.get("cursor") if index == point.get("batch", 0) else None
        while True:
            page = host.list_customers(batches[index], cursor=cursor, limit=PAGE)
            written = _write_page(writer, page.items)
            cursor = page.next_cursor
            done = cursor is None
            _save(run, {"stage": "customers", "batch": index + 1 if done else index, "cursor": cursor},
                  relationships=len(page.items), customers_created=written["customers_created"],
                  relationships_created=written["relationships_created"])
            progress.counts = dict(run.counts)
            if done:
                break
            report(progress)
        progress.done = index + 1
        report(progress)
    fixed = _end_unseen(corp, run, staff)
    _save(run, {"stage": "customers", "batch": len(batches)}, reconciled=fixed)


def _groups(corp: Corp, run: SyncRun, host: Host, report) -> None:
    begun, count = _begun(run), 0
    if Capability.LIST_GROUP_CHATS not in host.capabilities:  # DingTalk: chats are known from their events only
        _save(run, {"stage": "groups"}, group_chats=0)
        return
    # without owner_filter the host refuses an app that sees more than 1,000 members (81017): ask by owners, at most
    # 100 a request, each batch read to the end of its cursor
    owners = sorted(db.session.scalars(select(Employee.host_id).where(Employee.corp_id == corp.id,
                                                                      Employee.status == "active")))
    seen: set[str] = set()
    for start in range(0, len(owners), OWNER_BATCH):
        batch = owners[start:start + OWNER_BATCH]
        for chat_id in iterate(lambda cursor: host.list_group_chats(cursor=cursor, owner_ids=batch)):
            if chat_id in seen:
                continue
            seen.add(chat_id)
            with unit_of_work():
                group_chats.apply_group_chat(corp, host.get_group_chat(chat_id), EventContext(None, corp.id))
            count += 1
    _save(run, {"stage": "groups"}, group_chats=count)
    report(Progress("groups", 1, 1, dict(run.counts), **begun))


_STAGE_RUNNERS = {"employees": _employees, "tags": _tags, "customers": _customers, "groups": _groups}


# ---------------------------------------------------------------- bulk writing

class _PageWriter:
    """Writes a page of (customer, follow) records with a handful of statements, whatever its size."""

    def __init__(self, corp: Corp, run_id: int):
        self.corp = corp
        self.run_id = run_id
        self.employees = dict(db.session.execute(select(Employee.host_id, Employee.id)
                                                 .where(Employee.corp_id == corp.id)).all())
        self.tags = dict(db.session.execute(select(Tag.host_id, Tag.id).where(Tag.corp_id == corp.id,
                                                                               Tag.host_id.is_not(None))).all())
        self.channels = dict(db.session.execute(select(Channel.state, Channel.id)
                                                .where(Channel.corp_id == corp.id)).all())

    def write(self, records: list[HostCustomerRecord]) -> dict:
        corp = self.corp
        customers = self._customers(records)
        created = {"customers_created": customers.pop("__created__"), "relationships_created": 0}
        wanted = {}
        for record in records:
            for follow in record.follows:
                emp_id = self.employees.get(follow.employee_id)
                if emp_id is None:  # not an employee we know (outside the app's visible range)
                    continue
                wanted[(emp_id, customers[record.customer.external_id].id)] = follow
        if not wanted:
            return created
        # customer ids belong to this corp already; filtering by corp too lets SQLite pick the corp index and scan
        existing = {(r.employee_id, r.customer_id): r for r in db.session.scalars(select(Relationship).where(
            Relationship.customer_id.in_({c for _, c in wanted})))}
        now = utcnow()
        fresh = []
        for (emp_id, cust_id), follow in wanted.items():
            rel = existing.get((emp_id, cust_id))
            started = follow.created_at or now
            values = dict(remark=follow.remark, description=follow.description,
                          remark_mobiles=list(follow.remark_mobiles or []), add_way=follow.add_way,
                          oper_user_id=follow.oper_user_id, seen_by_sync=self.run_id)
            if rel is None:
                fresh.append(dict(corp_id=corp.id, employee_id=emp_id, customer_id=cust_id, status="active",
                                  started_at=started, state=follow.state, channel_id=self.channels.get(follow.state),
                                  created_at=now, updated_at=now, **values))
                continue
            if rel.status != "active":  # the host says they are friends again: a missed add
                rel.status, rel.started_at, rel.ended_at, rel.end_reason = "active", started, None, None
                self._timeline(rel, "readded", {"source": "sync"}, started)
                metrics.RECONCILE_FIXES.labels("relationship_readded").inc()
            for key, value in values.items():
                if getattr(rel, key) != value:
                    setattr(rel, key, value)
        if fresh:
            db.session.execute(insert(Relationship), fresh)
            created["relationships_created"] = len(fresh)
            rels = {(r.employee_id, r.customer_id): r for r in db.session.scalars(select(Relationship).where(
                Relationship.customer_id.in_({c for _, c in wanted})))}
            db.session.execute(insert(TimelineEntry), [
                dict(corp_id=corp.id, customer_id=f["customer_id"], employee_id=f["employee_id"],
                     relationship_id=rels[(f["employee_id"], f["customer_id"])].id, kind="added",
                     channel_id=f["channel_id"], payload={"source": "sync", "state": f["state"]},
                     occurred_at=f["started_at"],
                     created_at=now) for f in fresh])
        else:
            rels = existing
        db.session.flush()
        self._tags(rels, wanted)
        return created

    def _customers(self, records: list[HostCustomerRecord]) -> dict:
        corp = self.corp
        by_host = {r.customer.external_id: r.customer for r in records}
        found = {c.host_id: c for c in db.session.scalars(select(Customer).where(
            Customer.corp_id == corp.id, Customer.host_id.in_(list(by_host))))}
        missing = [hc for host_id, hc in by_host.items() if host_id not in found]
        if missing:
            now = utcnow()
            db.session.execute(insert(Customer), [
                dict(corp_id=corp.id, host_id=hc.external_id, stage="new", created_at=now, updated_at=now,
                     **{f: getattr(hc, f) if f != "name" else (hc.name or "") for f in _CUSTOMER_FIELDS})
                for hc in missing])
            found.update({c.host_id: c for c in db.session.scalars(select(Customer).where(
                Customer.corp_id == corp.id, Customer.host_id.in_([hc.external_id for hc in missing])))})
        for host_id, hc in by_host.items():
            customer = found[host_id]
            for f in _CUSTOMER_FIELDS:
                value = getattr(hc, f)
                if value not in (None, "") and getattr(customer, f) != value:
                    setattr(customer, f, value)
        return {**found, "__created__": len(missing)}

    def _tags(self, rels: dict, wanted: dict) -> None:
        want = {(rels[key].id, self.tags[t]) for key, follow in wanted.items() for t in follow.tag_ids
                if t in self.tags}
        customer_of = {rels[key].id: key[1] for key in wanted}
        rel_ids = {rels[key].id for key in wanted}
        have = set(db.session.execute(select(RelationshipTag.relationship_id, RelationshipTag.tag_id)
                                      .where(RelationshipTag.relationship_id.in_(rel_ids))).all())
        for rel_id, tag_id in have - want:
            db.session.execute(delete(RelationshipTag).where(RelationshipTag.relationship_id == rel_id,
                                                             RelationshipTag.tag_id == tag_id))
        if want - have:
            db.session.execute(insert(RelationshipTag), [dict(relationship_id=r, tag_id=t, customer_id=customer_of[r],
                                                              created_at=utcnow()) for r, t in want - have])

    def _timeline(self, rel: Relationship, kind: str, payload: dict, at) -> None:
        db.session.add(TimelineEntry(corp_id=self.corp.id, customer_id=rel.customer_id, employee_id=rel.employee_id,
                                     relationship_id=rel.id, channel_id=rel.channel_id, kind=kind, payload=payload,
                                     occurred_at=at))


def _write_page(writer: "_PageWriter", records: list[HostCustomerRecord]) -> dict:
    """Write one page; when a callback inserted one of its customers or relationships meanwhile (the sync runs
    beside the urgent queue), read again and write what is still missing."""
    for attempt in range(PAGE_ATTEMPTS):
        try:
            with unit_of_work():
                return writer.write(records)
        except IntegrityError:
            if attempt == PAGE_ATTEMPTS - 1:
                raise
            log.info("sync page met rows written meanwhile; writing it again")
    raise AssertionError("unreachable")


def _end_unseen(corp: Corp, run: SyncRun, staff: list[str]) -> int:
    """Relationships of synced employees that the host no longer lists: a delete we missed. End and record them.

    Only rows untouched since the run began: a relationship added (or re-added) by a callback while the sync ran
    may belong to an employee whose page was read before it existed."""
    with unit_of_work():
        stale = list(db.session.scalars(select(Relationship).join(Employee).where(
            Relationship.corp_id == corp.id, Relationship.status == "active", Employee.host_id.in_(staff),
            (Relationship.seen_by_sync.is_(None)) | (Relationship.seen_by_sync != run.id),
            Relationship.updated_at < run.started_at)))
        now = utcnow()
        for rel in stale:
            rel.status, rel.ended_at, rel.end_reason = "removed_by_customer", now, "not_on_host"
            db.session.add(TimelineEntry(corp_id=corp.id, customer_id=rel.customer_id, employee_id=rel.employee_id,
                                         relationship_id=rel.id, channel_id=rel.channel_id, kind="removed",
                                         payload={"source": "reconcile", "reason": "not_on_host"}, occurred_at=now))
        if stale:
            metrics.RECONCILE_FIXES.labels("relationship_ended").inc(len(stale))
            log.info("reconcile ended %d relationship(s) of corp %s the host no longer lists", len(stale),
                     corp.corp_key)
    return len(stale)
