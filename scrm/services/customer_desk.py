"""What a principal (an API token's role) does with customers: find them, see one, and edit what they follow.

Every function first restricts to what the principal may see (`access`): a customer outside it is NotFound,
never Forbidden, so nothing tells another corp's or another salesperson's customers apart from missing ones.
Within a visible customer, a relationship outside the principal's scope (a colleague's) may be read and noted on,
but its tags and remark are Forbidden, checked before the host is told anything.
"""
from __future__ import annotations

from sqlalchemy import Select, func, intersect, or_, select

from scrm.errors import NotFound, ValidationError
from scrm.extensions import db
from scrm.models import Customer, Note, Relationship, RelationshipTag
from scrm.services import customers
from scrm.services.access import Principal, can_see, check_can_edit, department_members, visible_customers

# Set filters (tags, channel, employee, status, date added) each give the customers of matching relationships;
# their INTERSECT drives the query from the tag and channel indexes, so a selective filter reads few rows even
# among a million relationships (a per-customer EXISTS or IN would be probed for every customer of the corp).


def _customers_of(*conditions):
    return select(Relationship.customer_id.label("customer_id")).where(*conditions)


def _tagged(tag_ids):
    return select(RelationshipTag.customer_id.label("customer_id")).where(RelationshipTag.tag_id.in_(tag_ids))


def matching(principal: Principal, filters: dict) -> Select:
    """The ids of the visible customers matching the filters (no order, no page). Filters: q, tags with tag_mode
    (any / all / none), channel, employee, department (an id of the corp's: its employees and those of every
    department below it), status (active / lost), stage, added_from, added_to."""
    sets, query = [], select(Customer.id)
    tags = filters.get("tags")
    if tags and filters.get("tag_mode", "any") == "any":
        sets.append(_tagged(tags))
    elif tags and filters["tag_mode"] == "all":
        sets += [_tagged([t]) for t in tags]
    elif tags:
        query = query.where(Customer.id.not_in(_tagged(tags)))
    if filters.get("channel"):
        sets.append(_customers_of(Relationship.channel_id == filters["channel"]))
    if filters.get("employee"):
        sets.append(_customers_of(Relationship.employee_id == filters["employee"]))
    if filters.get("department"):
        members = department_members(principal.corp.id, [filters["department"]], name="department_scope")
        sets.append(_customers_of(Relationship.employee_id.in_(members)))
    if filters.get("status") == "active":
        sets.append(_customers_of(Relationship.status == "active"))
    elif filters.get("status") == "lost":
        sets.append(_customers_of(Relationship.status != "active"))
        query = query.where(Customer.id.not_in(_customers_of(Relationship.status == "active")))
    if filters.get("added_from") or filters.get("added_to"):
        window = []
        if filters.get("added_from"):
            window.append(Relationship.started_at >= filters["added_from"].replace(tzinfo=None))
        if filters.get("added_to"):
            window.append(Relationship.started_at < filters["added_to"].replace(tzinfo=None))
        sets.append(_customers_of(*window))
    if sets:
        found = (intersect(*sets) if len(sets) > 1 else sets[0].distinct()).subquery()
        query = query.join(found, Customer.id == found.c.customer_id)
    if filters.get("q"):
        text = filters["q"]  # autoescape: a % or _ typed matches itself
        query = query.where(or_(Customer.name.contains(text, autoescape=True),
                                Customer.id.in_(_customers_of(Relationship.remark.contains(text, autoescape=True)))))
    if filters.get("stage"):
        if filters["stage"] not in customers.stages(principal.corp):
            raise ValidationError("stage", f"must be one of {', '.join(customers.stages(principal.corp))}")
        query = query.where(Customer.stage == filters["stage"])
    return visible_customers(principal, query)


def search(principal: Principal, filters: dict, *, limit: int = 50, after: int | None = None,
           sort: str = "id") -> dict:
    """One page of matching customers (keyset on id, `-id` for newest first), with the total and the next key."""
    # one pass over the matching set gives the page and the total (COUNT(*) OVER ())
    numbered = matching(principal, filters).add_columns(func.count().over().label("total")).subquery()
    descending = sort == "-id"
    page = select(numbered.c.id, numbered.c.total)
    if after:
        page = page.where(numbered.c.id < after if descending else numbered.c.id > after)
    found = db.session.execute(page.order_by(numbered.c.id.desc() if descending else numbered.c.id)
                               .limit(limit + 1)).all()
    total = found[0].total if found else count(principal, filters)
    more, ids = len(found) > limit, [row.id for row in found[:limit]]
    rows = {c.id: c for c in db.session.scalars(select(Customer).where(Customer.id.in_(ids)))}
    followers = dict(db.session.execute(select(Relationship.customer_id, func.count()).where(
        Relationship.customer_id.in_(ids), Relationship.status == "active").group_by(Relationship.customer_id)).all())
    items = [{"id": i, "name": rows[i].name, "avatar": rows[i].avatar, "stage": rows[i].stage,
              "corp_name": rows[i].corp_name, "followers": followers.get(i, 0)} for i in ids]
    return {"items": items, "total": total, "next": ids[-1] if more else None}


def count(principal: Principal, filters: dict) -> int:
    """How many visible customers match the filters."""
    return db.session.scalar(select(func.count()).select_from(matching(principal, filters).subquery()))


def _visible(principal: Principal, customer_id: int) -> None:
    if not can_see(principal, customer_id):
        raise NotFound(f"no customer {customer_id}")


def view(principal: Principal, customer_id: int) -> dict:
    """The customer 360: profile, every relationship with employee and tags, groups, notes, timeline."""
    _visible(principal, customer_id)
    return customers.customer_360(principal.corp, customer_id)


def set_stage(principal: Principal, customer_id: int, stage: str) -> dict:
    """Move the customer to another stage; the 360 after it."""
    _visible(principal, customer_id)
    customers.set_stage(principal.corp, customer_id, stage, actor_id=principal.employee_id)
    return customers.customer_360(principal.corp, customer_id)


def add_note(principal: Principal, customer_id: int, body: str) -> Note:
    _visible(principal, customer_id)
    return customers.add_note(principal.corp, customer_id, body, author_id=principal.employee_id)


def set_tags(principal: Principal, customer_id: int, relationship_id: int, tag_ids: list[int]) -> list[int]:
    """Tag one relationship within the principal's scope (Forbidden for a colleague's outside it)."""
    _visible(principal, customer_id)
    check_can_edit(principal, customer_id, relationship_id)
    return customers.set_tags(principal.corp, customer_id, relationship_id, tag_ids, actor_id=principal.employee_id)


def edit_relationship(principal: Principal, customer_id: int, relationship_id: int, **fields) -> Relationship:
    """Edit one relationship's remark within the principal's scope (Forbidden for a colleague's outside it)."""
    _visible(principal, customer_id)
    check_can_edit(principal, customer_id, relationship_id)
    return customers.edit_relationship(principal.corp, customer_id, relationship_id,
                                       actor_id=principal.employee_id, **fields)
