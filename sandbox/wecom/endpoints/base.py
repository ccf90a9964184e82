"""Request plumbing of the WeCom sandbox: errcodes, token check, budgets, cursors, shared lookups and shapes."""
from __future__ import annotations

import base64
import json
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, Response, abort, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from sandbox.core import Corp, SandboxDB
from sandbox.state import Sandbox
from sandbox.wecom.actions import Run, transfers_settled
from sandbox.wecom.models import (CUSTOMER_LIMIT, Customer, Follow, LEFT, Tag, TagGroup, Token, User,
                                  settle_transfers)

# ---------------------------------------------------------------- errors and plumbing

EDIT_APIS = {"externalcontact/remark", "externalcontact/mark_tag"}  # at most 5 in flight per corp (45033)

ERRMSG = {
    -1: "system busy", 40001: "invalid credential", 40003: "invalid userid", 40004: "invalid media file type",
    40005: "invalid type", 40006: "invalid file size", 40007: "invalid media_id", 40008: "invalid message type",
    40013: "invalid corpid", 40014: "invalid access_token", 40029: "invalid code", 40056: "invalid agentid",
    40058: "invalid parameter", 40068: "invalid tagid", 40071: "UserTag Name Already Exist",
    40072: "invalid tag name length", 40096: "invalid external userid", 40097: "user not resigned",
    40100: "user's external contacts in transfer", 40128: "customer transferred too often",
    40129: "customer already in transfer",
    40130: "handover equals takeover", 40131: "handover is not a follower", 41001: "access_token missing",
    41002: "corpid missing", 41004: "corpsecret missing", 41006: "media_id missing", 41009: "missing userid",
    41011: "missing agentid", 41017: "missing tagid", 41035: "missing external userid",
    41037: "missing contact way type", 41038: "missing contact way scene", 41039: "invalid contact way type",
    41040: "invalid contact way scene", 41043: "missing config_id", 41044: "invalid config_id",
    41046: "missing msgid", 41047: "invalid msgid", 41048: "no customer to send", 41049: "missing welcome_code",
    41041: "more than 100 users on the contact way", 41050: "invalid or expired welcome_code",
    41051: "externaluser has started chatting", 41054: "user not activated",
    41064: "too many attachments", 41065: "invalid attachment type", 42001: "access_token expired",
    43001: "require GET request", 43002: "require POST request", 44001: "empty media data",
    45009: "api freq out of limit", 45033: "api concurrent out of limit", 47001: "data format error",
    60111: "userid not found", 60123: "invalid party id", 81017: "too many members: use owner_filter",
    84061: "not external contact",
    90500: "group owner not resigned", 90501: "chat is not external group chat", 90502: "group owner resigned",
    90504: "group owner unchanged", 90508: "group chat already transferred",
}


class WeComError(Exception):
    def __init__(self, errcode: int, detail: str = ""):
        self.errcode = errcode
        msg = ERRMSG.get(errcode, "error")
        self.errmsg = (f"{msg}: {detail}" if detail else msg) + \
            f", hint: [sandbox], more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"
        super().__init__(self.errmsg)


@dataclass
class Ctx:
    db: SandboxDB
    s: Session
    corp: Corp
    now: float
    args: dict[str, str]
    body: dict[str, Any]
    files: dict[str, FileStorage] = field(default_factory=dict)  # multipart uploads (media/upload)
    after: list[Callable[[], None]] = field(default_factory=list)  # run once the request's transaction committed

    def need(self, key: str, errcode: int = 40058, *, kind: type | tuple = str) -> Any:
        value = self.body.get(key, self.args.get(key))
        if value in (None, "", []):
            raise WeComError(errcode, f"{key} required")
        if not isinstance(value, kind):
            raise WeComError(40058, f"{key} has the wrong type")
        return value

    def opt(self, key: str, default: Any = None, *, kind: type | tuple = object) -> Any:
        value = self.body.get(key, self.args.get(key, default))
        if value is None:
            return default
        if not isinstance(value, kind):
            raise WeComError(40058, f"{key} has the wrong type")
        return value


Handler = Callable[[Ctx], dict[str, Any]]
API: dict[str, tuple[str, Handler]] = {}


def api(path: str, method: str = "POST") -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        API[path] = (method, fn)
        return fn
    return register


bp = Blueprint("sandbox_wecom", __name__)


def current_sandbox() -> Sandbox:
    """The sandbox whose app serves this request."""
    return current_app.extensions["sandbox"]


def sandbox_db() -> SandboxDB:
    return current_sandbox().db


def _reply(errcode: int = 0, errmsg: str = "ok", **data: Any) -> Response:
    return jsonify({"errcode": errcode, "errmsg": errmsg, **data})


