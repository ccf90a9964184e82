"""The console's pages: the corp's numbers of today, channel codes (list, create, edit, pause, resume) and a channel's
statistics with its CSV. Each view reads its input, calls one service, renders."""
from __future__ import annotations

import logging
from datetime import date

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from console import forms
from console.blueprint import admin_only, bp
from scrm.errors import ValidationError
from scrm.host import HostError
from scrm.services import channel_stats, channels, dashboard

log = logging.getLogger(__name__)


def _field_labels() -> dict[str, str]:
    """The form's field names as a page says them (a service names the field it refuses)."""
    return {"name": _("名称"), "members": _("成员"), "weight": _("权重"), "daily_cap": _("每日上限"),
            "schedule": _("工作时间"), "tags": _("标签"), "welcome": _("欢迎语"), "welcome_mode": _("欢迎语"),
            "allocation": _("分配方式"), "status": _("状态"), "from": _("开始日期"), "to": _("结束日期"),
            "state": _("渠道参数")}


def _field_label(field: str) -> str:
    labels = _field_labels()
    base = field.split("[", 1)[0].split(".", 1)[0]
    sub = field.rsplit(".", 1)[-1] if "." in field else base
    return labels.get(sub) or labels.get(base) or _("输入")


def _problem(exc: ValidationError) -> str:
    return _("请检查「%(field)s」：%(message)s", field=_field_label(exc.field), message=exc.message)


@bp.get("")
def home():
    return render_template("console/home.html", today=dashboard.today(g.principal.corp), nav="home")


@bp.get("/channels")
def channel_list():
    return render_template("console/channels.html", rows=dashboard.channel_rows(g.principal.corp), nav="channels")


def _form(channel, values: dict, error: str | None = None, status: int = 200):
    return render_template("console/channel_form.html", channel=channel, v=values, error=error,
                           choices=dashboard.channel_choices(g.principal.corp), weekdays=forms.WEEKDAYS,
                           allocations=forms.ALLOCATIONS, welcome_modes=forms.WELCOME_MODES, nav="channels"), status


def _employee_ids() -> list[int]:
    return [int(k[7:]) for k in request.form if k.startswith("member_") and k[7:].isdigit()]


@bp.get("/channels/new")
@admin_only
def channel_new():
    return _form(None, forms.values(None))


@bp.post("/channels/new")
@admin_only
def channel_create():
    try:
        channel = channels.create_channel(g.principal.corp, forms.read(request.form, _employee_ids()))
    except ValidationError as exc:
        return _form(None, forms.from_submission(request.form), _problem(exc), 422)
    except HostError as exc:
        log.warning("console: creating a channel, the host refused: %s", exc)
        return _form(None, forms.from_submission(request.form), _("平台拒绝了请求，渠道活码未创建，请稍后重试。"), 502)
    flash(_("渠道活码「%(name)s」已创建。", name=channel.name))
    return redirect(url_for("console.channel_list"), code=303)


@bp.get("/channels/<int:channel_id>/edit")
@admin_only
def channel_edit(channel_id: int):
    channel = channels.get_channel(g.principal.corp, channel_id)
    return _form(channel, forms.values(channel))


@bp.post("/channels/<int:channel_id>/edit")
@admin_only
def channel_update(channel_id: int):
    channel = channels.get_channel(g.principal.corp, channel_id)
    try:
        channel = channels.update_channel(g.principal.corp, channel_id,
                                          forms.read(request.form, _employee_ids(), channel))
    except ValidationError as exc:
        return _form(channel, forms.from_submission(request.form), _problem(exc), 422)
    except HostError as exc:
        log.warning("console: editing channel %s, the host refused: %s", channel_id, exc)
        return _form(channel, forms.from_submission(request.form), _("平台拒绝了请求，修改未保存，请稍后重试。"), 502)
    flash(_("渠道活码「%(name)s」已保存。", name=channel.name))
    return redirect(url_for("console.channel_list"), code=303)


def _switch(channel_id: int, change, done: str):
    try:
        channel = change(g.principal.corp, channel_id)
    except ValidationError as exc:
        flash(_problem(exc), "error")
    else:
        flash(done % {"name": channel.name})
    return redirect(url_for("console.channel_list"), code=303)


@bp.post("/channels/<int:channel_id>/pause")
@admin_only
def channel_pause(channel_id: int):
    return _switch(channel_id, channels.pause_channel, _("渠道活码「%(name)s」已暂停。"))


@bp.post("/channels/<int:channel_id>/resume")
@admin_only
def channel_resume(channel_id: int):
    return _switch(channel_id, channels.resume_channel, _("渠道活码「%(name)s」已恢复。"))


def _day(name: str) -> date | None:
    raw = request.args.get(name) or ""
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        raise ValidationError(name, "must be a date (YYYY-MM-DD)") from None


@bp.get("/channels/<int:channel_id>/stats")
def channel_report(channel_id: int):
    error = None
    try:
        report = dashboard.channel_report(g.principal.corp, channel_id, _day("from"), _day("to"))
    except ValidationError as exc:  # a malformed or impossible range: the default one, and why
        error = _problem(exc)
        report = dashboard.channel_report(g.principal.corp, channel_id, None, None)
    return render_template("console/stats.html", channel=report.channel, stats=report.stats, error=error,
                           nav="channels")


@bp.get("/channels/<int:channel_id>/stats.csv")
def channel_report_csv(channel_id: int):
    """The same CSV as GET /api/v1/channels/<id>/stats.csv (`channel_stats.to_csv` of the same numbers)."""
    by = request.args.get("by") if request.args.get("by") in ("day", "employee") else "day"
    try:
        report = dashboard.channel_report(g.principal.corp, channel_id, _day("from"), _day("to"))
    except ValidationError as exc:
        return Response(_problem(exc), status=422, mimetype="text/plain")
    data = report.stats
    name = f"channel-{channel_id}-{data['from']}-{data['to']}-{by}.csv"
    return Response("\ufeff" + channel_stats.to_csv(data, by), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
