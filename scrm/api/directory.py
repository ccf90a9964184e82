"""/api/v1/employees and /api/v1/tag-groups (read)."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import select

from scrm.api.auth import require_token
from scrm.extensions import db
from scrm.models import Employee, Tag, TagGroup

bp = Blueprint("directory", __name__, description="Employees and the tag library")
bp.before_request(require_token)


@bp.route("/employees", methods=["GET"])
def employees():
    """The corp's employees."""
    rows = db.session.scalars(select(Employee).where(Employee.corp_id == g.principal.corp.id).order_by(Employee.id))
    return {"items": [{"id": e.id, "host_id": e.host_id, "name": e.name, "status": e.status,
                       "departments": [d.name for d in e.departments]} for e in rows]}


@bp.route("/tag-groups", methods=["GET"])
def tag_groups():
    """The corp's tag library, groups with their tags."""
    groups = db.session.scalars(select(TagGroup).where(TagGroup.corp_id == g.principal.corp.id,
                                                       TagGroup.deleted.is_(False)).order_by(TagGroup.order))
    return {"items": [{"id": grp.id, "name": grp.name, "order": grp.order,
                       "tags": [{"id": t.id, "name": t.name, "order": t.order} for t in grp.tags if not t.deleted]}
                      for grp in groups]}
