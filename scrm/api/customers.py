"""/api/v1/customers: the list with filters and keyset pagination, the 360, and salespeople's writes."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from marshmallow import RAISE

from scrm.api.auth import require_token
from scrm.api.parsing import Blueprint
from scrm.api.schemas import CustomerPage, CustomerQuery, NoteIn, RelationshipPatch, StagePatch, TagsPut
from scrm.services import customer_desk

bp = Blueprint("customers", __name__, description="Customers, their relationships, tags, notes and stage")
bp.before_request(require_token)


@bp.route("/customers")
class CustomerList(MethodView):
    @bp.arguments(CustomerQuery, location="query", unknown=RAISE)
    @bp.response(200, CustomerPage)
    def get(self, args):
        """List customers: text, tags (any / all / none), channel, employee, status, stage, added between."""
        filters = {k: v for k, v in args.items() if k not in ("limit", "after", "sort")}
        return customer_desk.search(g.principal, filters, limit=args["limit"], after=args.get("after"),
                                    sort=args["sort"])


@bp.route("/customers/<int:customer_id>")
class CustomerItem(MethodView):
    def get(self, customer_id):
        """The customer 360: profile, every relationship with employee and tags, groups, notes, timeline."""
        return customer_desk.view(g.principal, customer_id)

    @bp.arguments(StagePatch)
    def patch(self, body, customer_id):
        """Move the customer to another stage."""
        return customer_desk.set_stage(g.principal, customer_id, body["stage"])


@bp.route("/customers/<int:customer_id>/notes", methods=["POST"])
@bp.arguments(NoteIn)
def add_note(body, customer_id):
    """Write a follow-up note, visible to every follower."""
    note = customer_desk.add_note(g.principal, customer_id, body["body"])
    return {"id": note.id, "body": note.body, "author_id": note.author_id}, 201


@bp.route("/customers/<int:customer_id>/relationships/<int:relationship_id>/tags", methods=["PUT"])
@bp.arguments(TagsPut)
def put_tags(body, customer_id, relationship_id):
    """Set the tags of one relationship (pushed to the host)."""
    tag_ids = customer_desk.set_tags(g.principal, customer_id, relationship_id, body["tag_ids"])
    return {"tag_ids": tag_ids}


@bp.route("/customers/<int:customer_id>/relationships/<int:relationship_id>", methods=["PATCH"])
@bp.arguments(RelationshipPatch)
def patch_relationship(body, customer_id, relationship_id):
    """Edit the remark, description or remark mobiles of one relationship (pushed to the host)."""
    rel = customer_desk.edit_relationship(g.principal, customer_id, relationship_id, **body)
    return {"id": rel.id, "remark": rel.remark, "description": rel.description,
            "remark_mobiles": rel.remark_mobiles or []}
