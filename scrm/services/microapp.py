"""What the DingTalk micro-app (`/h5/app`, opened from DingTalk's workbench) shows a signed-in employee: their
customers found with the API's filters and roles (`customer_desk.search`: a salesperson sees only their own), the
customer pool with what they may still claim today, and the handovers they give or take, each line in its state.
The customer's own page is the sidebar's (`sidebar.customer_page_by_id`)."""
from __future__ import annotations

from sqlalchemy import select

from scrm.extensions import db
from scrm.models import Relationship
from scrm.services import customer_desk, customers, handover_desk, handovers, pool, tag_library
from scrm.services.access import Principal

PAGE = 20
HANDOVERS = 20
LINES = 100  # lines shown per handover; the rest are counted


def my_customers(principal: Principal, *, q: str = "", tag: int | None = None, stage: str = "",
                 after: int | None = None, limit: int = PAGE) -> dict:
    """One page of the customers the principal may see, newest first, matching the text (name or remark), the tag
    and the stage; with my remark of each, and the tags and stages to filter by."""
    stages = customers.stages(principal.corp)
    filters = {"q": q[:64]} if q else {}
    if tag:
        filters["tags"] = [tag]
    if stage in stages:
        filters["stage"] = stage
    found = customer_desk.search(principal, filters, limit=limit, after=after, sort="-id")
    remarks = {}
    if principal.employee_id and found["items"]:
        remarks = dict(db.session.execute(select(Relationship.customer_id, Relationship.remark).where(
            Relationship.customer_id.in_([c["id"] for c in found["items"]]),
            Relationship.employee_id == principal.employee_id, Relationship.status == "active")).all())
    tags = [{"name": g.name, "tags": [{"id": t.id, "name": t.name} for t in g.tags if not t.deleted]}
            for g in tag_library.list_groups(principal.corp)]
    return {**found, "items": [{**c, "remark": remarks.get(c["id"])} for c in found["items"]],
            "tag_groups": [g for g in tags if g["tags"]], "stages": stages}


def pool_page(principal: Principal, *, after: int | None = None, limit: int = PAGE) -> dict:
    """The pool's open entries, newest first, and how many the principal may still claim today (None for an
    account without an employee: it cannot claim)."""
    entries = handover_desk.pool_entries(principal, limit=limit, after=after, reason=None)
    left = None
    if principal.employee_id:
        left = max(pool.daily_claims(principal.corp) - pool.claims_today(principal.corp, principal.employee_id), 0)
    return {**entries, "claims_left": left, "daily_claims": pool.daily_claims(principal.corp)}


def my_handovers(principal: Principal, *, limit: int = HANDOVERS) -> list[dict]:
    """The handovers the principal's employee gives or takes in, newest first: the giver sees every line, a taker
    their own."""
    me = principal.employee_id
    if me is None:
        return []
    out = []
    for summary in handovers.list_handovers(principal.corp.id, employee_ids=[me], limit=limit):
        shown = handovers.show(principal.corp.id, summary["id"])
        giver = shown["from_employee"]["id"] == me
        lines = [line for line in shown["lines"] if giver or line["to_employee"]["id"] == me]
        out.append({**shown, "giver": giver, "lines": lines[:LINES], "more_lines": max(len(lines) - LINES, 0)})
    return out
