"""Pages for employees inside their host app (the WeCom chat sidebar, the DingTalk micro-app): the sign-in they
start, and the guard every such page sits behind.

A page opened without a session starts the host's sign-in: WeCom redirects to its OAuth2 authorize URL
(`snsapi_base`, the app's `agentid`, a `state` bound to this browser's session), whose `code` comes back to
`/h5/login/wecom`; DingTalk pages ask `dd.requestAuthCode` for a code and post it to `/h5/login/dingtalk`. Either
way the session then lasts (`scrm.web_session`), so a page does not authorize on every open. Opened outside the
host app, a page says how to open it inside and shows its QR code. Who may not sign in (a customer, a member
outside the app's visible range, a departed employee) gets a page that says so.
"""
from __future__ import annotations

import functools
import logging
import re
from datetime import datetime

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_wtf.csrf import generate_csrf, validate_csrf
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError as CSRFError

from scrm import page_headers, web_session
from scrm.errors import Conflict, Forbidden, NotFound, ValidationError
from scrm.extensions import db
from scrm.host import Capability, HostError
from scrm.models import Corp
from scrm.services import channel_assets, media, web_identity
from scrm.services.corps import get_corp, host_for, local_now
from scrm.services.web_identity import Refused

log = logging.getLogger(__name__)

bp = Blueprint("h5_staff", __name__, url_prefix="/h5", template_folder="templates")
bp.after_request(page_headers.secure)

#: how each host's in-app browser names itself in its User-Agent
IN_HOST = {"wecom": re.compile(r"\bwxwork/", re.I), "dingtalk": re.compile(r"\bDingTalk\b", re.I)}
HOST_NAMES = {"wecom": lazy_gettext("企业微信"), "dingtalk": lazy_gettext("钉钉")}


# ---------------------------------------------------------------- the guard


def page_corp() -> Corp | None:
    """The corp a page is opened for: `?corp=<key>` (the URL pasted into the host's console), else the signed-in
    session's, else the only corp there is."""
    key = request.args.get("corp")
    if key:
        return get_corp(key[:64])
    who = web_session.identity()
    if who is not None and who.corp_id is not None:
        corp = db.session.get(Corp, who.corp_id)
        if corp is not None:
            return corp
    corps = list(db.session.scalars(select(Corp).order_by(Corp.id).limit(2)))
    return corps[0] if len(corps) == 1 else None


def signed_in(view):
    """A page for a signed-in employee of the page's corp; anyone else starts the host's sign-in."""
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        corp = page_corp()
        principal = web_session.principal()
        if principal is not None and (corp is None or principal.corp.id == corp.id):
            g.principal = principal
            return view(*args, **kwargs)
        if corp is None:
            return message(400, _("链接不完整"), _("页面链接缺少企业参数，请从应用主页重新打开。"))
        return start_sign_in(corp)
    return guarded


def in_host(corp: Corp) -> bool:
    return bool(IN_HOST[corp.platform].search(request.headers.get("User-Agent", "")))


def start_sign_in(corp: Corp):
    """WeCom: to the OAuth2 authorize URL. DingTalk: a page whose script asks for a free-login code. Outside the
    host app: how to open the page inside it (the sandbox lets a desktop browser go on)."""
    back = web_session.safe_next(request.full_path.rstrip("?"))
    if not in_host(corp) and not (current_app.config["SANDBOX"] and request.args.get("sandbox") == "1"):
        scan = url_for("h5_staff.scan_sign_in", corp=corp.corp_key, next=back) \
            if Capability.WEB_LOGIN in host_for(corp).capabilities and corp.platform == "dingtalk" else None
        return render_template("h5/outside.html", host=HOST_NAMES[corp.platform], corp=corp,
                               qr=url_for("h5_staff.page_qr", path=back), sandbox=current_app.config["SANDBOX"],
                               go_on=_with(back, "sandbox", "1"), scan=scan), 403
    state = web_session.start_oauth(corp.corp_key, back)
    if corp.platform == "dingtalk":
        return render_template("h5/signin_dingtalk.html", corp_id=corp.corp_id, client_id=corp.app_key or "",
                               state=state, csrf_token=generate_csrf())
    callback = current_app.config["BASE_URL"] + url_for("h5_staff.wecom_callback")
    return redirect(host_for(corp).oauth_url(callback, state), code=302)