@bp.route("/cgi-bin/<path:name>", methods=["GET", "POST"])
def dispatch(name: str):
    if name == "gettoken":
        return gettoken()
    entry = API.get(name)
    if entry is None:
        abort(404)
    method, handler = entry
    try:
        if request.method != method:
            raise WeComError(43001 if method == "GET" else 43002)
        body: dict[str, Any] = {}
        if method == "POST" and request.mimetype != "multipart/form-data":
            body = json.loads(request.get_data() or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        sbx = current_sandbox()
        db = sbx.db
        after: list[Callable[[], None]] = []
        with db.session() as s:  # one session for the token check and the API itself
            corp = _authenticate(sbx, s, request.args.get("access_token"))
            if not sbx.gate.hit(corp.corp_id, name, corp.per_minute(name), db.clock.time()):
                raise WeComError(45009)
            slow = (corp.limit("latency", None) or {}).get(name)
            if slow:  # a slow host answer, configured per API: timeouts and workers dying mid-call
                time.sleep(float(slow))
            if name in EDIT_APIS:
                with sbx.gate.slot(corp.corp_id, "edit", int(corp.limit("edit_concurrency", 5))) as granted:
                    if not granted:
                        raise WeComError(45033)
                    # service time, so that real parallel callers overlap the way they do on the host
                    time.sleep(float(corp.limit("edit_service_time", 0.05)))
                    out = _run(db, s, corp, handler, body, after)
            else:
                out = _run(db, s, corp, handler, body, after)
        for then in after:  # committed: the callbacks of what changed can go out
            then()
        return _reply(**out)
    except WeComError as exc:
        return _reply(exc.errcode, exc.errmsg)
    except ValueError:
        return _reply(47001, ERRMSG[47001])


def _run(db: SandboxDB, s: Session, corp: Corp, handler: Handler, body: dict[str, Any],
         after: list[Callable[[], None]]) -> dict[str, Any]:
    ctx = Ctx(db, s, corp, db.clock.time(), request.args.to_dict(), body, request.files.to_dict(), after)
    return handler(ctx)


def settle(ctx: Ctx) -> None:
    """Complete the takeovers that are due; their callbacks go out after this request's commit."""
    settled = settle_transfers(ctx.s, ctx.corp.corp_id, ctx.now,
                               int(ctx.corp.limit("customer_limit", CUSTOMER_LIMIT)))
    if settled:
        sbx, corp = current_sandbox(), ctx.corp
        ctx.after.append(lambda: transfers_settled(Run(sbx, corp, random.Random()), settled))


def _authenticate(sbx: Sandbox, s: Session, token: str | None) -> Corp:
    """The corp of a live access token; the sandbox's token cache spares the reads while nothing changed."""
    if not token:
        raise WeComError(41001)
    db = sbx.db
    generation = db.generation.get()
    hit = sbx.wecom_tokens.get(token)
    if hit is None or hit[0] != generation:
        row = s.get(Token, token)
        if row is None or row.kind != "access":
            raise WeComError(40014)
        corp = s.scalar(select(Corp).where(Corp.corp_id == row.corp_id))
        if corp is None:
            raise WeComError(40014)
        s.expunge(corp)
        hit = (generation, corp, row.expires_at)
        sbx.wecom_tokens.put(token, hit)
    if hit[2] <= db.clock.time():
        raise WeComError(42001)
    return hit[1]


def gettoken():
    """GET gettoken?corpid&corpsecret (doc 91039): the same token until it expires, then a new one."""
    sbx = current_sandbox()
    db = sbx.db
    corpid, secret = request.args.get("corpid"), request.args.get("corpsecret")
    try:
        if not corpid:
            raise WeComError(41002)
        if not secret:
            raise WeComError(41004)
        with db.session() as s:
            corp = s.scalar(select(Corp).where(Corp.corp_id == corpid, Corp.platform == "wecom"))
            if corp is None:
                raise WeComError(40013)
            if not secrets.compare_digest(secret.encode(), corp.secret.encode()):
                raise WeComError(40001)
            now = db.clock.time()
            if not sbx.gate.hit(corp.corp_id, "gettoken", corp.per_minute("gettoken"), now):
                raise WeComError(45009)
            token, expires_at = issue_token(s, corp, "access", corp.token_ttl, now)
        return _reply(access_token=token, expires_in=max(1, int(expires_at - now)))
    except WeComError as exc:
        return _reply(exc.errcode, exc.errmsg)


def issue_token(s: Session, corp: Corp, kind: str, ttl: int, now: float) -> tuple[str, float]:
    """Return the live token of this kind, or mint one valid for `ttl` seconds of sandbox time."""
    live = s.scalar(select(Token).where(Token.corp_id == corp.corp_id, Token.kind == kind, Token.expires_at > now)
                    .order_by(Token.expires_at.desc()).limit(1))
    if live is not None:
        return live.token, live.expires_at
    token = secrets.token_urlsafe(48 if kind == "access" else 32)
    s.add(Token(token=token, corp_id=corp.corp_id, kind=kind, expires_at=now + ttl))
    return token, now + ttl


# ---------------------------------------------------------------- cursors


def cursor_out(value: int | str | None) -> str:
    if value is None:
        return ""
    return base64.urlsafe_b64encode(f"sbx:{value}".encode()).decode().rstrip("=")


def cursor_in(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise WeComError(40058, "invalid cursor") from None
    if not raw.startswith("sbx:"):
        raise WeComError(40058, "invalid cursor")
    return raw[4:]


def int_cursor(cursor: str | None) -> int:
    raw = cursor_in(cursor)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        raise WeComError(40058, "invalid cursor") from None


def page_limit(ctx: Ctx, key: str, default: int | None, maximum: int) -> int:
    """A page size: missing or 0 means the default (required when there is none), else 1..maximum."""
    value = ctx.opt(key, kind=(int, str))
    try:
        value = int(value) if value not in (None, "") else 0
    except ValueError:
        raise WeComError(40058, f"{key} must be a number") from None
    if value == 0 and default is not None:
        value = default
    if not 1 <= value <= maximum:
        raise WeComError(40058, f"{key} must be within 1..{maximum}")
    return value


# ---------------------------------------------------------------- lookups and shapes


def user(ctx: Ctx, userid: Any, *, active: bool = True, errcode: int = 40003) -> User:
    if not userid or not isinstance(userid, str):
        raise WeComError(41009)
    row = ctx.s.get(User, (ctx.corp.corp_id, userid))
    if row is None or (active and row.status == LEFT):
        raise WeComError(errcode, userid)
    return row


def customer(ctx: Ctx, external_userid: Any) -> Customer:
    if not external_userid or not isinstance(external_userid, str):
        raise WeComError(41035)
    row = ctx.s.get(Customer, external_userid)
    if row is None or row.corp_id != ctx.corp.corp_id:
        raise WeComError(40096, external_userid)
    return row


def follow(ctx: Ctx, userid: str, external_userid: str) -> Follow:
    row = ctx.s.scalar(select(Follow).where(Follow.corp_id == ctx.corp.corp_id, Follow.userid == userid,
                                            Follow.external_userid == external_userid))
    if row is None:
        raise WeComError(84061)
    return row


def user_json(u: User) -> dict[str, Any]:
    return {"userid": u.userid, "name": u.name, "department": u.department, "main_department": u.main_department,
            "position": u.position, "mobile": u.mobile, "gender": str(u.gender), "email": u.email,
            "avatar": u.avatar, "alias": u.alias, "status": u.status, "order": [0] * len(u.department)}


def customer_json(c: Customer) -> dict[str, Any]:
    out = {"external_userid": c.external_userid, "name": c.name, "type": c.type, "gender": c.gender,
           "avatar": c.avatar}
    if c.unionid:
        out["unionid"] = c.unionid
    if c.type == 2:
        out.update(corp_name=c.corp_name, corp_full_name=c.corp_full_name, position=c.position)
    return out


def tags_of(ctx: Ctx, follows: list[Follow]) -> dict[str, tuple[Tag, TagGroup]]:
    ids = {t for f in follows for t in (f.tag_ids or [])}
    if not ids:
        return {}
    rows = ctx.s.execute(select(Tag, TagGroup).join(TagGroup, Tag.group_id == TagGroup.group_id)
                         .where(Tag.tag_id.in_(ids)))
    return {tag.tag_id: (tag, group) for tag, group in rows}


def follow_json(f: Follow, tags: dict[str, tuple[Tag, TagGroup]]) -> dict[str, Any]:
    return {"userid": f.userid, "remark": f.remark, "description": f.description, "createtime": f.createtime,
            "tags": [{"group_name": tags[t][1].name, "tag_name": tags[t][0].name, "tag_id": t, "type": 1}
                     for t in f.tag_ids or [] if t in tags],
            "remark_corp_name": f.remark_company, "remark_mobiles": f.remark_mobiles or [],
            "oper_userid": f.oper_userid or f.userid, "add_way": f.add_way, "state": f.state}


def follow_info(f: Follow, tags: dict[str, tuple[Tag, TagGroup]]) -> dict[str, Any]:
    info = follow_json(f, tags)
    info["tag_id"] = [t["tag_id"] for t in info.pop("tags")]
    return info
