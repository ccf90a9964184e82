"""The DingTalk micro-app (微应用): `/h5/app`, the homepage DingTalk's workbench opens (`?corp=<corp_key>`), signed
in with DingTalk's free-login code like every employees' page (`h5.staff.signed_in`).

Four pages with a tab bar: my customers (name or remark, a tag, a stage, newest first, a page at a time), the
customer's page (the sidebar's, by our customer id, its forms posting to the same services), the customer pool
with a claim button, and the handovers I give or take. Quick replies are left out: DingTalk gives a workbench page
no chat to send them into. Every change is a form POSTed with its CSRF token, answered with a redirect back to the
page and a flash of what happened; the pages need no script of their own."""
from __future__ import annotations

from flask import (
    flash,
    g,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms.validators import ValidationError as CSRFError

from h5.staff import HOST_NAMES, bp, message, signed_in, submitted
from scrm.errors import Forbidden, NotFound, ValidationError
from scrm.host import HostError
from scrm.i18n import stage_names
from scrm.services import customer_desk, handover_desk, microapp, sidebar
from scrm.services.pool_claims import ClaimRefused

ID_MAX = 2**63 - 1


def _id(value) -> int | None:
    """A positive id from a query or form value, else None."""
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value) or None
    return None


def _customer_id(customer_id: int) -> int:
    if customer_id > ID_MAX:
        raise NotFound(f"no customer {customer_id}")
    return customer_id


def _page(template: str, tab: str, **values):
    return render_template(template, corp=g.principal.corp, tab=tab, csrf_token=generate_csrf(),
                           flashes=get_flashed_messages(with_categories=True), stage_names=stage_names(), **values)


# ---------------------------------------------------------------- my customers


@bp.get("/app")
@signed_in
def app_home():
    """My customers: search, a tag, a stage; "more" goes on after the last one shown."""
    q = request.args.get("q", "").strip()[:64]
    tag, stage = _id(request.args.get("tag")), request.args.get("stage", "")[:32]
    found = microapp.my_customers(g.principal, q=q, tag=tag, stage=stage, after=_id(request.args.get("after")))
    chosen = {"q": q, "tag": tag, "stage": stage if stage in found["stages"] else ""}
    kept = {k: v for k, v in chosen.items() if v}
    more = url_for("h5_staff.app_home", after=found["next"], **kept) if found["next"] else None
    first = url_for("h5_staff.app_home", **kept) if request.args.get("after") else None
    return _page("h5/app_customers.html", "customers", found=found, chosen=chosen, more=more, first=first,
                 filtered=bool(kept))


# ---------------------------------------------------------------- the customer's page


@bp.get("/app/c/<int:customer_id>")
@signed_in
def app_customer(customer_id: int):
    card = sidebar.customer_page_by_id(g.principal, _customer_id(customer_id))
    return _page("h5/app_customer.html", "customers", c=card)


def _back(customer_id: int, anchor: str = "") -> str:
    return url_for("h5_staff.app_customer", customer_id=customer_id) + anchor


def _mine(customer_id: int) -> int:
    """The signed-in employee's relationship with the customer (404 for an invisible customer, 403 without one)."""
    found = sidebar.find_by_id(g.principal, _customer_id(customer_id))
    if found.relationship_id is None:
        raise Forbidden("you do not follow this customer")
    return found.relationship_id


@bp.post("/app/c/<int:customer_id>/tags")
@signed_in
def app_save_tags(customer_id: int):
    def change():
        wanted = [int(v) for v in request.form.getlist("tag") if v.isdigit() and len(v) < 19]
        customer_desk.set_tags(g.principal, customer_id, _mine(customer_id), wanted)
    return submitted(_back(customer_id, "#tags"), change)


@bp.post("/app/c/<int:customer_id>/remark")
@signed_in
def app_save_remark(customer_id: int):
    def change():
        customer_desk.edit_relationship(g.principal, customer_id, _mine(customer_id),
                                        remark=request.form.get("remark", ""),
                                        description=request.form.get("description", ""))
    return submitted(_back(customer_id, "#remark"), change)


@bp.post("/app/c/<int:customer_id>/stage")
@signed_in
def app_save_stage(customer_id: int):
    def change():
        customer_desk.set_stage(g.principal, _customer_id(customer_id), request.form.get("stage", ""))
    return submitted(_back(customer_id, "#stage"), change)


@bp.post("/app/c/<int:customer_id>/notes")
@signed_in
def app_add_note(customer_id: int):
    def change():
        customer_desk.add_note(g.principal, _customer_id(customer_id), request.form.get("body", ""))
    return submitted(_back(customer_id, "#notes"), change)


# ---------------------------------------------------------------- the pool


@bp.get("/app/pool")
@signed_in
def app_pool():
    found = microapp.pool_page(g.principal, after=_id(request.args.get("after")))
    more = url_for("h5_staff.app_pool", after=found["next"]) if found["next"] else None
    first = url_for("h5_staff.app_pool") if request.args.get("after") else None
    return _page("h5/app_pool.html", "pool", found=found, more=more, first=first)


@bp.post("/app/pool/<int:customer_id>/claim")
@signed_in
def app_claim(customer_id: int):
    """Claim a customer from the pool: to their page when it worked, back to the pool saying why when not."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except CSRFError:
        return message(400, _("页面已过期"), _("页面已过期，请返回后刷新页面再提交。"))
    back = url_for("h5_staff.app_pool")
    try:
        claimed = handover_desk.claim(g.principal, _customer_id(customer_id), None)
    except ClaimRefused as refused:
        texts = {"daily_limit": _("今天的领取名额已用完，明天再来领取吧。"),
                 "taken": _("慢了一步：这位客户刚被同事领取。"),
                 "moving": _("这位客户正在交接给同事，暂时不能领取。")}
        flash(texts.get(refused.reason, _("暂时不能领取这位客户。")), "error")
        return redirect(back, code=303)
    except NotFound:
        flash(_("这位客户已不在公海，可能刚被同事领取。"), "error")
        return redirect(back, code=303)
    except (ValidationError, Forbidden):
        flash(_("只有企业成员才能从公海领取客户。"), "error")
        return redirect(back, code=303)
    except HostError:
        flash(_("领取失败：%(host)s暂时无法完成，请稍后重试", host=HOST_NAMES[g.principal.corp.platform]), "error")
        return redirect(back, code=303)
    if claimed["handover_id"]:
        flash(_("已领取：正在把客户从原跟进人转给你。"), "ok")
    else:
        flash(_("已领取：客户已加入你的客户列表。"), "ok")
    return redirect(_back(customer_id), code=303)


# ---------------------------------------------------------------- handovers


@bp.get("/app/handovers")
@signed_in
def app_handovers():
    return _page("h5/app_handovers.html", "handovers", handovers=microapp.my_handovers(g.principal))
