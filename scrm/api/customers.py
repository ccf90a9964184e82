"""/api/v1/customers: the list with filters and keyset pagination, the 360, and salespeople's writes."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE
from sqlalchemy import and_, func, not_, or_, select

from scrm.api.auth import require_token
from scrm.api.schemas import CustomerPage, CustomerQuery, NoteIn, RelationshipPatch, StagePatch, TagsPut
from scrm.errors import NotFound
from scrm.extensions import db
from scrm.models import Customer, Relationship, RelationshipTag
from scrm.services import customers
from scrm.services.access import can_see, visible_customers

bp = Blueprint("customers", __name__, description="Customers, their relationships, tags, notes and stage")
bp.before_request(require_token)


# Filters are `customer.id IN (customers of matching relationships)`: MySQL turns these into semi-joins driven by
# the tag and channel indexes, where a correlated EXISTS would be evaluated for every customer of the corp.

def _has_relationship(*conditions):
    return Customer.id.in_(select(Relationship.customer_id).where(*conditions))


def _has_tag(tag_ids):
    return Customer.id.in_(select(Relationship.customer_id).join(
        RelationshipTag, RelationshipTag.relationship_id == Relationship.id).where(RelationshipTag.tag_id.in_(tag_ids)))


def filtered(args: dict):
    """The visible customers matching the filters (no order, no page)."""
    query = visible_customers(g.principal, select(Customer.id))
    if args.get("q"):
        like = f"%{args['q']}%"
        query = query.where(or_(Customer.name.like(like), _has_relationship(Relationship.remark.like(like))))
    tags = args.get("tags")
    if tags:
        mode = args["tag_mode"]
        if mode == "any":
            query = query.where(_has_tag(tags))
        elif mode == "all":
            query = query.where(and_(*[_has_tag([t]) for t in tags]))
        else:
            query = query.where(not_(_has_tag(tags)))
    if args.get("channel"):
        query = query.where(_has_relationship(Relationship.channel_id == args["channel"]))
    if args.get("employee"):
        query = query.where(_has_relationship(Relationship.employee_id == args["employee"]))
    if args.get("status") == "active":
        query = query.where(_has_relationship(Relationship.status == "active"))
    elif args.get("status") == "lost":
        query = query.where(_has_relationship(), not_(_has_relationship(Relationship.status == "active")))
    if args.get("stage"):
        query = query.where(Customer.stage == args["stage"])
    if args.get("added_from") or args.get("added_to"):
        window = [Relationship.started_at >= args["added_from"].replace(tzinfo=None)] if args.get("added_from") else []
        if args.get("added_to"):
            window.append(Relationship.started_at < args["added_to"].replace(tzinfo=None))
        query = query.where(_has_relationship(*window))
    return query


@bp.route("/customers")
class CustomerList(MethodView):
    @bp.arguments(CustomerQuery, location="query", unknown=RAISE)
    @bp.response(200, CustomerPage)
    def get(self, args):
        """List customers: text, tags (any / all / none), channel, employee, status, stage, added between."""
        query = filtered(args)
        total = db.session.scalar(select(func.count()).select_from(query.subquery()))
        descending = args["sort"] == "-id"
        if args.get("after"):
            query = query.where(Customer.id < args["after"] if descending else Customer.id > args["after"])
        ids = list(db.session.scalars(query.order_by(Customer.id.desc() if descending else Customer.id)
                                      .limit(args["limit"] + 1)))
        more, ids = len(ids) > args["limit"], ids[:args["limit"]]
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
