"""The sales funnel: how far the customers a principal may see went through the corp's stages, from the stage
history (`stage_change`) and the stage each customer is in now.

The funnel's steps are the corp's stages in order (option `stages`, else new, contacted, intent, won, lost) without
`lost`: losing a customer is a way out of the funnel, not a step after `won`. So

- `customers` of a stage: the customers in it now;
- `reached` of a step: the customers who are in it or a later step now, or ever moved to it or a later step
  (a customer who reached intent and was then lost counts as reached for new, contacted and intent). Every
  customer of the set has reached the first step: being added is entering the funnel. `reached` of `lost`: the
  customers who are lost now or ever were;
- `conversion_from_previous`: reached / reached of the previous step; null for the first step, for `lost` and
  when the previous step was reached by nobody;
- `median_seconds_in_stage`: the median length of the completed stays in the stage. Every stage change ends one
  stay, in its `from_stage`, which began at the customer's previous stage change or, for the first one, when the
  customer was created (a customer starts in the default stage then). The stay a customer is in now is not
  complete and does not count, nor does one of negative length (a clock set back); null when the stage has no
  completed stay.

The set is the customers the principal may see (`access.visible_customers`), narrowed as the customer list narrows
it (`customer_desk.matching`): a relationship through the channel, a relationship with the employee, one with an
employee of the department or of a department below it, and one added (`started_at`) within the period `from` to
`to`, local days of the corp's time zone, both included: the funnel of a period is the funnel of the customers won
over in it, with all their history, before and after.

Everything is counted by the database, from what `scrm.models.stage` keeps as the history is written: each
customer's set of stages reached (`customer.stages_reached`, names put in the corp's order of the moment here) and
each change's stay (`stage_change.stay_seconds`). One grouped count of (stage now, stages reached) gives the stages
now, the furthest step and whether ever lost (a few rows per stage come back; a customer whose set could not be
stored is read from its history); the medians come, for a whole corp, from the index on (corp, from_stage,
stay_seconds) (a count per stage, then its middle rows), else from row numbers over the stored stays of the set (two
rows per stage come back). So neither time nor memory grows with the set in Python, and no query replays the
history. A filtered or non-admin set is built from the relationships (and claims) of its filters and scope, the
subtree's employees resolved first: `bench.funnel` times a million relationships.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, case, func, intersect, literal, or_, select, union

from scrm.errors import NotFound, ValidationError
from scrm.extensions import db
from scrm.models import Channel, Corp, Customer, Department, Employee, PoolEntry, Relationship, StageChange
from scrm.models.stage import REACHED_UNKNOWN, decode_reached
from scrm.services import access, customers
from scrm.services.access import Principal
from scrm.services.channel_stats import EARLIEST, LATEST
from scrm.services.corps import corp_zone

LOST = "lost"  # the stage that leaves the funnel (as the pool's `stage_lost` rule reads it)


def _check_filters(corp: Corp, channel_id, employee_id, department_id) -> None:
    """Another corp's (or no) channel, employee or department is 404, as everywhere. A deleted channel keeps its
    funnel, as it keeps its customers."""
    for model, row_id, word in ((Channel, channel_id, "channel"), (Employee, employee_id, "employee"),
                                (Department, department_id, "department")):
        if row_id is None:
            continue
        row = db.session.get(model, row_id)
        if row is None or row.corp_id != corp.id:
            raise NotFound(f"no {word} {row_id}")


def _period(corp: Corp, start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """[start, end] in local days as UTC bounds [lower, upper)."""
    for name, day in (("from", start), ("to", end)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise ValidationError(name, f"must be between {EARLIEST} and {LATEST}")
    if start and end and end < start:
        raise ValidationError("to", "must not be before from")
    zone = corp_zone(corp)

    def utc(day: date | None) -> datetime | None:
        return datetime.combine(day, time(), zone).astimezone(timezone.utc) if day else None

    return utc(start), utc(end + timedelta(days=1) if end else None)


def _number(value) -> int | float | None:
    if value is None:
        return None
    value = float(value)
    return int(value) if value.is_integer() else value


def funnel(principal: Principal, *, channel_id: int | None = None, employee_id: int | None = None,
           department_id: int | None = None, start: date | None = None, end: date | None = None) -> dict:
    """The funnel of the visible customers matching the filters: per stage of the corp, in order, the customers in
    it now, how many reached it, the conversion from the previous step and the median stay; with totals."""
    corp = principal.corp
    _check_filters(corp, channel_id, employee_id, department_id)
    lower, upper = _period(corp, start, end)
    order = customers.stages(corp)
    steps = [s for s in order if s != LOST]
    filters = {"channel": channel_id, "employee": employee_id, "department": department_id,
               "added_from": lower, "added_to": upper}
    found = _cohort(principal, filters)
    cohort = _customers(corp, found)

    now, furthest, ever_lost, total = {}, {}, 0, 0
    for stage, step, lost, n in _tally(cohort, steps):
        now[stage] = now.get(stage, 0) + n
        furthest[step] = furthest.get(step, 0) + n
        ever_lost += n if lost else 0
        total += n
    medians = {stage: _number(m) for stage, m in (_corp_medians(corp, order) if found is None
                                                  else db.session.execute(_medians(found, order)))}

    reached, beyond = {}, 0
    for index in range(len(steps) - 1, -1, -1):
        beyond += furthest.get(index, 0)
        reached[steps[index]] = beyond
    rows, previous = [], None
    for stage in order:
        in_funnel = stage != LOST
        count = reached[stage] if in_funnel else ever_lost
        conversion = None
        if in_funnel and previous:
            conversion = round(count / previous, 4)
        rows.append({"stage": stage, "in_funnel": in_funnel, "customers": now.get(stage, 0), "reached": count,
                     "conversion_from_previous": conversion, "median_seconds_in_stage": medians.get(stage)})
        if in_funnel:
            previous = count
    goal = (corp.options or {}).get("conversion_stage") or "won"
    goal = goal if goal in steps else (steps[-1] if steps else None)
    converted = reached.get(goal, 0) if goal else 0
    return {"from": start, "to": end, "timezone": str(corp_zone(corp)), "stages": rows,
            "totals": {"customers": total, "lost": now.get(LOST, 0), "ever_lost": ever_lost,
                       "conversion_stage": goal, "converted": converted,
                       "conversion": round(converted / total, 4) if total else None}}


def _cohort(principal: Principal, filters: dict):
    """The ids (`customer_id`) of the visible customers matching the filters, None for all the corp's (an admin
    without filters): the set `customer_desk.matching` gives, built from the other end. Each filter, and for a manager or a salesperson the scope, is the set of
    customers of the relationships (or claims) that meet it, their INTERSECT joined to the corp's customers; the
    employees of a department's or a manager's subtree are worked out first, so each set reads the relationship
    indexes by employee instead of probing the subtree's recursive query for every customer or relationship of the
    corp (which is what made a manager's funnel the slowest)."""
    corp = principal.corp

    def customers_of(*conditions):
        return select(Relationship.customer_id.label("customer_id")).where(Relationship.corp_id == corp.id,
                                                                           *conditions)

    sets = []
    if filters["channel"] is not None:
        sets.append(customers_of(Relationship.channel_id == filters["channel"]))
    if filters["employee"] is not None:
        sets.append(customers_of(Relationship.employee_id == filters["employee"]))
    if filters["department"] is not None:
        members = db.session.scalars(access.department_members(corp.id, [filters["department"]])).all()
        sets.append(customers_of(Relationship.employee_id.in_(sorted(set(members)) or [-1])))
    if filters["added_from"] is not None or filters["added_to"] is not None:
        window = []
        if filters["added_from"] is not None:
            window.append(Relationship.started_at >= filters["added_from"].replace(tzinfo=None))
        if filters["added_to"] is not None:
            window.append(Relationship.started_at < filters["added_to"].replace(tzinfo=None))
        sets.append(customers_of(*window))
    scope = access.scope_employees(principal)
    if scope is not None:
        visible = union(customers_of(Relationship.status == "active", Relationship.employee_id.in_(scope)),
                        select(PoolEntry.customer_id.label("customer_id"))
                        .where(PoolEntry.status == "claimed", PoolEntry.claimed_by.in_(scope))).subquery("visible")
        sets.append(select(visible.c.customer_id))
    if not sets:
        return None
    return (intersect(*sets) if len(sets) > 1 else sets[0].distinct()).subquery("found")


def _customers(corp: Corp, found):
    """(id, stage, stages_reached) of the found customers, or of the whole corp's. The found ids drive the join:
    every one is a customer of the corp already (its relationship's corp), and a condition on customer.corp_id
    would let the optimizer scan the corp's customers and probe the found ones instead."""
    if found is None:
        return select(Customer.id, Customer.stage, Customer.stages_reached).where(Customer.corp_id == corp.id) \
            .subquery("cohort")
    return (select(Customer.id, Customer.stage, Customer.stages_reached)
            .select_from(found).join(Customer, Customer.id == found.c.customer_id)).subquery("cohort")


def _step(column, steps: list[str]):
    """The step's index of a stage column; null for lost and for stages the corp no longer has."""
    return case({s: i for i, s in enumerate(steps)}, value=column, else_=None) if steps else literal(None)


def _tally(cohort, steps: list[str]) -> list[tuple[str, int, bool, int]]:
    """(stage now, furthest step, ever lost, customers) rows, from one grouped count of (stage now, stages reached)
    (a few rows per stage come back, read from the index on customer (corp_id, stage, stages_reached)); the stages
    reached are names, put in the corp's order of the moment here. The rare customers whose set could not be stored
    (REACHED_UNKNOWN) are counted from their history."""
    index = {s: i for i, s in enumerate(steps)}
    rows, unknown = [], False
    for stage, text, n in db.session.execute(select(cohort.c.stage, cohort.c.stages_reached, func.count())
                                             .group_by(cohort.c.stage, cohort.c.stages_reached)):
        reached = decode_reached(text)
        if reached is None:
            unknown = True
            continue
        step = max([index.get(stage, 0), *(index[s] for s in reached if s in index)])
        rows.append((stage, step, stage == LOST or LOST in reached, n))
    if unknown:
        rest = select(cohort).where(cohort.c.stages_reached == REACHED_UNKNOWN).subquery("unknown")
        rows += [(stage, step, bool(lost), n) for stage, step, lost, n in db.session.execute(
            _history_tally(rest, steps))]
    return rows


def _history_tally(cohort, steps: list[str]):
    """(stage now, furthest step, ever lost, customers) rows from the customers' stage changes: one row per
    combination, never per customer."""
    per_customer = (
        select(cohort.c.id, cohort.c.stage,
               func.max(_step(StageChange.to_stage, steps)).label("moved_to"),
               func.max(case((StageChange.to_stage == LOST, 1), else_=0)).label("moved_to_lost"))
        .outerjoin(StageChange, StageChange.customer_id == cohort.c.id)
        .group_by(cohort.c.id, cohort.c.stage)
    ).subquery("per_customer")
    now_at = func.coalesce(_step(per_customer.c.stage, steps), 0)
    moved = func.coalesce(per_customer.c.moved_to, 0)
    furthest = case((now_at >= moved, now_at), else_=moved).label("furthest")
    lost = case((or_(per_customer.c.stage == LOST, per_customer.c.moved_to_lost == 1), 1), else_=0).label("lost")
    return (select(per_customer.c.stage, furthest, lost, func.count())
            .group_by(per_customer.c.stage, furthest, lost))


def _completed(*where):
    return (StageChange.stay_seconds >= 0, *where)


def _corp_medians(corp: Corp, order: list[str]) -> list[tuple[str, float]]:
    """(stage, median seconds) of every completed stay in the corp (the whole corp's funnel, as an admin sees it):
    counts per stage, then the middle one or two of each stage, each read from the index on stage_change (corp_id,
    from_stage, stay_seconds) without sorting."""
    counts = db.session.execute(select(StageChange.from_stage, func.count())
                                .where(*_completed(StageChange.corp_id == corp.id, StageChange.from_stage.in_(order)))
                                .group_by(StageChange.from_stage)).all()
    medians = []
    for stage, of in counts:
        middle = db.session.scalars(select(StageChange.stay_seconds)
                                    .where(*_completed(StageChange.corp_id == corp.id, StageChange.from_stage == stage))
                                    .order_by(StageChange.stay_seconds).offset((of - 1) // 2)
                                    .limit(1 if of % 2 else 2)).all()
        medians.append((stage, sum(middle) / len(middle)))
    return medians


def _medians(found, order: list[str]):
    """(stage, median seconds) of the completed stays of the found customers in each stage of the corp's: row
    numbers over the stored lengths (read from the index on stage_change (customer_id, from_stage, stay_seconds))."""
    stays = (select(StageChange.from_stage.label("stage"), StageChange.stay_seconds.label("seconds"))
             .select_from(found).join(StageChange, StageChange.customer_id == found.c.customer_id)
             .where(*_completed(StageChange.from_stage.in_(order)))).subquery("stays")
    ranked = (select(stays.c.stage, stays.c.seconds,
                     func.row_number().over(partition_by=stays.c.stage, order_by=stays.c.seconds).label("n"),
                     func.count().over(partition_by=stays.c.stage).label("of"))).subquery("ranked")
    # the middle row (odd count) or the two middle rows (even): 2n in [of, of + 2]
    return (select(ranked.c.stage, func.avg(ranked.c.seconds))
            .where(and_(2 * ranked.c.n >= ranked.c.of, 2 * ranked.c.n <= ranked.c.of + 2))
            .group_by(ranked.c.stage))
