"""The public landing page of a channel code (`/h5/c/<code>`), opened by customers who scanned its QR code.

DingTalk has no contact ways: the page shows the employee the rules allocate and a form (name, mobile, consent)
that `services.landing.submit` turns into an external contact. WeCom channels have the host's own QR code:
the page shows it for the customer to long-press. Views parse input, call one service, and map domain errors to
pages; every response carries a strict Content-Security-Policy (no script, no external URL).
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter
from flask_wtf.csrf import generate_csrf, validate_csrf
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError as CSRFError

from scrm import page_headers
from scrm.errors import NotFound
from scrm.host import HostError
from scrm.models import Channel, Employee
from scrm.services import channel_qr, landing
from scrm.services.landing import LandingClosed

log = logging.getLogger(__name__)

bp = Blueprint("h5", __name__, url_prefix="/h5", template_folder="templates", static_folder="static")

EMPLOYEE_SALT = "scrm.h5.landing.employee"
EMPLOYEE_TOKEN_MAX_AGE = 30 * 60  # the employee shown on the page is kept for half an hour
DONE_KEY = "h5_done"  # in the (signed) session: what the thank-you page shows, so no name travels in a URL
# SCRM_LANDING_RATE_PER_ADDRESS (default 20 per 10 minutes): one phone retrying a typo, a few more behind a shared
# (CGNAT) address; SCRM_LANDING_RATE_PER_CODE (600 per minute): a livestream burst without a script flooding the host
CONSENT_VALUES = {"on", "1", "true", "yes"}


# ---------------------------------------------------------------- wiring (runs once per app)


@bp.record_once
def _setup(state) -> None:
    """Per app: the rate limiter of the form (its storage is the app's Redis)."""
    app: Flask = state.app
    limiter = Limiter(key_func=client_address, storage_uri=app.config.get("REDIS_URL") or "memory://",
                      strategy="sliding-window-counter", key_prefix="scrm-h5", in_memory_fallback_enabled=True,
                      headers_enabled=False)
    limiter.init_app(app)
    # Blueprint limits, POST only: the pages themselves, the API and the callbacks are not limited here.
    limiter.limit(lambda: current_app.config["LANDING_RATE_PER_ADDRESS"],
                  methods=["POST"], scope="address")(bp)
    limiter.limit(lambda: current_app.config["LANDING_RATE_PER_CODE"], methods=["POST"],
                  key_func=lambda: (request.view_args or {}).get("code") or "-", scope="channel")(bp)
    app.extensions["scrm.h5_limiter"] = limiter


def client_address() -> str:
    """The customer's address, as far as the configured reverse proxies vouch for it (`scrm.proxies`, applied to
    the whole app): a client cannot pick its own rate-limit key by writing X-Forwarded-For."""
    return request.remote_addr or "-"


bp.after_request(page_headers.secure)  # CSP, nosniff, same-origin referrer; HTML never cached (CSRF, names)


# ---------------------------------------------------------------- signed tokens


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def employee_token(channel: Channel, employee: Employee) -> str:
    return _serializer(EMPLOYEE_SALT).dumps({"c": channel.id, "e": employee.id})


def shown(token: str | None) -> tuple[int, int] | None:
    """The channel and employee ids the page showed, from its signed token; None (allocate again) if forged or
    expired."""
    if not token:
        return None
    try:
        data = _serializer(EMPLOYEE_SALT).loads(token, max_age=EMPLOYEE_TOKEN_MAX_AGE)
    except BadData:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), int) or not isinstance(data.get("e"), int):
        return None
    return data["c"], data["e"]


def _remember_done(channel: Channel, registration: landing.Registration) -> None:
    """The thank-you page's content: the name as typed and the employee promised, the same for a mobile known
    already as for a new one (nothing stored about the customer goes back to the visitor)."""
    session[DONE_KEY] = {"c": channel.id, "n": registration.name, "e": registration.employee.id}


# ---------------------------------------------------------------- pages


