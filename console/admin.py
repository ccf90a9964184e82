"""The console's pages about the corp itself and its shared customers: the customer pool (公海: admins assign its
customers to an employee, managers read), the API tokens (admins: list, create with the secret shown once, revoke)
and the corp's description with the URLs to paste into the host's console (admins). Each view reads its input,
calls the service the API calls, renders."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from console.blueprint import bp, error_page
from scrm.errors import Conflict, Forbidden, NotFound, ValidationError
from scrm.extensions import db
from scrm.host import HostError
from scrm.i18n import stage_names
from scrm.models import POOL_REASONS, Employee
from scrm.models.api_token import ROLES
from scrm.services import access, corps, handover_desk
from scrm.services.pool_claims import ClaimRefused

log = logging.getLogger(__name__)

POOL_PAGE = 50


# ---------------------------------------------------------------- shared by the console's newer pages


def N_(text: str) -> str:
    """A text marked for the catalog, translated where it is shown."""
    return text


def admins_only(message: str):
    """A page for admins only (managers read the other pages; salespeople never get this far): 403 with `message`
    (a gettext-marked text, translated when the page is refused)."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if g.principal.role != "admin":
                return error_page(403, _("没有权限"), _(message))
            return view(*args, **kwargs)
        return wrapped
    return decorate


def when(value) -> str:
    """A service's moment (an ISO string ending in Z, or a naive UTC datetime) in the corp's time zone."""
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.removesuffix("Z"))
    local = value.replace(tzinfo=timezone.utc).astimezone(corps.corp_zone(g.principal.corp))
    return local.strftime("%Y-%m-%d %H:%M")


def active_employees(exclude: int | None = None) -> list[Employee]:
    """The corp's employees who may take customers or hold a token."""
    return [e for e in db.session.scalars(select(Employee).where(
        Employee.corp_id == g.principal.corp.id, Employee.status == "active").order_by(Employee.id)) if e.id != exclude]


def whole(raw: str | None, field: str) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 18:
        raise ValidationError(field, "must be an id")
    return int(raw)


# ---------------------------------------------------------------- the customer pool


def pool_reasons() -> dict[str, str]:
    return {"ended": _("关系已结束"), "departed": _("跟进人已离职"), "no_followup": _("长期未跟进"),
            "stage_lost": _("阶段为已流失")}


@bp.get("/pool")
def pool_list():
    reason = request.args.get("reason") if request.args.get("reason") in POOL_REASONS else None
    try:
        after = whole(request.args.get("after"), "after")
    except ValidationError:
        after = None
    page = handover_desk.pool_entries(g.principal, limit=POOL_PAGE, after=after, reason=reason)
    is_admin = g.principal.role == "admin"
    return render_template("console/pool.html", page=page, reason=reason, reasons=pool_reasons(),
                           stages=stage_names(), when=when, first=after is None,
                           employees=active_employees() if is_admin else [], nav="pool")


def _claim_problem(exc: Exception) -> str:
    if isinstance(exc, NotFound):
        return _("已不在公海中")
    if isinstance(exc, ClaimRefused):
        return {"daily_limit": _("已达今日领取上限"), "moving": _("正在交接中"),
                "taken": _("刚被其他人领取")}.get(exc.reason, _("无法分配"))
    if isinstance(exc, HostError):
        return _("平台暂时无法处理")
    return _("无法分配")


@bp.post("/pool/claim")
@admins_only(N_("经理可以查看公海，但只有管理员可以分配公海客户。"))
def pool_claim():
    back = url_for("console.pool_list", **({"reason": request.form["reason"]}
                                            if request.form.get("reason") in POOL_REASONS else {}))
    try:
        employee_id = whole(request.form.get("employee_id"), "employee_id")
        customer_ids = list(dict.fromkeys(whole(raw, "customer_ids") for raw in request.form.getlist("customer_ids")))
    except ValidationError:
        flash(_("请选择客户和领取人。"), "error")
        return redirect(back, code=303)
    if employee_id is None or not customer_ids:
        flash(_("请选择客户和领取人。"), "error")
        return redirect(back, code=303)
    done, refused = 0, {}
    for customer_id in customer_ids[:POOL_PAGE]:
        try:
            handover_desk.claim(g.principal, customer_id, employee_id)
            done += 1
        except ValidationError:
            flash(_("领取人必须是在职的企业成员。"), "error")
            return redirect(back, code=303)
        except (NotFound, Conflict, Forbidden, HostError) as exc:
            if isinstance(exc, HostError):
                log.warning("console: claiming customer %s, the host refused: %s", customer_id, exc)
            refused.setdefault(_claim_problem(exc), []).append(customer_id)
    if done:
        flash(_("已分配 %(n)s 位客户；客户仍在平台上有跟进人时会自动发起交接。", n=done))
    for why, ids in refused.items():
        flash(_("%(n)s 位客户未分配：%(why)s。", n=len(ids), why=why), "error")
    return redirect(back, code=303)


# ---------------------------------------------------------------- API tokens


def role_words() -> dict[str, str]:
    return {"admin": _("管理员"), "manager": _("部门负责人"), "sales": _("销售")}


TOKENS_ONLY = N_("只有管理员可以管理 API 令牌。")


def _tokens_page(created: dict | None = None, error: str | None = None, form: dict | None = None, status=200):
    return render_template("console/tokens.html", tokens=access.list_tokens(g.principal.corp), created=created,
                           error=error, form=form or {}, roles=ROLES, role_words=role_words(),
                           employees=active_employees(), when=when, nav="tokens"), status


@bp.get("/tokens")
@admins_only(TOKENS_ONLY)
def token_list():
    return _tokens_page()


@bp.post("/tokens")
@admins_only(TOKENS_ONLY)
def token_create():
    form = {"role": request.form.get("role", ""), "employee_id": request.form.get("employee_id", ""),
            "label": (request.form.get("label") or "").strip()}
    try:
        employee_id = whole(form["employee_id"], "employee")
        created = access.create_token_described(g.principal.corp, form["role"], employee_id=employee_id,
                                                label=form["label"] or None)
    except ValidationError as exc:
        labels = {"role": _("角色"), "employee": _("成员"), "label": _("用途")}
        problem = _("请检查「%(field)s」：%(message)s", field=labels.get(exc.field, _("输入")), message=exc.message)
        return _tokens_page(error=problem, form=form, status=422)
    return _tokens_page(created=created)


@bp.post("/tokens/<int:token_id>/revoke")
@admins_only(TOKENS_ONLY)
def token_revoke(token_id: int):
    access.revoke_token(g.principal.corp, token_id)  # another corp's token: NotFound, the 404 page
    flash(_("令牌 #%(id)s 已撤销，使用它的请求从现在起被拒绝。", id=token_id))
    return redirect(url_for("console.token_list"), code=303)


# ---------------------------------------------------------------- the corp


@bp.get("/corp")
@admins_only(N_("只有管理员可以查看企业配置。"))
def corp_page():
    corp = g.principal.corp
    base = current_app.config["BASE_URL"].rstrip("/")
    return render_template("console/corp.html", info=corps.describe(corp), domain=urlsplit(base).netloc,
                           sidebar_url=f"{base}/h5/sidebar?corp={corp.corp_key}",
                           app_url=f"{base}/h5/app?corp={corp.corp_key}", when=when, nav="corp")
