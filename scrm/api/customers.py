"""/api/v1/customers: the list with filters and keyset pagination, the 360, and salespeople's writes."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from marshmallow import RAISE

from scrm.api.auth import require_token
from scrm.api.parsing import Blueprint
from scrm.api.schemas import CustomerPage, CustomerQuery, NoteIn, RelationshipPatch, StagePatch, TagsPut
from scrm.services import customer_desk

bp = Blueprint("customers", __name__, description="Customers, their relationships, tags, notes and stage\nzh:客户、跟进关系、标签、跟进记录与阶段")
bp.before_request(require_token)


@bp.route("/customers")
class CustomerList(MethodView):
    @bp.arguments(CustomerQuery, location="query", unknown=RAISE)
    @bp.response(200, CustomerPage)
    def get(self, args):
        """List customers

        Filters: text, tags (any / all / none), channel, employee, status, stage, added between. Pages by
        keyset: pass `next` as `after`.

        zh:客户列表
        筛选：文本、标签（任一 / 全部 / 不含）、渠道、员工、状态、阶段、添加时间。按游标分页：把 `next` 作为 `after` 传入。
        """
        filters = {k: v for k, v in args.items() if k not in ("limit", "after", "sort")}
        return customer_desk.search(g.principal, filters, limit=args["limit"], after=args.get("after"),
                                    sort=args["sort"])


@bp.route("/customers/<int:customer_id>")
class CustomerItem(MethodView):
    def get(self, customer_id):
        """The customer 360

        Answers the profile, every relationship with its employee and tags, group chats, notes and the timeline.

        zh:客户 360 视图
        返回客户资料、每段跟进关系（员工和标签）、客户群、跟进记录和时间线。
        """
        return customer_desk.view(g.principal, customer_id)

    @bp.arguments(StagePatch)
    def patch(self, body, customer_id):
        """Change the customer's stage

        Answers the customer 360.

        zh:修改客户阶段
        返回客户 360 视图。
        """
        return customer_desk.set_stage(g.principal, customer_id, body["stage"])


@bp.route("/customers/<int:customer_id>/notes", methods=["POST"])
@bp.arguments(NoteIn)
def add_note(body, customer_id):
    """Add a follow-up note

    Visible to every follower. Answers 201 `{"id", "body", "author_id"}`.

    zh:添加跟进记录
    所有跟进人可见。返回 201 `{"id", "body", "author_id"}`。
    """
    note = customer_desk.add_note(g.principal, customer_id, body["body"])
    return {"id": note.id, "body": note.body, "author_id": note.author_id}, 201


@bp.route("/customers/<int:customer_id>/relationships/<int:relationship_id>/tags", methods=["PUT"])
@bp.arguments(TagsPut)
def put_tags(body, customer_id, relationship_id):
    """Set a relationship's tags

    Pushed to the host. Answers `{"tag_ids": [...]}`.

    zh:设置跟进关系的标签
    同步到企业微信 / 钉钉。返回 `{"tag_ids": [...]}`。
    """
    tag_ids = customer_desk.set_tags(g.principal, customer_id, relationship_id, body["tag_ids"])
    return {"tag_ids": tag_ids}


@bp.route("/customers/<int:customer_id>/relationships/<int:relationship_id>", methods=["PATCH"])
@bp.arguments(RelationshipPatch)
def patch_relationship(body, customer_id, relationship_id):
    """Edit a relationship's remark

    The remark, description or remark mobiles of one relationship, pushed to the host. Answers
    `{"id", "remark", "description", "remark_mobiles"}`.

    zh:修改跟进关系的备注
    修改备注名、描述或备注手机号，并同步到企业微信 / 钉钉。返回 `{"id", "remark", "description", "remark_mobiles"}`。
    """
    rel = customer_desk.edit_relationship(g.principal, customer_id, relationship_id, **body)
    return {"id": rel.id, "remark": rel.remark, "description": rel.description,
            "remark_mobiles": rel.remark_mobiles or []}
