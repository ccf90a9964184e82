"""/api/v1/channels: channel codes with members, rules, tags and welcome content; their QR files and statistics;
/api/v1/media (images for welcome messages) and /api/v1/welcome (the corp's default welcome)."""
from __future__ import annotations

from flask import Response, abort, g, request
from flask.views import MethodView
from marshmallow import RAISE

from scrm.api.auth import require_token
from scrm.api.parsing import Blueprint
from scrm.api.schemas import (ChannelIn, ChannelList, ChannelOut, ChannelPatch, CostsPut, PosterQuery, StatsQuery,
                              WelcomeIn)
from scrm.errors import ValidationError
from scrm.services import channel_qr, channel_stats, channels, media, welcome

bp = Blueprint("channels", __name__, description="Channel codes, their QR files and statistics; welcome content\n"
                                                  "zh:渠道码、二维码文件与统计；欢迎语")
bp.before_request(require_token)


def _marketer() -> None:
    if g.principal.role not in ("admin", "manager"):
        abort(403, description="only admin and manager tokens edit channels and welcome messages")


@bp.route("/channels")
class Channels(MethodView):
    @bp.response(200, ChannelList)
    def get(self):
        """The corp's channel codes

        Deleted ones are kept for their statistics, not listed.

        zh:渠道码列表
        已删除的渠道码保留统计数据，但不列出。
        """
        return {"items": channels.list_channels(g.principal.corp)}

    @bp.arguments(ChannelIn)
    @bp.response(201, ChannelOut)
    def post(self, body):
        """Create a channel code

        On WeCom: a contact way with the channel's `state`. Admin and manager tokens only.

        zh:创建渠道码
        企业微信上即一个带渠道 `state` 的联系我。仅 admin 和 manager 令牌。
        """
        _marketer()
        return channels.create_channel(g.principal.corp, body)


@bp.route("/channels/<int:channel_id>")
class ChannelItem(MethodView):
    @bp.response(200, ChannelOut)
    def get(self, channel_id):
        """One channel code

        zh:查看渠道码
        """
        return channels.get_channel(g.principal.corp, channel_id)

    @bp.arguments(ChannelPatch)
    @bp.response(200, ChannelOut)
    def patch(self, body, channel_id):
        """Edit a channel code

        Its QR code stays the same.

        zh:修改渠道码
        二维码保持不变。
        """
        _marketer()
        return channels.update_channel(g.principal.corp, channel_id, body)

    @bp.response(204)
    def delete(self, channel_id):
        """Delete a channel code

        Its statistics stay.

        zh:删除渠道码
        统计数据保留。
        """
        _marketer()
        channels.delete_channel(g.principal.corp, channel_id)


@bp.route("/channels/<int:channel_id>/pause", methods=["POST"])
@bp.response(200, ChannelOut)
def pause(channel_id):
    """Pause a channel code

    It stops taking customers. WeCom deletes the contact way: resuming makes a new QR code.

    zh:暂停渠道码
    不再接收客户。企业微信会删除联系我：恢复后生成新的二维码。
    """
    _marketer()
    return channels.pause_channel(g.principal.corp, channel_id)


@bp.route("/channels/<int:channel_id>/resume", methods=["POST"])
@bp.response(200, ChannelOut)
def resume(channel_id):
    """Resume a channel code

    It takes customers again.

    zh:恢复渠道码
    重新开始接收客户。
    """
    _marketer()
    return channels.resume_channel(g.principal.corp, channel_id)


def _file(data: bytes, mimetype: str, name: str) -> Response:
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'inline; filename="{name}"',
                                                      "Cache-Control": "private, max-age=300"})


@bp.route("/channels/<int:channel_id>/qr.png", methods=["GET"])
def qr_png(channel_id):
    """The QR code as PNG

    The image customers scan (the host's own image on WeCom). Answers `image/png`.

    zh:二维码（PNG）
    客户扫描的二维码（企业微信上为平台自己的图片）。返回 `image/png`。
    """
    channel = channels.get_channel(g.principal.corp, channel_id)
    return _file(channel_qr.png(g.principal.corp, channel), "image/png", f"channel-{channel.id}.png")


@bp.route("/channels/<int:channel_id>/qr.svg", methods=["GET"])
def qr_svg(channel_id):
    """The QR code as SVG

    The same QR code as vector graphics, for print. Answers `image/svg+xml`.

    zh:二维码（SVG）
    同一个二维码的矢量图，用于印刷。返回 `image/svg+xml`。
    """
    channel = channels.get_channel(g.principal.corp, channel_id)
    return _file(channel_qr.svg(g.principal.corp, channel), "image/svg+xml", f"channel-{channel.id}.svg")


