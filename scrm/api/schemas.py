"""Request and response schemas (marshmallow: unknown fields raise, so typos are refused, not ignored)."""
from __future__ import annotations

from flask import request
from marshmallow import RAISE, Schema, fields, validate

from scrm.models import ROLES
from scrm.models.base import MAX_ID
from scrm.services import channel_qr
from scrm.services.channels import ALLOCATIONS, WELCOME_MODES


class Strict(Schema):
    class Meta:
        unknown = RAISE


def Id(**kwargs) -> fields.Int:  # noqa: N802 (a field, named like one)
    """A row's id in input: positive, and within BIGINT (larger would overflow the database driver)."""
    return fields.Int(strict=False, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class CustomerQuery(Strict):
    q = fields.Str(validate=validate.Length(max=64), metadata={"description": "name or remark contains"})
    tags = fields.List(Id(), metadata={"description": "tag ids (repeat the parameter)"})
    tag_mode = fields.Str(load_default="any", validate=validate.OneOf(["any", "all", "none"]))
    channel = Id()
    employee = Id()
    status = fields.Str(validate=validate.OneOf(["active", "lost"]))
    stage = fields.Str(validate=validate.Length(max=32))
    added_from = fields.DateTime()
    added_to = fields.DateTime()
    sort = fields.Str(load_default="-id", validate=validate.OneOf(["id", "-id"]))
    after = Id(metadata={"description": "keyset cursor: the last id of the previous page"})
    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))


class CustomerRow(Schema):
    id = fields.Int()
    name = fields.Str()
    avatar = fields.Str(allow_none=True)
    stage = fields.Str()
    corp_name = fields.Str(allow_none=True)
    followers = fields.Int()


class CustomerPage(Schema):
    items = fields.List(fields.Nested(CustomerRow))
    total = fields.Int()
    next = fields.Int(allow_none=True, metadata={"description": "pass as `after` for the next page"})


class StagePatch(Strict):
    stage = fields.Str(required=True, validate=validate.Length(min=1, max=32))


class NoteIn(Strict):
    body = fields.Str(required=True, validate=validate.Length(min=1, max=4000))


class TagsPut(Strict):
    tag_ids = fields.List(Id(), required=True, validate=validate.Length(max=100))


class RelationshipPatch(Strict):
    remark = fields.Str(validate=validate.Length(max=20))
    description = fields.Str(validate=validate.Length(max=150))
    remark_mobiles = fields.List(fields.Str(validate=validate.Length(max=32)), validate=validate.Length(max=5))


class TagGroupIn(Strict):
    name = fields.Str(required=True)
    tags = fields.List(fields.Str(), required=True)
    order = fields.Int(load_default=0, validate=validate.Range(min=-MAX_ID, max=MAX_ID))


class TagIn(Strict):
    group_id = Id(required=True)
    name = fields.Str(required=True)


class RenameIn(Strict):
    name = fields.Str()
    order = fields.Int(validate=validate.Range(min=-MAX_ID, max=MAX_ID))


class MemberIn(Strict):
    employee_id = Id(required=True)
    weight = fields.Int(load_default=1)
    daily_cap = fields.Int(allow_none=True, load_default=None)
    backup = fields.Bool(load_default=False)
    schedule = fields.Dict(allow_none=True, load_default=None,
                           metadata={"description": 'working hours per weekday, e.g. {"mon": [["09:00", "18:00"]]}'})


class WelcomeIn(Strict):
    text = fields.Str(load_default="", metadata={"description": "placeholders: {customer_name} {employee_name} "
                                                                "{channel}"})
    attachments = fields.List(fields.Dict(), load_default=list,
                              metadata={"description": "image {media_id}, link {title, url, desc, pic_url}, "
                                                       "miniprogram {title, appid, page, media_id}"})


