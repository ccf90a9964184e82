"""H5 support (OAuth, JS-SDK tickets), app messages, and the pages a person would see (QR, scan, login)."""
from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlencode

from flask import Response, abort, jsonify, redirect, request, url_for
from markupsafe import escape
from sqlalchemy import select

from sandbox.core import Corp
from sandbox.wecom import actions
from sandbox.wecom.endpoints.base import Ctx, WeComError, api, bp, current_sandbox, issue_token, sandbox_db
from sandbox.wecom.models import (AppMessage, ContactWay, LEFT, OAUTH_CODE_TTL, OAuthCode, TICKET_TTL, User,
                                  issue_oauth_code, new_id)

# ---------------------------------------------------------------- H5: OAuth, JS-SDK, app messages


@api("auth/getuserinfo", "GET")
def auth_getuserinfo(ctx: Ctx) -> dict[str, Any]:
    """GET auth/getuserinfo?code= (doc 96442): codes are single-use and live 5 minutes."""
    code = ctx.need("code", 40029)
    row = ctx.s.get(OAuthCode, code)
    if row is None or row.corp_id != ctx.corp.corp_id or row.used or ctx.now - row.issued_at > OAUTH_CODE_TTL:
        raise WeComError(40029)
    row.used = True
    if row.userid:
        return {"userid": row.userid}
    return {"openid": row.openid or "", "external_userid": row.external_userid or ""}


@api("get_jsapi_ticket", "GET")
def get_jsapi_ticket(ctx: Ctx) -> dict[str, Any]:
    """GET get_jsapi_ticket (doc 96909): the corp ticket for wx.config."""
    ticket, expires_at = issue_token(ctx.s, ctx.corp, "jsapi", TICKET_TTL, ctx.now)
    return {"ticket": ticket, "expires_in": max(1, int(expires_at - ctx.now))}


@api("ticket/get", "GET")
def ticket_get(ctx: Ctx) -> dict[str, Any]:
    """GET ticket/get?type=agent_config (doc 96909): the app ticket for wx.agentConfig."""
    if ctx.opt("type") != "agent_config":
        raise WeComError(40058, "type must be agent_config")
    ticket, expires_at = issue_token(ctx.s, ctx.corp, "agent", TICKET_TTL, ctx.now)
    return {"ticket": ticket, "expires_in": max(1, int(expires_at - ctx.now))}


@api("message/send")
def message_send(ctx: Ctx) -> dict[str, Any]:
    """POST message/send (doc 90236): unknown userids come back in invaliduser."""
    if str(ctx.need("agentid", 41011, kind=(int, str))) != str(ctx.corp.agent_id):
        raise WeComError(40056)
    msgtype = ctx.need("msgtype", 40008)
    content = ctx.opt(msgtype, {}, kind=dict)
    if msgtype == "text" and not content.get("content"):
        raise WeComError(40058, "text.content required")
    touser = [u for u in str(ctx.opt("touser", "", kind=str)).split("|") if u]
    if not touser and not ctx.opt("toparty") and not ctx.opt("totag"):
        raise WeComError(40058, "touser, toparty or totag required")
    if touser == ["@all"]:
        valid = list(ctx.s.scalars(select(User.userid).where(User.corp_id == ctx.corp.corp_id, User.status != LEFT)))
        invalid: list[str] = []
    else:
        known = set(ctx.s.scalars(select(User.userid).where(User.corp_id == ctx.corp.corp_id, User.status != LEFT,
                                                            User.userid.in_(touser))))
        valid, invalid = [u for u in touser if u in known], [u for u in touser if u not in known]
    ctx.s.add(AppMessage(corp_id=ctx.corp.corp_id, agentid=str(ctx.corp.agent_id), touser=valid, msgtype=msgtype,
                         content=content, created_at=ctx.now))
    return {"invaliduser": "|".join(invalid), "invalidparty": "", "invalidtag": "",
            "msgid": new_id("", 24)}


# ---------------------------------------------------------------- pages: QR codes, scan, OAuth authorize