def _with(path: str, key: str, value: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{key}={value}"


@bp.app_template_filter("local")
def local_time(value, fmt: str = "%Y-%m-%d") -> str:
    """A stored time (naive UTC, or its ISO text with a Z) on the corp's wall clock."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.rstrip("Z"))
        except ValueError:
            return ""
    principal = g.get("principal")
    return local_now(principal.corp, value).strftime(fmt) if principal else value.strftime(fmt)



# ---------------------------------------------------------------- sign-in


@bp.get("/login/wecom")
def wecom_callback():
    """Where WeCom's OAuth2 sends the browser back with `code` and our `state`."""
    return _back_from_host(request.args.get("code"))


@bp.get("/login/scan")
def scan_sign_in():
    """A DingTalk page opened in a PC browser: sign in by scanning DingTalk's login QR code, then back."""
    corp = get_corp((request.args.get("corp") or "")[:64])
    state = web_session.start_oauth(corp.corp_key, web_session.safe_next(request.args.get("next")))
    callback = current_app.config["BASE_URL"] + url_for("h5_staff.scan_callback")
    return redirect(host_for(corp).login_page_url(callback, state), code=302)


@bp.get("/login/scanned")
def scan_callback():
    """Where the host's scan-to-login sends the browser back (`authCode` on DingTalk, `code` on WeCom)."""
    return _back_from_host(request.args.get("authCode") or request.args.get("code"), scanned=True)


def _back_from_host(code: str | None, *, scanned: bool = False):
    """The sign-in this browser started (its state, once), finished with the host's code: back to the page it
    was started from, or a page saying why not."""
    started = web_session.finish_oauth(request.args.get("state"))
    if started is None:
        return message(400, _("登录已过期"), _("登录已过期或来自别的页面，请关闭后重新打开。"))
    corp_key, back = started
    refused = _finish(get_corp(corp_key), code, scanned=scanned)
    return message(*refused) if refused else redirect(back, code=302)


@bp.post("/login/dingtalk")
def dingtalk_code():
    """The free-login code a DingTalk page got from `dd.requestAuthCode`, with the state of its sign-in."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except CSRFError:
        return jsonify(code="csrf", message=_("页面已过期，请重新打开。")), 400
    started = web_session.finish_oauth(request.form.get("state"))
    if started is None:
        return jsonify(code="expired", message=_("登录已过期，请重新打开。")), 400
    corp_key, back = started
    refused = _finish(get_corp(corp_key), request.form.get("code"))
    if refused is not None:
        status, title, text = refused
        return jsonify(code="refused", title=title, message=text), status
    return jsonify(next=back)


def _finish(corp: Corp, code: str | None, *, scanned: bool = False) -> tuple[int, str, str] | None:
    """Sign the code's employee in; None when signed in, else the status, title and text of why not."""
    try:
        identity = web_identity.sign_in_with_code(corp, code or "", scanned=scanned)
    except Refused as refused:
        return (403, *refusal(corp, refused.reason))
    except HostError as exc:
        log.warning("sign-in at %s refused by the host: %s", corp.corp_key, exc)
        return 502, _("登录失败"), _("%(host)s 未能确认你的身份，请关闭后重新打开。", host=HOST_NAMES[corp.platform])
    web_session.sign_in(identity)
    return None


def refusal(corp: Corp, reason: str) -> tuple[str, str]:
    host = HOST_NAMES[corp.platform]
    texts = {
        "not_member": (_("仅限企业成员"), _("本页面仅供 %(corp)s 的成员使用。", corp=corp.name)),
        "not_visible": (_("没有使用权限"), _("你不在本应用的可见范围内，请联系管理员在%(host)s管理后台把你加入应用的可见范围。",
                                            host=host)),
        "departed": (_("账号已停用"), _("你已离职或被停用，无法再查看客户信息。")),
    }
    return texts.get(reason, (_("无法登录"), _("登录码无效或已过期，请关闭后重新打开。")))


@bp.get("/qr.png")
def page_qr():
    """The QR code of one of our pages (for the phone, when a page was opened outside the host app)."""
    path = web_session.safe_next(request.args.get("path"))
    image = channel_assets.qr_png(current_app.config["BASE_URL"] + path)
    response = current_app.response_class(image, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.get("/media/<token>")
def public_media(token: str):
    """An image the host's clients fetch by address (a mini-program card's picture): public, but only by its
    signed address (`media.public_url`)."""
    image = media.by_public_token(token[:256])
    response = current_app.response_class(image.content, mimetype=image.content_type)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


# ---------------------------------------------------------------- forms


def submitted(back: str, change) -> object:
    """Check the form's CSRF token, make the change, and go back to the page with what happened (a flash)."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except CSRFError:
        return message(400, _("页面已过期"), _("页面已过期，请返回后刷新页面再提交。"))
    try:
        change()
        flash(_("已保存"), "ok")
    except ValidationError as exc:
        flash(_("未保存：%(reason)s", reason=exc.message if hasattr(exc, "message") else str(exc)), "error")
    except Forbidden:
        flash(_("未保存：只能修改自己跟进的客户"), "error")
    except Conflict:
        flash(_("未保存：客户资料刚被他人修改，请刷新后重试"), "error")
    except HostError:
        flash(_("未保存：%(host)s暂时无法完成，请稍后重试", host=HOST_NAMES[g.principal.corp.platform]), "error")
    return redirect(back, code=303)


# ---------------------------------------------------------------- pages that say why not


def message(status: int, title: str, text: str):
    icon = "warn" if status >= 500 else "info"
    return render_template("h5/error.html", title=title, message=text, icon=icon), status


@bp.errorhandler(NotFound)
def _not_found(exc):
    return message(404, _("找不到"), _("没有找到该客户或群聊，或你没有查看权限。"))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 404:
        return _not_found(exc)
    return message(exc.code or 500, _("请求无法处理"), _("请求无法处理，请返回后重试。"))
