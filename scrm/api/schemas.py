"""Request and response schemas (marshmallow: unknown fields raise, so typos are refused, not ignored)."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class Strict(Schema):
    class Meta:
        unknown = RAISE


class CustomerQuery(Strict):
    q = fields.Str(validate=validate.Length(max=64), metadata={"description": "name or remark contains"})
    tags = fields.List(fields.Int(), metadata={"description": "tag ids (repeat the parameter)"})
    tag_mode = fields.Str(load_default="any", validate=validate.OneOf(["any", "all", "none"]))
    channel = fields.Int()
    employee = fields.Int()
    status = fields.Str(validate=validate.OneOf(["active", "lost"]))
    stage = fields.Str(validate=validate.Length(max=32))
    added_from = fields.DateTime()
    added_to = fields.DateTime()
    sort = fields.Str(load_default="-id", validate=validate.OneOf(["id", "-id"]))
    after = fields.Int(metadata={"description": "keyset cursor: the last id of the previous page"})
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
    tag_ids = fields.List(fields.Int(), required=True, validate=validate.Length(max=100))


class RelationshipPatch(Strict):
    remark = fields.Str(validate=validate.Length(max=20))
    description = fields.Str(validate=validate.Length(max=150))
    remark_mobiles = fields.List(fields.Str(validate=validate.Length(max=32)), validate=validate.Length(max=5))


class TagGroupIn(Strict):
    name = fields.Str(required=True)
    tags = fields.List(fields.Str(), required=True)
    order = fields.Int(load_default=0)


class TagIn(Strict):
    group_id = fields.Int(required=True)
    name = fields.Str(required=True)


class RenameIn(Strict):
    name = fields.Str()
    order = fields.Int()
