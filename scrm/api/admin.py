"""/api/v1/corp, /doctor, /events, /followups: the admin's day over the API, for admin tokens only. A token belongs
to one corp, so everything here acts on the token's corp (removing a corp is `scrm corp remove`, never the API)."""
from __future__ import annotations

from flask import abort, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from scrm.api.auth import require_token
from scrm.api.schemas import Id, Strict
from scrm.errors import NotFound
from scrm.services import corps, doctor, followups, inbox

bp = Blueprint("admin", __name__, description="The corp, its checks, events and follow-ups (admin only)\n"
                                                "zh:企业设置、自检、事件与后续任务（仅管理员）")
bp.before_request(require_token)


@bp.before_request
def _admin_only():
    if g.principal.role != "admin":
        abort(403, description="only an admin token manages the corp")


class CorpOut(Schema):
    corp_key = fields.Str()
    platform = fields.Str()
    name = fields.Str()
    corp_id = fields.Str()
    agent_id = fields.Str(allow_none=True)
    app_key = fields.Str(allow_none=True)
    api_base = fields.Str(allow_none=True)
    callback_url = fields.Str()
    created_at = fields.Str()


class CorpPatch(Strict):
    name = fields.Str(validate=validate.Length(min=1, max=128))
    secret = fields.Str(load_only=True, validate=validate.Length(min=1, max=512),
                        metadata={"description": "write-only: never answered"})
    callback_token = fields.Str(load_only=True, metadata={"description": "write-only"})
    callback_aes_key = fields.Str(load_only=True, metadata={"description": "write-only"})
    agent_id = fields.Str(validate=validate.Length(min=1, max=64))
    app_key = fields.Str(validate=validate.Length(min=1, max=128))
    api_base = fields.Str(allow_none=True, validate=validate.Length(max=255),
                          metadata={"description": "another API root (e.g. the sandbox); null: the real host"})


class CheckOut(Schema):
    name = fields.Str()
    ok = fields.Bool()
    message = fields.Str()


class DoctorOut(Schema):
    ok = fields.Bool()
    checks = fields.List(fields.Nested(CheckOut))


class PageQuery(Strict):
    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))
    before_id = Id(metadata={"description": "the next page: the last id of the previous page"})


class EventQuery(PageQuery):
    status = fields.Str(validate=validate.OneOf(["pending", "processing", "done", "ignored", "dead"]))
    type = fields.Str(validate=validate.Length(max=64), metadata={"description": "event type prefix"})


class FollowupQuery(PageQuery):
    status = fields.Str(validate=validate.OneOf(["pending", "running", "done", "dead"]))


class EventOut(Schema):
    id = fields.Int()
    type = fields.Str(attribute="event_type")
    status = fields.Str()
    attempts = fields.Int()
    received_at = fields.DateTime()
    processed_at = fields.DateTime(allow_none=True)
    last_error = fields.Str(allow_none=True)


class FollowupOut(Schema):
    id = fields.Int()
    kind = fields.Str()
    status = fields.Str()
    attempts = fields.Int()
    created_at = fields.DateTime()
    last_error = fields.Str(allow_none=True)


class EventPage(Schema):
    items = fields.List(fields.Nested(EventOut))
    next_before_id = fields.Int(allow_none=True)


class FollowupPage(Schema):
    items = fields.List(fields.Nested(FollowupOut))
    next_before_id = fields.Int(allow_none=True)


class Started(Schema):
    id = fields.Int()
    status = fields.Str()


def _page(rows, limit):
    return {"items": rows, "next_before_id": rows[-1].id if len(rows) == limit else None}


@bp.route("/corp")
class CorpResource(MethodView):
    @bp.response(200, CorpOut)
    def get(self):
        """The token's corp

        Platform, ids, API root and the callback URL to paste into the host console.

        zh:本企业信息
        平台、ID、API 地址，以及要填入平台后台的回调地址。
        """
        return corps.describe(g.principal.corp)

    @bp.arguments(CorpPatch)
    @bp.response(200, CorpOut)
    def patch(self, body):
        """Change the corp

        Name, credentials (write-only) or API root; a new secret drops the cached token.

        zh:修改企业设置
        名称、凭据（只写）或 API 地址；更换密钥会清除缓存的令牌。
        """
        return corps.describe(corps.update_corp(g.principal.corp.corp_key, **body))


@bp.route("/doctor", methods=["GET"])
@bp.response(200, DoctorOut)
def doctor_checks():
    """Check the service and this corp

    Its host and credentials, callback URL, inbox, follow-ups.

    zh:自检
    服务与本企业：平台连通与凭据、回调地址、事件队列、后续任务。
    """
    checks = doctor.corp_checks(g.principal.corp)
    return {"ok": all(c.ok for c in checks), "checks": [c.as_dict() for c in checks]}


@bp.route("/events", methods=["GET"])
@bp.arguments(EventQuery, location="query", unknown=RAISE)
@bp.response(200, EventPage)
def list_events(query):
    """List received host events

    Newest first, with status, attempts and last error.

    zh:平台事件列表
    最新在前，含状态、尝试次数与最近错误。
    """
    rows = inbox.list_events(corp_id=g.principal.corp.id, status=query.get("status"), event_type=query.get("type"),
                             limit=query["limit"], before_id=query.get("before_id"))
    return _page(rows, query["limit"])


@bp.route("/events/<int:event_id>/replay", methods=["POST"])
@bp.response(202, Started)
def replay_event(event_id):
    """Replay an event

    Idempotent: it is pending again and the sweeper runs it within seconds.

    zh:重新处理事件
    幂等：事件回到待处理，几秒内由清扫任务执行。
    """
    try:
        row = inbox.get(event_id)
    except NotFound:
        row = None
    if row is None or row.corp_id != g.principal.corp.id:
        raise NotFound(f"no event {event_id}")
    inbox.replay([event_id])
    return {"id": event_id, "status": "pending"}


@bp.route("/followups", methods=["GET"])
@bp.arguments(FollowupQuery, location="query", unknown=RAISE)
@bp.response(200, FollowupPage)
def list_followups(query):
    """List follow-ups

    Work left after an event, newest first, with the last error.

    zh:后续任务列表
    事件之后的待办工作，最新在前，含最近错误。
    """
    rows = followups.list_followups(corp_id=g.principal.corp.id, status=query.get("status"), limit=query["limit"],
                                    before_id=query.get("before_id"))
    return _page(rows, query["limit"])


@bp.route("/followups/<int:followup_id>/retry", methods=["POST"])
@bp.response(202, Started)
def retry_followup(followup_id):
    """Retry a follow-up

    A dead one too, with fresh attempts; a done one is left alone (409).

    zh:重试后续任务
    失败的也可重试，尝试次数重新计算；已完成的返回 409。
    """
    from scrm.errors import Conflict
    from scrm.extensions import db
    from scrm.models import Followup

    row = db.session.get(Followup, followup_id)
    if row is None or row.corp_id != g.principal.corp.id:
        raise NotFound(f"no follow-up {followup_id}")
    if row.status == "done":
        raise Conflict(f"follow-up {followup_id} is done")
    followups.start(followups.retry([followup_id]))
    return {"id": followup_id, "status": "pending"}