class ChannelPatch(Strict):
    name = fields.Str()
    state = fields.Str(metadata={"description": "attribution key, at most 30 characters; generated if left out"})
    members = fields.List(fields.Nested(MemberIn))
    allocation = fields.Str(validate=validate.OneOf(ALLOCATIONS))
    skip_verify = fields.Bool()
    remark = fields.Str(allow_none=True)
    tags = fields.List(Id())
    remark_template = fields.Str(allow_none=True, metadata={"description": "e.g. {channel}-{date}"})
    welcome_mode = fields.Str(validate=validate.OneOf(WELCOME_MODES))
    welcome = fields.Nested(WelcomeIn, allow_none=True)
    temporary = fields.Bool(metadata={"description": "a one-time code, used up by its first customer"})
    expires_at = fields.DateTime(allow_none=True)


class ChannelIn(ChannelPatch):
    name = fields.Str(required=True)
    members = fields.List(fields.Nested(MemberIn), required=True)


class UtcTime(fields.Field):
    """A naive UTC time as ISO 8601 with a trailing Z."""

    def _serialize(self, value, attr, obj, **kwargs):
        return value.isoformat() + "Z" if value else None


class MemberOut(Schema):
    employee_id = fields.Int()
    weight = fields.Int()
    daily_cap = fields.Int(allow_none=True)
    backup = fields.Bool(attribute="is_backup")
    schedule = fields.Dict(allow_none=True)


class ChannelFiles(Schema):
    qr_png = fields.Str()
    qr_svg = fields.Str()
    poster = fields.Str()


class ChannelOut(Schema):
    """A channel code as the API shows it."""

    id = fields.Int()
    name = fields.Str()
    state = fields.Str()
    code = fields.Str(metadata={"description": "public key of the landing page and of the QR files"})
    status = fields.Str(metadata={"description": "active, paused, used, expired"})
    allocation = fields.Str(metadata={"enum": list(ALLOCATIONS)})
    skip_verify = fields.Bool()
    remark = fields.Str(allow_none=True)
    remark_template = fields.Str(allow_none=True)
    temporary = fields.Bool()
    expires_at = UtcTime(allow_none=True)
    welcome_mode = fields.Str(metadata={"enum": list(WELCOME_MODES)})
    welcome = fields.Function(lambda c: c.welcome or {}, metadata={"description": "{text, attachments}"})
    members = fields.List(fields.Nested(MemberOut))
    tags = fields.Function(lambda c: [t.tag_id for t in c.tags], metadata={"description": "tag ids"})
    listed_user_ids = fields.Function(lambda c: c.listed_user_ids or [],
                                      metadata={"description": "whom the host's contact way lists now"})
    config_id = fields.Str(allow_none=True, metadata={"description": "the host's contact way"})
    created_at = UtcTime()
    landing_url = fields.Function(lambda c: channel_qr.landing_url(c))
    files = fields.Function(lambda c: _files(c), metadata={"description": "QR code (PNG, SVG) and poster"})


def _files(channel) -> dict:
    base = f"{request.script_root}/api/v1/channels/{channel.id}"
    return ChannelFiles().dump({"qr_png": f"{base}/qr.png", "qr_svg": f"{base}/qr.svg", "poster": f"{base}/poster.png"})


class ChannelList(Schema):
    items = fields.List(fields.Nested(ChannelOut))


class StatsQuery(Strict):
    from_ = fields.Date(data_key="from", load_default=None, metadata={"description": "default: 6 days before `to`"})
    to = fields.Date(load_default=None, metadata={"description": "default: today in the corp's time zone"})
    by = fields.Str(load_default="day", validate=validate.OneOf(["day", "employee"]),
                    metadata={"description": "CSV rows per day or per employee"})


class FunnelQuery(Strict):
    channel_id = Id(metadata={"description": "customers with a relationship through this channel"})
    employee_id = Id(metadata={"description": "customers with a relationship with this employee"})
    department_id = Id(metadata={"description": "... with an employee of this department or one below it"})
    from_ = fields.Date(data_key="from", load_default=None,
                        metadata={"description": "customers with a relationship added on or after this local day"})
    to = fields.Date(load_default=None, metadata={"description": "... and on or before this local day"})


class FunnelStage(Schema):
    stage = fields.Str()
    in_funnel = fields.Bool(metadata={"description": "false for lost: a way out, not a step"})
    customers = fields.Int(metadata={"description": "in the stage now"})
    reached = fields.Int(metadata={"description": "ever reached this step or a later one (lost: ever lost)"})
    conversion_from_previous = fields.Float(allow_none=True)
    median_seconds_in_stage = fields.Float(allow_none=True, metadata={"description": "over completed stays"})


