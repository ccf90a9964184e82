"""/api/v1/employees, /api/v1/group-chats and the tag library (/api/v1/tag-groups, /api/v1/tags)."""
from __future__ import annotations

from flask import abort, g

from scrm.api.auth import require_token
from scrm.api.parsing import Blueprint
from scrm.api.schemas import RenameIn, TagGroupIn, TagIn
from scrm.models import TagGroup
from scrm.services import group_chats as group_chats_service
from scrm.services import org, tag_library

bp = Blueprint("directory", __name__, description="Employees and the tag library\nzh:员工与标签库")
bp.before_request(require_token)


@bp.route("/employees", methods=["GET"])
def employees():
    """List employees

    Answers `{"items": [...]}`.

    zh:员工列表
    返回 `{"items": [...]}`。
    """
    return {"items": org.list_employees(g.principal.corp)}


@bp.route("/tag-groups", methods=["GET"])
def tag_groups():
    """The tag library

    Answers the tag groups with their tags: `{"items": [{"id", "name", "order", "tags": [...]}]}`.

    zh:标签库
    返回标签组及其标签：`{"items": [{"id", "name", "order", "tags": [...]}]}`。
    """
    return {"items": [_group_json(grp) for grp in tag_library.list_groups(g.principal.corp)]}


@bp.route("/group-chats", methods=["GET"])
def group_chats():
    """List customer group chats

    Answers them with their member counts: `{"items": [...]}`.

    zh:客户群列表
    返回客户群及成员数：`{"items": [...]}`。
    """
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
    """Create a tag group

    With its tags, on the host too. Admin tokens only. Answers 201 with the group.

    zh:创建标签组
    连同标签一起创建，也同步到企业微信 / 钉钉。仅 admin 令牌。返回 201 和标签组。
    """
    _admin()
    group = tag_library.create_group(g.principal.corp, body["name"], body["tags"], order=body["order"])
    return _group_json(group), 201


@bp.route("/tag-groups/<int:group_id>", methods=["PATCH"])
@bp.arguments(RenameIn)
def edit_group(body, group_id):
    """Rename or reorder a tag group

    Answers the group with its tags.

    zh:重命名或排序标签组
    返回标签组及其标签。
    """
    _admin()
    return _group_json(tag_library.rename(g.principal.corp, group_id=group_id, **body))


@bp.route("/tag-groups/<int:group_id>", methods=["DELETE"])
def delete_group(group_id):
    """Delete a tag group

    The group and its tags. Answers 204.

    zh:删除标签组
    删除标签组及其标签。返回 204。
    """
    _admin()
    tag_library.delete(g.principal.corp, group_id=group_id)
    return "", 204


@bp.route("/tags", methods=["POST"])
@bp.arguments(TagIn)
def create_tag(body):
    """Add a tag

    To a group. Answers 201 `{"id", "name", "group_id"}`.

    zh:添加标签
    添加到某个标签组。返回 201 `{"id", "name", "group_id"}`。
    """
    _admin()
    tag = tag_library.add_tag(g.principal.corp, body["group_id"], body["name"])
    return {"id": tag.id, "name": tag.name, "group_id": tag.group_id}, 201


@bp.route("/tags/<int:tag_id>", methods=["PATCH"])
@bp.arguments(RenameIn)
def edit_tag(body, tag_id):
    """Rename or reorder a tag

    Answers `{"id", "name", "order"}`.

    zh:重命名或排序标签
    返回 `{"id", "name", "order"}`。
    """
    _admin()
    tag = tag_library.rename(g.principal.corp, tag_id=tag_id, **body)
    return {"id": tag.id, "name": tag.name, "order": tag.order}


@bp.route("/tags/<int:tag_id>", methods=["DELETE"])
def delete_tag(tag_id):
    """Delete a tag

    Relationships lose it. Answers 204.

    zh:删除标签
    相关跟进关系同时去掉该标签。返回 204。
    """
    _admin()
    tag_library.delete(g.principal.corp, tag_id=tag_id)
    return "", 204
