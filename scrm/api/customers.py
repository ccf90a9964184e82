"""/api/v1/customers: the list with filters and keyset pagination, the 360, and salespeople's writes."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE
from sqlalchemy import func, intersect, or_, select

from scrm.api.auth import require_token
from scrm.api.schemas import CustomerPage, CustomerQuery, NoteIn, RelationshipPatch, StagePatch, TagsPut
from scrm.errors import NotFound
from scrm.extensions import db
from scrm.models import Customer, Relationship, RelationshipTag
from scrm.services import customers
from scrm.services.access import can_see, visible_customers

bp = Blueprint("customers", __name__, description="Customers, their relationships, tags, notes and stage")
bp.before_request(require_token)


# Set filters (tags, channel, employee, status, date added) each give the customers of matching relationships;
# their INTERSECT drives the query from the tag and channel indexes, so a selective filter reads few rows even
# among a million relationships (a per-customer EXISTS or IN would be probed for every customer of the corp).

def _customers_of(*conditions):
    return select(Relationship.customer_id.label("customer_id")).where(*conditions)


def _tagged(tag_ids):
    return select(RelationshipTag.customer_id.label("customer_id")).where(RelationshipTag.tag_id.in_(tag_ids))


def filtered(args: dict):
    """The visible customers matching the filters (no order, no page)."""
    sets, query = [], select(Customer.id)
    tags = args.get("tags")
    if tags and args.get("tag_mode", "any") == "any":
        sets.append(_tagged(tags))
    elif tags and args["tag_mode"] == "all":
        sets += [_tagged([t]) for t in tags]
    elif tags:
        query = query.where(Customer.id.not_in(_tagged(tags)))
    if args.get("channel"):
        sets.append(_customers_of(Relationship.channel_id == args["channel"]))
    if args.get("employee"):
        sets.append(_customers_of(Relationship.employee_id == args["employee"]))
    if args.get("status") == "active":
        sets.append(_customers_of(Relationship.status == "active"))
    elif args.get("status") == "lost":
        sets.append(_customers_of(Relationship.status != "active"))
        query = query.where(Customer.id.not_in(_customers_of(Relationship.status == "active")))
    if args.get("added_from") or args.get("added_to"):
        window = [Relationship.started_at >= args["added_from"].replace(tzinfo=None)] if args.get("added_from") else []
        if args.get("added_to"):
            window.append(Relationship.started_at < args["added_to"].replace(tzinfo=None))
        sets.append(_customers_of(*window))
    if sets:
        matching = (intersect(*sets) if len(sets) > 1 else sets[0].distinct()).subquery()
        query = query.join(matching, Customer.id == matching.c.customer_id)
    if args.get("q"):
        like = f"%{args['q']}%"
        query = query.where(or_(Customer.name.like(like), Customer.id.in_(_customers_of(Relationship.remark.like(like)))))
    if args.get("stage"):
        query = query.where(Customer.stage == args["stage"])
    return visible_customers(g.principal, query)


@bp.route("/customers")
class CustomerList(MethodView):
    @bp.arguments(CustomerQuery, location="query", unknown=RAISE)
    @bp.response(200, CustomerPage)
    def get(self, args):
        """List customers: text, tags (any / all / none), channel, employee, status, stage, added between."""
        # one pass over the matching set gives the page and the total (COUNT(*) OVER ())
        numbered = filtered(args).add_columns(func.count().over().label("total")).subquery()
        descending = args["sort"] == "-id"
        page = select(numbered.c.id, numbered.c.total)
        if args.get("after"):
            page = page.where(numbered.c.id < args["after"] if descending else numbered.c.id > args["after"])
        found = db.session.execute(page.order_by(numbered.c.id.desc() if descending else numbered.c.id)
                                   .limit(args["limit"] + 1)).all()
        total = found[0].total if found else db.session.scalar(
            select(func.count()).select_from(filtered(args).subquery()))
        more, ids = len(found) > args["limit"], [row.id for row in found[:args["limit"]]]
        rows = {c.id: c for c in db.session.scalars(select(Customer).where(Customer.id.in_(ids)))}
        followers = dict(db.session.execute(select(Relationship.customer_id, func.count()).where(
            Relationship.customer_id.in_(ids), Relationship.status == "active").group_by(Relationship.customer_id)).all())
        items = [{"id": i, "name": rows[i].name, "avatar": rows[i].avatar, "stage": rows[i].stage,
                  "corp_name": rows[i].corp_name, "followers": followers.get(i, 0)} for i in ids]
        return {"items": items, "total": total, "next": ids[-1] if more else None}


def _visible(customer_id: int) -> None:
    if not can_see(g.principal, customer_id):
        raise NotFound(f"no customer {customer_id}")


@bp.route("/customers/<int:customer_id>")
class CustomerItem(MethodView):
    def get(self, customer_id):
        """The customer 360: profile, every relationship with employee and tags, groups, notes, timeline."""
        _visible(customer_id)
        return customers.customer_360(g.principal.corp, customer_id)

    @bp.arguments(StagePatch)
    def patch(self, body, customer_id):
        """Move the customer to another stage."""
        _visible(customer_id)
        customers.set_stage(g.principal.corp, customer_id, body["stage"], actor_id=g.principal.employee_id)
        return customers.customer_360(g.principal.corp, customer_id)


@bp.route("/customers/<int:customer_id>/notes", methods=["POST"])
@bp.arguments(NoteIn)
def add_note(body, customer_id):
    """Write a follow-up note, visible to every follower."""
    _visible(customer_id)
    note = customers.add_note(g.principal.corp, customer_id, body["body"], author_id=g.principal.employee_id)
    return {"id": note.id, "body": note.body, "author_id": note.author_id}, 201


@bp.route("/customers/<int:customer_id>/relationships/<int:relationship_id>/tags", methods=["PUT"])
@bp.arguments(TagsPut)
def put_tags(body, customer_id, relationship_id):
    """Set the tags of one relationship (pushed to the host)."""
    _visible(customer_id)
    tag_ids = customers.set_tags(g.principal.corp, customer_id, relationship_id, body["tag_ids"],
                                 actor_id=g.principal.employee_id)
    return {"tag_ids": tag_ids}


@bp.route("/customers/<int:customer_id>/relationships/<int:relationship_id>", methods=["PATCH"])
@bp.arguments(RelationshipPatch)
def patch_relationship(body, customer_id, relationship_id):
    """Edit the remark, description or remark mobiles of one relationship (pushed to the host)."""
    _visible(customer_id)
    rel = customers.edit_relationship(g.principal.corp, customer_id, relationship_id,
                                      actor_id=g.principal.employee_id, **body)
    return {"id": rel.id, "remark": rel.remark, "description": rel.description,
            "remark_mobiles": rel.remark_mobiles or []}
