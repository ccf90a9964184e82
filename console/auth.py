"""Signing in to the console with a local account, choosing the corp to act in, signing out.

A wrong name and a wrong password get the same answer, and failed attempts from one address are limited
(`FailedLogins`); a local account without a corp of its own, when there are several corps, picks one first.
"""
from __future__ import annotations

from flask import redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from console.blueprint import bp, failed_logins
from scrm import web_session
from scrm.i18n import CHOICE
from scrm.services import corps, web_identity
from scrm.services.web_identity import Refused

HOME = "/console"


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
    return render_template("console/login.html", error=error, username=username, next=_next()), status


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