def _error(status: int, title: str, message: str) -> ResponseReturnValue:
    icon = "warn" if status >= 500 or status == 429 else "info"
    return render_template("h5/error.html", title=title, message=message, icon=icon), status


def _card(employee: Employee | None) -> dict | None:
    """What the page may show of an employee: name and position, never the mobile or the e-mail."""
    if employee is None:
        return None
    return {"name": employee.name, "position": employee.position or ""}


def _form(channel: Channel, employee: Employee | None, corp_name: str, *, values: dict | None = None,
          errors: dict | None = None, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "h5/landing.html", channel=channel, employee=_card(employee), values=values or {}, errors=errors or {},
        csrf_token=generate_csrf(), employee_token=employee_token(channel, employee) if employee else "",
        name_max=landing.NAME_MAX, corp_name=corp_name), status


@bp.get("/c/<code>")
def landing_page(code: str):
    """The channel's landing page: the QR code of a host contact way, or our own form (DingTalk)."""
    land = landing.open_landing(code)
    if land.channel.qr_url:
        return render_template("h5/qr.html", channel=land.channel, corp_name=land.corp.name if land.corp else "")
    if land.employee is None:
        raise LandingClosed(f"channel {land.channel.id} has nobody to receive customers now")
    return _form(land.channel, land.employee, land.corp.name if land.corp else "")


@bp.get("/c/<code>/qr.png")
def landing_qr(code: str):
    """The QR image customers scan (public: the code is printed on posters anyway)."""
    land = landing.open_landing(code)
    image = channel_qr.png(land.corp, land.channel)
    response = current_app.response_class(image, mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.post("/c/<code>")
def landing_submit(code: str):
    """The form: checked token, then `landing.submit`; the employee hears of a new customer by notification."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except CSRFError:
        return _error(400, "页面已过期", "页面已过期或来源无效，请返回后刷新页面再提交。")
    values = {"name": request.form.get("name", ""), "mobile": request.form.get("mobile", ""),
              "consent": request.form.get("consent", "").lower() in CONSENT_VALUES}
    done = landing.submit(code, name=values["name"], mobile=values["mobile"], consent=values["consent"],
                          shown=shown(request.form.get("t")))
    if done.error is not None:
        return _form(done.channel, done.employee, done.corp_name, values=values,
                     errors={done.error.field: done.error.message}, status=422)
    _remember_done(done.channel, done.registration)
    return redirect(url_for("h5.landing_done", code=code), code=303)


@bp.get("/c/<code>/done")
def landing_done(code: str):
    """Thank-you page of the form this browser sent: the name typed, the employee promised, the welcome text."""
    data = session.get(DONE_KEY)
    data = data if isinstance(data, dict) else {}
    page = landing.thanks(code, data.get("n"), data.get("e"), data.get("c"))
    if page is None:
        return _error(400, "链接已失效", "该页面链接已失效，请重新扫码。")
    return render_template("h5/done.html", channel=page.channel, employee=_card(page.employee),
                           customer_name=page.customer_name, welcome_lines=page.welcome_lines,
                           corp_name=page.corp_name)


# ---------------------------------------------------------------- domain errors as pages


@bp.errorhandler(NotFound)
def _not_found(exc):
    return _error(404, "页面不存在", "二维码无效或已删除，请确认后重新扫码。")


@bp.errorhandler(LandingClosed)
def _closed(exc):
    return _error(410, "活动已结束或暂停", "活动已结束或暂停，感谢您的关注。")


@bp.errorhandler(HostError)
def _host_error(exc: HostError):
    log.warning("landing page: the host refused: %s", exc)
    return _error(502, "系统繁忙，请稍后再试", "系统繁忙，请稍后再试。您的信息未被保存。")


@bp.errorhandler(429)
def _too_many(exc):
    return _error(429, "操作过于频繁", "提交过于频繁，请稍后再试。")


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 404:
        return _not_found(exc)
    return _error(exc.code or 500, "请求无法处理", "请求无法处理，请返回后重试。")
