"""Signing in to the console with a local account or by scanning the host's login QR code (WeCom's web login,
DingTalk's QR login), choosing the corp to act in, signing out.

A wrong name and a wrong password get the same answer, and failed attempts from one address are limited
(`FailedLogins`); a local account without a corp of its own, when there are several corps, picks one first.
"""
from __future__ import annotations

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import select

from console.blueprint import bp, failed_logins
from scrm import web_session
from scrm.extensions import db
from scrm.host import Capability, HostError
from scrm.i18n import CHOICE
from scrm.models import Corp
from scrm.services import corps, web_identity
from scrm.services.corps import host_for
from scrm.services.web_identity import Refused

HOME = "/console"
HOST_NAMES = {"wecom": lazy_gettext("企业微信"), "dingtalk": lazy_gettext("钉钉")}
REFUSALS = {
    "not_member": lazy_gettext("只有企业成员可以登录。"),
    "not_visible": lazy_gettext("你不在本应用的可见范围内，请联系管理员。"),
    "departed": lazy_gettext("你已离职或被停用，无法登录。"),
}


def _next() -> str:
    path = web_session.safe_next(request.values.get("next"), default=HOME)
    return path if path == HOME or path.startswith(HOME + "/") or path.startswith(HOME + "?") else HOME


def _sign_in(identity) -> None:
    """A fresh session (nothing of the one before survives) that keeps the language chosen on the sign-in page."""
    lang = session.get(CHOICE)
    web_session.sign_in(identity)
    if lang:
        session[CHOICE] = lang


def _form(error: str | None = None, username: str = "", status: int = 200):
    return render_template("console/login.html", error=error, username=username, next=_next(),
                           scan=_scan_corp(), host_names=HOST_NAMES), status


def _scan_corp() -> Corp | None:
    """The corp whose scan-to-login the page offers: `?corp=<key>` (the link a corp's people bookmark), else the
    only corp there is. The page never lists a deployment's corps to whoever opens it."""
    key = request.values.get("corp")
    if key:
        return db.session.scalar(select(Corp).where(Corp.corp_key == key[:64]))
    only = list(db.session.scalars(select(Corp).order_by(Corp.id).limit(2)))
    return only[0] if len(only) == 1 else None


@bp.get("/login/scan/<corp_key>")
def scan_login(corp_key: str):
    """To the host's scan-to-login page (WeCom's web login, DingTalk's QR login), with a state bound to this
    browser's session."""
    corp = corps.get_corp(corp_key[:64])
    host = host_for(corp)
    if Capability.WEB_LOGIN not in host.capabilities:
        return _form(_("该企业不支持扫码登录。"), status=404)
    state = web_session.start_oauth(corp.corp_key, _next())
    return redirect(host.login_page_url(current_app.config["BASE_URL"] + url_for("console.scan_back"), state))


@bp.get("/login/scanned")
def scan_back():
    """Where the host sends the browser back: WeCom with `code`, DingTalk with `authCode`, both with our state."""
    started = web_session.finish_oauth(request.args.get("state"))
    if started is None:
        return _form(_("扫码登录已过期，请重新扫码。"), status=400)
    corp_key, back = started
    corp = corps.get_corp(corp_key)
    try:
        identity = web_identity.sign_in_with_code(corp, request.args.get("code") or request.args.get("authCode") or "",
                                                  scanned=True)
    except Refused as refused:
        return _form(REFUSALS.get(refused.reason, _("无法登录。")), status=403)
    except HostError:
        return _form(_("%(host)s 未能确认你的身份，请重新扫码。", host=HOST_NAMES[corp.platform]), status=502)
    _sign_in(identity)
    return redirect(back if back.startswith(HOME) else HOME, code=303)


@bp.get("/login")
def login():
    if web_session.principal() is not None:
        return redirect(_next())
    return _form()


@bp.post("/login")
def login_submit():
    address = request.remote_addr or "-"
    username = request.form.get("username", "")[:web_identity.USERNAME_MAX]
    limiter = failed_logins()
    if not limiter.allowed(address):
        return _form(_("尝试次数过多，请稍后再试。"), username, 429)
    try:
        identity = web_identity.sign_in_local(username, request.form.get("password", ""))
    except Refused:
        limiter.failed(address)
        return _form(_("用户名或密码错误。"), username, 401)
    _sign_in(identity)
    if identity.corp_id is None:
        return redirect(url_for("console.corps", next=_next()), code=303)
    return redirect(_next(), code=303)


@bp.get("/corps", endpoint="corps")
def corps_page():
    identity = web_session.identity()
    account = web_identity.account(identity)
    if not account or not account.get("any_corp"):
        return redirect(url_for("console.home"))
    return render_template("console/corps.html", corps=corps.list_corps(), current=identity.corp_id, next=_next())


@bp.post("/corps")
def switch_corp():
    identity = web_session.identity()
    try:
        chosen = web_identity.switch_corp(identity, int(request.form.get("corp_id", "")))
    except (Refused, ValueError, TypeError):
        return redirect(url_for("console.corps", next=_next()), code=303)
    _sign_in(chosen)
    return redirect(_next(), code=303)


@bp.post("/logout")
def logout():
    lang = session.get(CHOICE)
    web_session.sign_out()
    if lang:
        session[CHOICE] = lang
    return redirect(url_for("console.login"), code=303)
