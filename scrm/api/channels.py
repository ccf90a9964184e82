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

bp = Blueprint("channels", __name__, description="Channel codes, their QR files and statistics; welcome content")
bp.before_request(require_token)


def _marketer() -> None:
    if g.principal.role not in ("admin", "manager"):
        abort(403, description="only admin and manager tokens edit channels and welcome messages")


@bp.route("/channels")
class Channels(MethodView):
    @bp.response(200, ChannelList)
    def get(self):
        """The corp's channel codes (deleted ones are kept for their statistics, not listed)."""
        return {"items": channels.list_channels(g.principal.corp)}

    @bp.arguments(ChannelIn)
    @bp.response(201, ChannelOut)
    def post(self, body):
        """Create a channel code (on WeCom: a contact way with the channel's state)."""
        _marketer()
        return channels.create_channel(g.principal.corp, body)


@bp.route("/channels/<int:channel_id>")
class ChannelItem(MethodView):
    @bp.response(200, ChannelOut)
    def get(self, channel_id):
        """One channel code."""
        return channels.get_channel(g.principal.corp, channel_id)

    @bp.arguments(ChannelPatch)
    @bp.response(200, ChannelOut)
    def patch(self, body, channel_id):
        """Edit a channel code; its QR code stays the same."""
        _marketer()
        return channels.update_channel(g.principal.corp, channel_id, body)

    @bp.response(204)
    def delete(self, channel_id):
        """Delete a channel code (its statistics stay)."""
        _marketer()
        channels.delete_channel(g.principal.corp, channel_id)


@bp.route("/channels/<int:channel_id>/pause", methods=["POST"])
@bp.response(200, ChannelOut)
def pause(channel_id):
    """Stop taking customers (WeCom deletes the contact way: resuming makes a new QR code)."""
    _marketer()
    return channels.pause_channel(g.principal.corp, channel_id)


@bp.route("/channels/<int:channel_id>/resume", methods=["POST"])
@bp.response(200, ChannelOut)
def resume(channel_id):
    """Take customers again."""
    _marketer()
    return channels.resume_channel(g.principal.corp, channel_id)


def _file(data: bytes, mimetype: str, name: str) -> Response:
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'inline; filename="{name}"',
                                                      "Cache-Control": "private, max-age=300"})


@bp.route("/channels/<int:channel_id>/qr.png", methods=["GET"])
def qr_png(channel_id):
    """The QR code customers scan (the host's own image on WeCom)."""
    channel = channels.get_channel(g.principal.corp, channel_id)
    return _file(channel_qr.png(g.principal.corp, channel), "image/png", f"channel-{channel.id}.png")


@bp.route("/channels/<int:channel_id>/qr.svg", methods=["GET"])
def qr_svg(channel_id):
    """The same QR code as vector SVG, for print."""
    channel = channels.get_channel(g.principal.corp, channel_id)
    return _file(channel_qr.svg(g.principal.corp, channel), "image/svg+xml", f"channel-{channel.id}.svg")


@bp.route("/channels/<int:channel_id>/poster.png", methods=["GET"])
@bp.arguments(PosterQuery, location="query", unknown=RAISE)
def poster(args, channel_id):
    """A printable poster: title (the channel's name unless given), the QR code, a line of text."""
    channel = channels.get_channel(g.principal.corp, channel_id)
    image = channel_qr.poster(g.principal.corp, channel, title=args.get("title"), text=args["text"])
    return _file(image, "image/png", f"channel-{channel.id}-poster.png")


@bp.route("/channels/<int:channel_id>/stats", methods=["GET"])
@bp.arguments(StatsQuery, location="query", unknown=RAISE)
def stats(args, channel_id):
    """Per day and per employee: new friends, lost (and lost within 7 days), net, conversions, cost per acquisition."""
    return channel_stats.channel_stats(g.principal.corp, channel_id, args["from_"], args["to"])


@bp.route("/channels/<int:channel_id>/stats.csv", methods=["GET"])
@bp.arguments(StatsQuery, location="query", unknown=RAISE)
def stats_csv(args, channel_id):
    """The same statistics as CSV (rows per day with a total, or per employee with by=employee)."""
    data = channel_stats.channel_stats(g.principal.corp, channel_id, args["from_"], args["to"])
    name = f"channel-{channel_id}-{args['from_']}-{args['to']}-{args['by']}.csv"
    return Response("\ufeff" + channel_stats.to_csv(data, args["by"]), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/channels/<int:channel_id>/costs", methods=["PUT"])
@bp.arguments(CostsPut)
def put_costs(body, channel_id):
    """Record what the channel cost per day (yuan); the cost per acquisition follows."""
    _marketer()
    return {"items": channel_stats.set_costs(g.principal.corp, channel_id, body["items"])}


@bp.route("/media", methods=["POST"])
def upload_media():
    """Upload an image (PNG or JPEG, at most 10 MB, multipart field `file`) for welcome messages."""
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
        """The corp's default welcome message (null when there is none)."""
        return {"welcome": welcome.default_content(g.principal.corp)}

    @bp.arguments(WelcomeIn)
    def put(self, body):
        """Set the default welcome, for channels that use it and for adds without a channel."""
        _marketer()
        return {"welcome": welcome.set_default_content(g.principal.corp, body)}

    def delete(self):
        """No default welcome any more."""
        _marketer()
        welcome.set_default_content(g.principal.corp, None)
        return "", 204
