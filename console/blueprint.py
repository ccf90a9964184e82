"""The console's blueprint and what every request goes through: the signed-in principal (or the sign-in page), the
role (admins everything, managers the numbers read-only, salespeople a page that sends them to the sidebar), the
CSRF token of every POST, the security headers, and domain errors as pages."""
from __future__ import annotations

import logging
from functools import wraps

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf, validate_csrf
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError as CSRFError

from scrm import page_headers, web_session
from scrm.errors import NotFound
from scrm.host import HostError
from scrm.i18n import LANGUAGES
from scrm.services import web_identity

log = logging.getLogger(__name__)

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static")
bp.after_request(page_headers.secure)  # CSP (no inline script or style), nosniff, HTML never cached

#: pages open without a session
PUBLIC = frozenset({"console.login", "console.login_submit", "console.scan_login", "console.scan_back",
                    "console.logout", "console.static"})
#: pages a local account reaches before it has chosen a corp
CHOOSING = frozenset({"console.corps", "console.switch_corp"})
VIEWERS = ("admin", "manager")  # managers see the numbers, read-only
LIMITER = "scrm.console_login_limiter"


# ---------------------------------------------------------------- wiring (runs once per app)


class FailedLogins:
    """Failed sign-ins per client address (SCRM_CONSOLE_LOGIN_FAILURES, default 10 per 10 minutes): beyond, the
    form is refused without a password being checked. In the app's Redis when there is one, so every web process
    counts together; in memory in the embedded default."""

    def __init__(self, storage_uri: str):
        self.storage = storage_from_string(storage_uri)
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)

    def _limit(self):
        return parse(current_app.config["CONSOLE_LOGIN_FAILURES"])

    def allowed(self, address: str) -> bool:
        return self.strategy.test(self._limit(), "scrm-console-login", address)

    def failed(self, address: str) -> None:
        self.strategy.hit(self._limit(), "scrm-console-login", address)

    def reset(self) -> None:
        self.storage.reset()


@bp.record_once
def _setup(state) -> None:
    app: Flask = state.app
    app.extensions[LIMITER] = FailedLogins(app.config.get("REDIS_URL") or "memory://")


def failed_logins() -> FailedLogins:
    return current_app.extensions[LIMITER]


# ---------------------------------------------------------------- every request


def here() -> str:
    """This page as a `next` to come back to after signing in."""
    return request.full_path.rstrip("?") if request.query_string else request.path


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    g.principal = None
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except CSRFError:
            return error_page(400, _("页面已过期"), _("页面已过期或来源无效，请刷新页面后重试。"))
    if request.endpoint in PUBLIC:
        return None
    who = web_session.principal()
    identity = web_session.identity()
    if who is None:
        if identity is not None and identity.user_id is not None and identity.corp_id is None \
                and web_identity.account(identity) is not None:
            if request.endpoint in CHOOSING:
                return None
            return redirect(url_for("console.corps", next=here()))
        return redirect(url_for("console.login", next=here()))
    g.principal = who
    if who.role not in VIEWERS:
        return error_page(403, _("控制台仅供管理员使用"),
                          _("销售人员请在企业微信或钉钉中打开客户聊天，在聊天侧边栏中查看客户资料、标签和跟进记录。"),
                          sidebar=True)
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "admin_only", False) and who.role != "admin":
        return error_page(403, _("没有权限"), _("经理可以查看数据，但只有管理员可以修改渠道活码。"))
    return None


def admin_only(view):
    """A page that changes something: admins only (managers read the numbers)."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        return view(*args, **kwargs)

    wrapped.admin_only = True
    return wrapped


@bp.app_template_global("console_lang_url")
def lang_url(lang: str) -> str:
    """This page in another language (`?lang=…`, which the session then keeps)."""
    args = {**request.args.to_dict(), "lang": lang if lang in LANGUAGES else "zh"}
    return url_for(request.endpoint or "console.home", **(request.view_args or {}), **args)


@bp.context_processor
def _page() -> dict:
    identity = web_session.identity()
    principal = g.get("principal")
    if principal is not None and principal.role not in VIEWERS:
        principal = None  # a salesperson's 403 page offers no console navigation
    return {"csrf_token": generate_csrf, "account": web_identity.account(identity) if identity else None,
            "principal": principal, "is_admin": bool(principal and principal.role == "admin")}


def error_page(status: int, title: str, message: str, *, sidebar: bool = False) -> ResponseReturnValue:
    return render_template("console/error.html", title=title, message=message, status=status,
                           sidebar=sidebar), status


# ---------------------------------------------------------------- domain errors as pages


@bp.errorhandler(NotFound)
def _not_found(exc):
    return error_page(404, _("页面不存在"), _("该页面不存在，或不属于当前企业。"))


@bp.errorhandler(HostError)
def _host_error(exc: HostError):
    log.warning("console: the host refused: %s", exc)
    return error_page(502, _("平台暂时无法处理"), _("企业微信或钉钉暂时无法处理请求，请稍后重试。"))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 404:
        return _not_found(exc)
    return error_page(exc.code or 500, _("请求无法处理"), _("请求无法处理，请返回后重试。"))