@bp.route("/channels/<int:channel_id>/poster.png", methods=["GET"])
@bp.arguments(PosterQuery, location="query", unknown=RAISE)
def poster(args, channel_id):
    """A printable poster

    A title (the channel's name unless given), the QR code and a line of text. Answers `image/png`.

    zh:可打印的海报
    标题（默认为渠道名称）、二维码和一行文字。返回 `image/png`。
    """
    channel = channels.get_channel(g.principal.corp, channel_id)
    image = channel_qr.poster(g.principal.corp, channel, title=args.get("title"), text=args["text"])
    return _file(image, "image/png", f"channel-{channel.id}-poster.png")


@bp.route("/channels/<int:channel_id>/stats", methods=["GET"])
@bp.arguments(StatsQuery, location="query", unknown=RAISE)
def stats(args, channel_id):
    """Channel statistics

    Per day and per employee: new friends, lost (and lost within 7 days), net, conversions, cost per
    acquisition. Answers `{"days": [...], "employees": [...], "total": {...}}` between `from` and `to`.

    zh:渠道统计
    按天和按员工：新增好友、流失（及 7 天内流失）、净增、转化、获客成本。返回 `from` 至 `to` 期间的
    `{"days": [...], "employees": [...], "total": {...}}`。
    """
    return channel_stats.channel_stats(g.principal.corp, channel_id, args["from_"], args["to"])


@bp.route("/channels/<int:channel_id>/stats.csv", methods=["GET"])
@bp.arguments(StatsQuery, location="query", unknown=RAISE)
def stats_csv(args, channel_id):
    """Channel statistics as CSV

    Rows per day with a total, or per employee with `by=employee`. Answers `text/csv` (UTF-8 with BOM).

    zh:渠道统计（CSV）
    按天一行并含合计，或用 `by=employee` 按员工。返回 `text/csv`（带 BOM 的 UTF-8）。
    """
    data = channel_stats.channel_stats(g.principal.corp, channel_id, args["from_"], args["to"])
    name = f"channel-{channel_id}-{args['from_']}-{args['to']}-{args['by']}.csv"
    return Response("\ufeff" + channel_stats.to_csv(data, args["by"]), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/channels/<int:channel_id>/costs", methods=["PUT"])
@bp.arguments(CostsPut)
def put_costs(body, channel_id):
    """Record the channel's costs

    What the channel cost per day, in yuan; the cost per acquisition follows. Answers `{"items": [...]}`.

    zh:记录渠道成本
    渠道每天的花费（元），据此计算获客成本。返回 `{"items": [...]}`。
    """
    _marketer()
    return {"items": channel_stats.set_costs(g.principal.corp, channel_id, body["items"])}


@bp.route("/media", methods=["POST"])
def upload_media():
    """Upload an image

    For welcome messages: PNG or JPEG, at most 10 MB, sent as `multipart/form-data` field `file`.
    Answers 201 `{"id", "filename", "content_type", "size"}`.

    zh:上传图片
    用于欢迎语：PNG 或 JPEG，不超过 10 MB，以 `multipart/form-data` 的 `file` 字段发送。
    返回 201 `{"id", "filename", "content_type", "size"}`。
    """
    _marketer()
    request.max_content_length = media.MAX_IMAGE_BYTES + 64 * 1024  # callbacks keep the 1 MiB limit
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError("file", "send the image as multipart field `file`")
    saved = media.save_image(g.principal.corp, upload.filename or "image", upload.read(media.MAX_IMAGE_BYTES + 1))
    return {"id": saved.id, "filename": saved.filename, "content_type": saved.content_type, "size": saved.size}, 201


@bp.route("/welcome")
class DefaultWelcome(MethodView):
    def get(self):
        """The default welcome message

        Answers `{"welcome": {text, attachments}}`, `null` when there is none.

        zh:默认欢迎语
        返回 `{"welcome": {text, attachments}}`，没有时为 `null`。
        """
        return {"welcome": welcome.default_content(g.principal.corp)}

    @bp.arguments(WelcomeIn)
    def put(self, body):
        """Set the default welcome message

        For channels that use it and for adds without a channel. Answers `{"welcome": ...}`.

        zh:设置默认欢迎语
        用于选择默认欢迎语的渠道和不经渠道的添加。返回 `{"welcome": ...}`。
        """
        _marketer()
        return {"welcome": welcome.set_default_content(g.principal.corp, body)}

    def delete(self):
        """Remove the default welcome message

        zh:删除默认欢迎语
        """
        _marketer()
        welcome.set_default_content(g.principal.corp, None)
        return "", 204
