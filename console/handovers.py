"""The console's handover pages: who left with customers still waiting and every handover with its counts; a plan
(takers, split, message, reason) previewed as the API's dry run and, once confirmed, created and started with the
same calls as POST /api/v1/handovers and /start; a handover's progress per state and each customer's outcome.
Admins plan and start; managers read the handovers of their departments (`handover_desk` applies the scope)."""
from __future__ import annotations

import logging

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from console.admin import N_, active_employees, admins_only, when, whole
from console.blueprint import bp
from scrm.errors import Forbidden, NotFound, ValidationError
from scrm.extensions import db
from scrm.host import HostError
from scrm.models import HANDOVER_KINDS, LINE_STATES, Customer, Employee
from scrm.services import handover_desk
from scrm.services.handovers.planning import MAX_MESSAGE, SPLITS

log = logging.getLogger(__name__)

LINES_PAGE = 100
LIST_PAGE = 50
PLAN_ONLY = N_("经理可以查看交接进度，但只有管理员可以发起交接。")


def kind_words() -> dict[str, str]:
    return {"departed": _("离职继承"), "onjob": _("在职继承")}


def status_words() -> dict[str, str]:
    return {"planned": _("未开始"), "running": _("进行中"), "done": _("已完成")}


def state_words() -> dict[str, str]:
    return {"planned": _("待发送"), "requested": _("已请求"), "waiting": _("等待客户确认"), "done": _("已接替"),
            "refused": _("客户拒绝"), "taker_at_limit": _("接替成员客户数已满"),
            "no_longer_customer": _("已不是原成员的客户"), "failed": _("失败")}


def source_words() -> dict[str, str]:
    return {"request": _("转接请求"), "transfer_result": _("平台的接替结果"), "add_event": _("接替成员添加客户"),
            "del_event": _("原成员因转接删除客户"), "transfer_fail": _("平台通知接替失败"), "reconcile": _("核对"),
            "precheck": _("发送前检查"), "follower_updated": _("钉钉已更换跟进人")}


def errcode_words(code: int | None) -> str:
    """What the host's per-customer errcode means (WeCom's transfer docs 92125, 94081, 92127)."""
    if code in (None, 0):
        return ""
    known = {40128: _("客户 90 天内已被转接 2 次"), 40129: _("原成员与接替成员不能相同"),
             40130: _("原成员与接替成员不能相同"), 40131: _("原成员已不是该客户的跟进人"),
             84061: _("原成员与客户已无好友关系"), 90500: _("群主并未离职"), 90501: _("该群不是客户群"),
             90502: _("群主已离职"), 90503: _("群成员已满"), 90504: _("群主没有变更"),
             90507: _("该群正在继承中"), 90508: _("该群已被继承"), -1: _("平台未返回该客户的结果")}
    return known.get(code) or _("平台错误码 %(code)s", code=code)


def skip_words() -> dict[str, str]:
    return {"already in a handover": _("已在另一项交接中")}


def _field_label(field: str) -> str:
    return {"kind": _("交接类型"), "from_employee_id": _("交出客户的成员"), "to_employee_ids": _("接替成员"),
            "split": _("分配方式"), "message": _("转接提示语"), "reason": _("原因"), "customer_ids": _("客户"),
            "group_chat_ids": _("客户群")}.get(field, _("输入"))


def _problem(exc: ValidationError) -> str:
    return _("请检查「%(field)s」：%(message)s", field=_field_label(exc.field), message=exc.message)


def _words() -> dict:
    return {"kinds": kind_words(), "statuses": status_words(), "states": state_words(), "sources": source_words(),
            "errcode": errcode_words, "when": when, "line_states": LINE_STATES}


# ---------------------------------------------------------------- the list


@bp.get("/handovers")
def handover_list():
    waiting, host_problem = [], None
    try:
        waiting = [w for w in handover_desk.unassigned(g.principal)["items"]  # all planned already: nothing waits
                   if w["customers"] or w["group_chats"] or w["unknown_customers"]]
    except HostError as exc:  # the host's unassigned list is unreachable: the handovers are still ours to show
        log.warning("console: the host's unassigned list: %s", exc)
        host_problem = _("暂时无法从平台读取待分配的离职成员，请稍后刷新。")
    try:
        before = whole(request.args.get("before"), "before")
    except ValidationError:
        before = None
    items = handover_desk.list_all(g.principal, limit=LIST_PAGE + 1, before=before)["items"]
    more = len(items) > LIST_PAGE
    items = items[:LIST_PAGE]
    return render_template("console/handovers.html", waiting=waiting, host_problem=host_problem, handovers=items,
                           next_before=items[-1]["id"] if more else None, first=before is None,
                           employees=active_employees() if g.principal.role == "admin" else [],
                           nav="handovers", **_words())


# ---------------------------------------------------------------- the plan


def _giver(raw) -> Employee | None:
    try:
        giver_id = whole(raw, "giver")
    except ValidationError:
        raise NotFound("no such employee") from None
    if giver_id is None:
        return None
    giver = db.session.get(Employee, giver_id)
    if giver is None or giver.corp_id != g.principal.corp.id:
        raise NotFound(f"no employee {giver_id}")
    return giver


def _values(form) -> dict:
    takers = []
    for raw in form.getlist("to"):
        if raw.isdigit() and len(raw) < 19:
            takers.append(int(raw))
    kind = form.get("kind") if form.get("kind") in HANDOVER_KINDS else None
    return {"kind": kind, "to": list(dict.fromkeys(takers)),
            "split": form.get("split") if form.get("split") in SPLITS else "even",
            "message": (form.get("message") or "").strip(), "reason": (form.get("reason") or "").strip()}