def _corp_of_way(config_id: str) -> tuple[ContactWay, Corp]:
    """The way and its corp; 404 for a deleted way or a temporary one past its expires_in."""
    db = sandbox_db()
    with db.session() as s:
        way = s.get(ContactWay, config_id)
        corp = s.scalar(select(Corp).where(Corp.corp_id == way.corp_id)) if way else None
    if way is None or corp is None or way.expired(db.clock.time()):
        abort(404)
    return way, corp


@bp.get("/qr/<config_id>.png")
def qr_png(config_id: str):
    """The QR image of a contact way; it encodes the sandbox page where a customer 'scans' it (404 once expired)."""
    import qrcode

    _corp_of_way(config_id)
    img = qrcode.make(url_for("sandbox_wecom.scan_page", config_id=config_id, _external=True))
    buf = io.BytesIO()
    img.save(buf)
    return Response(buf.getvalue(), mimetype="image/png")


@bp.route("/c/<config_id>", methods=["GET", "POST"])
def scan_page(config_id: str):
    """A customer 'scanning' the code: GET shows a button, POST plays one scan."""
    way, corp = _corp_of_way(config_id)
    if request.method == "POST":
        result = actions.play(current_sandbox(), corp, "scan_one", config_id=config_id,
                                name=request.form.get("name") or None)
        return jsonify(result)
    return Response(
        f"<!doctype html><meta charset=utf-8><title>沙箱 · 添加企业微信</title>"
        f"<p>{escape(corp.name)} · {escape(way.remark or way.state or '联系我')}</p>"
        f"<form method=post><input name=name placeholder=昵称><button>添加</button></form>",
        mimetype="text/html")


@bp.get("/connect/oauth2/authorize")
def oauth_authorize():
    """The OAuth page (doc 96441): picks a member (or ?userid=/?external_userid=) and redirects with a code."""
    return _sign_in_page("企业微信登录", guests=True)


@bp.get("/wwlogin/sso/login")
def web_login():
    """The web login page a member scans (doc 98151): login_type=CorpApp with the app's agentid, else an error
    page; picks a member (or ?userid=) and redirects with a code exchanged like an OAuth one."""
    if request.args.get("login_type") != "CorpApp":
        return Response("login_type invalid", status=400)
    return _sign_in_page("企业微信扫码登录", guests=False, agent=True)


def _sign_in_page(title: str, *, guests: bool, agent: bool = False):
    db = sandbox_db()
    corp_id, redirect_uri = request.args.get("appid", ""), request.args.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")):
        return Response("redirect_uri invalid", status=400)
    with db.session() as s:
        corp = s.scalar(select(Corp).where(Corp.corp_id == corp_id, Corp.platform == "wecom"))
        if corp is None:
            return Response("appid invalid", status=400)
        if agent and request.args.get("agentid") != str(corp.agent_id):
            return Response("agentid invalid", status=400)
        userid, ext = request.args.get("userid"), request.args.get("external_userid") if guests else None
        if userid and s.get(User, (corp_id, userid)) is None:
            return Response("userid invalid", status=400)
        if userid or ext or (guests and request.args.get("guest")):
            code = issue_oauth_code(s, corp_id, db.clock.time(), userid=userid, external_userid=ext)
            query = urlencode({"code": code, "state": request.args.get("state", "")})
            return redirect(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}")
        members = list(s.scalars(select(User).where(User.corp_id == corp_id, User.status == 1)
                                 .order_by(User.userid).limit(100)))
    base = request.script_root + request.full_path  # the sandbox may be mounted under a prefix (/sandbox)
    links = "".join(f"<li><a href='{escape(base)}&userid={escape(m.userid)}'>{escape(m.name)}</a>" for m in members)
    if guests:
        links += f"<li><a href='{escape(base)}&guest=1'>非企业成员</a>"
    return Response(f"<!doctype html><meta charset=utf-8><title>沙箱 · {title}</title><ul>{links}</ul>",
                    mimetype="text/html")