class FunnelTotals(Schema):
    customers = fields.Int()
    lost = fields.Int(metadata={"description": "lost now"})
    ever_lost = fields.Int()
    conversion_stage = fields.Str(allow_none=True)
    converted = fields.Int(metadata={"description": "reached the conversion stage"})
    conversion = fields.Float(allow_none=True, metadata={"description": "converted / customers"})


class FunnelOut(Schema):
    from_ = fields.Date(data_key="from", attribute="from", allow_none=True)
    to = fields.Date(allow_none=True)
    timezone = fields.Str()
    stages = fields.List(fields.Nested(FunnelStage))
    totals = fields.Nested(FunnelTotals)


class PosterQuery(Strict):
    title = fields.Str(validate=validate.Length(max=64))
    text = fields.Str(load_default="", validate=validate.Length(max=200))


class CostItem(Strict):
    day = fields.Date(required=True)
    amount = fields.Float(required=True, validate=validate.Range(min=0, max=10**9),
                          metadata={"description": "in yuan"})


class CostsPut(Strict):
    items = fields.List(fields.Nested(CostItem), required=True, validate=validate.Length(max=366))


class TokenIn(Strict):
    role = fields.Str(required=True, validate=validate.OneOf(ROLES))
    employee_id = fields.Int(metadata={"description": "the employee (manager and sales tokens), from /employees"})
    label = fields.Str(validate=validate.Length(max=64))


class TokenEmployee(Schema):
    id = fields.Int()
    host_id = fields.Str()
    name = fields.Str()
    status = fields.Str()


class TokenOut(Schema):
    id = fields.Int()
    role = fields.Str()
    label = fields.Str(allow_none=True)
    employee = fields.Nested(TokenEmployee, allow_none=True)
    created_at = UtcTime()
    revoked_at = UtcTime(allow_none=True)


class TokenCreated(TokenOut):
    token = fields.Str(metadata={"description": "the secret, shown this once only"})


class TokenList(Schema):
    items = fields.List(fields.Nested(TokenOut))


class WelcomeDeliveryQuery(Strict):
    customer_id = Id()
    employee_id = Id()
    channel_id = Id()
    status = fields.Str(validate=validate.OneOf(["sent", "used", "expired", "failed", "none"]))
    from_ = fields.DateTime(data_key="from", metadata={"description": "the add's callback at or after"})
    to = fields.DateTime(metadata={"description": "the add's callback before"})
    after = Id(metadata={"description": "keyset cursor: the last id of the previous page"})
    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))


class WelcomeCustomer(Schema):
    id = fields.Int(allow_none=True, metadata={"description": "null until the customer is recorded"})
    name = fields.Str(allow_none=True)
    external_userid = fields.Str()


class WelcomeEmployee(Schema):
    id = fields.Int(allow_none=True)
    name = fields.Str(allow_none=True)
    userid = fields.Str()


class WelcomeChannel(Schema):
    id = fields.Int()
    name = fields.Str()


class WelcomeDeliveryOut(Schema):
    id = fields.Int()
    at = fields.Str(metadata={"description": "when the add's callback arrived (the 20-second window starts)"})
    sent_at = fields.Str(allow_none=True)
    status = fields.Str(metadata={"enum": ["sent", "used", "expired", "failed", "none"]})
    errcode = fields.Int(allow_none=True, metadata={"description": "the host's errcode (41051, 41050, ...)"})
    error = fields.Str(allow_none=True)
    reason = fields.Str(metadata={"description": "the outcome in words"})
    latency_seconds = fields.Float(allow_none=True, metadata={"description": "callback to sent"})
    customer = fields.Nested(WelcomeCustomer)
    employee = fields.Nested(WelcomeEmployee)
    channel = fields.Nested(WelcomeChannel, allow_none=True)


class WelcomeDeliveryPage(Schema):
    items = fields.List(fields.Nested(WelcomeDeliveryOut))
    next = fields.Int(allow_none=True, metadata={"description": "pass as `after` for the next page"})
