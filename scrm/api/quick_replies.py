"""/api/v1/quick-replies and /api/v1/quick-reply-groups: the quick-reply library (read by everyone, kept by admins)."""
from __future__ import annotations

from flask import abort, current_app, g, url_for
from flask.views import MethodView
from marshmallow import RAISE, fields, validate

from scrm.api.auth import require_token
from scrm.api.parsing import Blueprint
from scrm.api.schemas import Id, Strict
from scrm.services import quick_replies

bp = Blueprint("quick_replies", __name__, description="The quick-reply library\nzh:话术库")
bp.before_request(require_token)


class LibraryQuery(Strict):
    q = fields.Str(validate=validate.Length(max=64), metadata={"description": "title or text contains"})
    group_id = Id()


class GroupIn(Strict):
    name = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    order = fields.Int(load_default=0, validate=validate.Range(min=-1_000_000, max=1_000_000))


class GroupPatch(Strict):
    name = fields.Str(validate=validate.Length(min=1, max=64))
    order = fields.Int(validate=validate.Range(min=-1_000_000, max=1_000_000))


class ReplyIn(Strict):
    group_id = Id(required=True)
    title = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    content = fields.Dict(required=True, metadata={"description": "text {type, text}; link {type, title, url, desc, "
                                                                  "pic_url}; image {type, media_id}; miniprogram "
                                                                  "{type, title, appid, page, media_id}"})
    order = fields.Int(load_default=0, validate=validate.Range(min=-1_000_000, max=1_000_000))


class ReplyPatch(Strict):
    group_id = Id()
    title = fields.Str(validate=validate.Length(min=1, max=64))
    content = fields.Dict()
    order = fields.Int(validate=validate.Range(min=-1_000_000, max=1_000_000))


def _admin() -> None:
    if g.principal.role != "admin":
        abort(403, description="only an admin token edits the quick-reply library")


@bp.route("/quick-replies")
class Library(MethodView):
    @bp.arguments(LibraryQuery, location="query", unknown=RAISE)
    def get(self, args):
        """The quick-reply library

        Answers the groups in order with their replies: `{"groups": [{"id", "name", "order", "replies": [...]}]}`.

        zh:话术库
        返回按顺序排列的分组及其话术：`{"groups": [{"id", "name", "order", "replies": [...]}]}`。
        """
        return quick_replies.library(g.principal.corp, q=args.get("q"), group_id=args.get("group_id"))

    @bp.arguments(ReplyIn)
    def post(self, body):
        """Add a quick reply

        One message of one type (admins). Answers 201 with the reply.

        zh:新增话术
        每条话术只有一种消息类型（仅管理员）。返回 201 和该话术。
        """
        _admin()
        return quick_replies.create(g.principal.corp, **body), 201


@bp.route("/quick-replies/<int:reply_id>")
class Reply(MethodView):
    @bp.arguments(ReplyPatch)
    def patch(self, body, reply_id):
        """Edit a quick reply

        Admins. Answers the reply.

        zh:修改话术
        仅管理员。返回该话术。
        """
        _admin()
        return quick_replies.edit(g.principal.corp, reply_id, **body)

    def delete(self, reply_id):
        """Delete a quick reply

        Admins. Answers 204.

        zh:删除话术
        仅管理员。返回 204。
        """
        _admin()
        quick_replies.delete(g.principal.corp, reply_id)
        return "", 204


@bp.route("/quick-replies/<int:reply_id>/message", methods=["POST"])
def message(reply_id):
    """The message to send

    What the sidebar passes to `sendChatMessage` for this reply: only its own type set (`text`, `news` with a
    picture, `image` with the host's media id, uploaded once and reused while the host keeps it, or
    `miniprogram`).

    zh:待发送的消息
    返回侧边栏调用 sendChatMessage 的参数：只设置该话术的类型；链接卡片必带图片；图片为企业微信临时素材
    （上传一次，3 天内复用）。
    """
    picture = current_app.config["BASE_URL"] + url_for("h5.static", filename="link.png")
    return quick_replies.chat_message(g.principal.corp, reply_id, link_picture=picture)


@bp.route("/quick-replies/<int:reply_id>/used", methods=["POST"])
def used(reply_id):
    """Count a send

    The sidebar sent this reply; answers the reply with its `uses`.

    zh:记录一次发送
    侧边栏发送了这条话术；返回该话术及其使用次数 `uses`。
    """
    return quick_replies.used(g.principal.corp, reply_id)


@bp.route("/quick-reply-groups", methods=["POST"])
@bp.arguments(GroupIn)
def create_group(body):
    """Add a quick-reply group

    Admins. Answers 201 `{"id", "name", "order"}`.

    zh:新增话术分组
    仅管理员。返回 201 `{"id", "name", "order"}`。
    """
    _admin()
    return quick_replies.create_group(g.principal.corp, body["name"], body["order"]), 201


@bp.route("/quick-reply-groups/<int:group_id>")
class Group(MethodView):
    @bp.arguments(GroupPatch)
    def patch(self, body, group_id):
        """Rename or reorder a group

        Admins. Answers `{"id", "name", "order"}`.

        zh:修改话术分组
        仅管理员。返回 `{"id", "name", "order"}`。
        """
        _admin()
        return quick_replies.edit_group(g.principal.corp, group_id, **body)

    def delete(self, group_id):
        """Delete an empty group

        Admins; a group that still holds replies answers 409. Answers 204.

        zh:删除空的话术分组
        仅管理员；分组内仍有话术时返回 409。返回 204。
        """
        _admin()
        quick_replies.delete_group(g.principal.corp, group_id)
        return "", 204
