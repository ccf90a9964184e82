"""/api/v1/employees, /api/v1/group-chats and the tag library (/api/v1/tag-groups, /api/v1/tags)."""
from __future__ import annotations

from flask import abort, g

from scrm.api.auth import require_token
from scrm.api.parsing import Blueprint
from scrm.api.schemas import RenameIn, TagGroupIn, TagIn
from scrm.models import TagGroup
from scrm.services import group_chats as group_chats_service
from scrm.services import org, tag_library

bp = Blueprint("directory", __name__, description="Employees and the tag library")
bp.before_request(require_token)


@bp.route("/employees", methods=["GET"])
def employees():
    """The corp's employees."""
    return {"items": org.list_employees(g.principal.corp)}


@bp.route("/tag-groups", methods=["GET"])
def tag_groups():
    """The corp's tag library, groups with their tags."""
    return {"items": [_group_json(grp) for grp in tag_library.list_groups(g.principal.corp)]}


@bp.route("/group-chats", methods=["GET"])
def group_chats():
    """The corp's customer group chats with their member counts."""
    return {"items": group_chats_service.list_group_chats(g.principal.corp)}


def _admin() -> None:
    if g.principal.role != "admin":
        abort(403, description="only an admin token edits the tag library")


def _group_json(group: TagGroup) -> dict:
    return {"id": group.id, "name": group.name, "order": group.order,
            "tags": [{"id": t.id, "name": t.name, "order": t.order} for t in group.tags if not t.deleted]}


@bp.route("/tag-groups", methods=["POST"])
@bp.arguments(TagGroupIn)
def create_group(body):
    """Create a tag group with its tags (on the host too)."""
    _admin()
    group = tag_library.create_group(g.principal.corp, body["name"], body["tags"], order=body["order"])
    return _group_json(group), 201


@bp.route("/tag-groups/<int:group_id>", methods=["PATCH"])
@bp.arguments(RenameIn)
def edit_group(body, group_id):
    """Rename or reorder a group."""
    _admin()
    return _group_json(tag_library.rename(g.principal.corp, group_id=group_id, **body))


@bp.route("/tag-groups/<int:group_id>", methods=["DELETE"])
def delete_group(group_id):
    """Delete a group and its tags."""
    _admin()
    tag_library.delete(g.principal.corp, group_id=group_id)
    return "", 204


@bp.route("/tags", methods=["POST"])
@bp.arguments(TagIn)
def create_tag(body):
    """Add a tag to a group."""
    _admin()
    tag = tag_library.add_tag(g.principal.corp, body["group_id"], body["name"])
    return {"id": tag.id, "name": tag.name, "group_id": tag.group_id}, 201


@bp.route("/tags/<int:tag_id>", methods=["PATCH"])
@bp.arguments(RenameIn)
def edit_tag(body, tag_id):
    """Rename or reorder a tag."""
    _admin()
    tag = tag_library.rename(g.principal.corp, tag_id=tag_id, **body)
    return {"id": tag.id, "name": tag.name, "order": tag.order}


@bp.route("/tags/<int:tag_id>", methods=["DELETE"])
def delete_tag(tag_id):
    """Delete a tag; relationships lose it."""
    _admin()
    tag_library.delete(g.principal.corp, tag_id=tag_id)
    return "", 204