def _body(giver: Employee, v: dict) -> dict:
    """The same body POST /api/v1/handovers takes."""
    if len(v["reason"]) > 255:
        raise ValidationError("reason", "at most 255 characters")
    if len(v["message"]) > MAX_MESSAGE:
        raise ValidationError("message", f"at most {MAX_MESSAGE} characters")
    body = {"kind": v["kind"], "from_employee_id": giver.id, "to_employee_ids": v["to"], "split": v["split"]}
    if v["kind"] == "onjob" and v["message"]:
        body["message"] = v["message"]
    if v["reason"]:
        body["reason"] = v["reason"]
    return body


def _plan_page(giver: Employee | None, v: dict, *, preview: dict | None = None, error: str | None = None,
               status: int = 200):
    skipped = []
    if preview and preview["skipped"]:
        ids = [s["customer_id"] for s in preview["skipped"]]
        names = dict(db.session.execute(select(Customer.id, Customer.name).where(
            Customer.corp_id == g.principal.corp.id, Customer.id.in_(ids))).all())
        skipped = [{**s, "name": names.get(s["customer_id"])} for s in preview["skipped"]]
    return render_template("console/handover_new.html", giver=giver, v=v, preview=preview, skipped=skipped,
                           error=error, takers=active_employees(exclude=giver.id if giver else None),
                           givers=active_employees() if giver is None else [], splits=SPLITS,
                           skips=skip_words(), max_message=MAX_MESSAGE, nav="handovers", **_words()), status


@bp.get("/handovers/new")
@admins_only(PLAN_ONLY)
def handover_new():
    giver = _giver(request.args.get("giver"))
    v = _values(request.args)
    if giver is not None:
        v["kind"] = v["kind"] or ("departed" if giver.status == "departed" else "onjob")
    return _plan_page(giver, v)


@bp.post("/handovers/new")
@admins_only(PLAN_ONLY)
def handover_plan():
    """`step=preview`: the API's dry run, nothing stored; `step=start`: created and started, as POST
    /api/v1/handovers followed by POST /api/v1/handovers/<id>/start."""
    giver = _giver(request.form.get("giver"))
    if giver is None:
        raise NotFound("no giver")
    v = _values(request.form)
    v["kind"] = v["kind"] or ("departed" if giver.status == "departed" else "onjob")
    start = request.form.get("step") == "start"
    try:
        plan = handover_desk.create(g.principal, _body(giver, v), dry_run=not start)
    except ValidationError as exc:
        return _plan_page(giver, v, error=_problem(exc), status=422)
    except Forbidden:
        return _plan_page(giver, v, error=_("这些成员不在你的管理范围内。"), status=403)
    except HostError as exc:
        log.warning("console: planning a handover from %s, the host refused: %s", giver.id, exc)
        return _plan_page(giver, v, error=_("平台暂时无法处理，交接未开始，请稍后重试。"), status=502)
    if not start:
        return _plan_page(giver, v, preview=plan)
    try:
        handover_desk.start(g.principal, plan["id"])
    except HostError as exc:  # stored, not started: its page offers to start it again
        log.warning("console: starting handover %s, the host refused: %s", plan["id"], exc)
        flash(_("交接已创建，但平台暂时无法处理，请稍后在本页重新开始。"), "error")
        return redirect(url_for("console.handover_show", handover_id=plan["id"]), code=303)
    flash(_("交接已开始：%(customers)s 位客户、%(chats)s 个客户群正在转给接替成员。", customers=plan["customers"],
            chats=plan["group_chats"]))
    return redirect(url_for("console.handover_show", handover_id=plan["id"]), code=303)


# ---------------------------------------------------------------- progress


@bp.get("/handovers/<int:handover_id>")
def handover_show(handover_id: int):
    state = request.args.get("state") if request.args.get("state") in LINE_STATES else None
    try:
        after = whole(request.args.get("after"), "after")
    except ValidationError:
        after = None
    shown = handover_desk.show(g.principal, handover_id, state=state, limit=LINES_PAGE, after=after)
    counts = shown["counts"]
    total = sum(counts.values())
    bar, x = [], 0
    for name in LINE_STATES:  # the stacked bar: one segment per state, in the ledger's order
        n = counts.get(name, 0)
        if n:
            width = n * 1000 / total
            bar.append({"state": name, "x": round(x, 2), "width": round(width, 2), "n": n})
            x += width
    final = sum(n for s, n in counts.items() if s not in ("planned", "requested", "waiting"))
    return render_template("console/handover.html", h=shown, state=state, after=after, total=total, bar=bar,
                           final=final, nav="handovers", **_words())


@bp.post("/handovers/<int:handover_id>/start")
@admins_only(PLAN_ONLY)
def handover_start(handover_id: int):
    """A planned handover (one made over the API or the CLI) started, as POST /api/v1/handovers/<id>/start."""
    try:
        handover_desk.start(g.principal, handover_id)
    except Forbidden:
        flash(_("这些成员不在你的管理范围内。"), "error")
    except HostError as exc:
        log.warning("console: starting handover %s, the host refused: %s", handover_id, exc)
        flash(_("平台暂时无法处理，交接未开始，请稍后重试。"), "error")
    else:
        flash(_("交接已开始。"))
    return redirect(url_for("console.handover_show", handover_id=handover_id), code=303)
