"""The console's customer pages: the customer list with the API's filters and its 360 (admins add notes and move
the stage), the sales funnel (the numbers of GET /api/v1/funnel) and the quick-reply library (admins). Each view
reads its input, calls one service, renders; writes go through the same services the API uses."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import wraps

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from console.blueprint import bp, error_page
from scrm.api.schemas import FunnelOut
from scrm.errors import Conflict, NotFound, ValidationError
from scrm.i18n import stage_names
from scrm.services import customer_desk, customers, filter_choices, media, quick_replies
from scrm.services import funnel as funnels
from scrm.services.corps import corp_zone

PAGE = 50
REPLY_TYPES = ("text", "link", "image", "miniprogram")
#: the reply forms take an image upload (the app's limit elsewhere is the callbacks' 1 MiB)
UPLOADS = frozenset({"console.reply_create", "console.reply_update"})


def admins(view):
    """A page only admins use: managers read customers and the funnel, not write them or keep the library."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if g.principal.role != "admin":
            return error_page(403, _("没有权限"), _("经理可以查看客户和漏斗，但只有管理员可以修改客户资料和话术库。"))
        return view(*args, **kwargs)

    return wrapped


@bp.url_value_preprocessor
def _upload_limit(endpoint, values) -> None:
    """Runs before the guard reads the form (its CSRF token): an image may be up to the host's 10 MB."""
    if endpoint in UPLOADS:
        request.max_content_length = media.MAX_IMAGE_BYTES + 64 * 1024



def _problem(exc: ValidationError) -> str:
    labels = {"q": _("搜索"), "tags": _("标签"), "channel": _("渠道"), "employee": _("员工"), "status": _("状态"),
              "stage": _("阶段"), "added_from": _("开始日期"), "added_to": _("结束日期"), "from": _("开始日期"),
              "to": _("结束日期"), "body": _("跟进记录"), "name": _("名称"), "title": _("标题"),
              "group_id": _("分组"), "file": _("图片"), "order": _("顺序"), "department": _("部门"),
              "text": _("文本"), "url": _("链接地址"), "desc": _("描述"), "pic_url": _("封面图片地址"),
              "appid": _("小程序 AppID"), "page": _("小程序页面"), "media_id": _("图片"), "type": _("类型")}
    field = exc.field.rsplit(".", 1)[-1]
    return _("请检查「%(field)s」：%(message)s", field=labels.get(field, _("输入")), message=exc.message)


# ---------------------------------------------------------------- reading the query


def _id(args: MultiDict, name: str) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) == 0:
        raise ValidationError(name, "must be an id")
    return int(raw)


def _day(args: MultiDict, name: str) -> date | None:
    raw = (args.get(name) or "").strip()
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        raise ValidationError(name, "must be a date (YYYY-MM-DD)") from None


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time(), corp_zone(g.principal.corp)).astimezone(timezone.utc)


def customer_filters(args: MultiDict) -> dict:
    """The list's query as the filters `customer_desk.search` takes (the API's names; dates are local days, both
    included)."""
    filters: dict = {}
    q = (args.get("q") or "").strip()
    if q:
        if len(q) > 64:
            raise ValidationError("q", "at most 64 characters")
        filters["q"] = q
    tags = []
    for raw in args.getlist("tags"):
        if not raw.isdigit():
            raise ValidationError("tags", "must be tag ids")
        tags.append(int(raw))
    if tags:
        mode = args.get("tag_mode") or "any"
        if mode not in ("any", "all", "none"):
            raise ValidationError("tags", "match any, all or none")
        filters["tags"], filters["tag_mode"] = tags, mode
    for name in ("channel", "employee"):
        if (value := _id(args, name)) is not None:
            filters[name] = value
    status = args.get("status") or ""
    if status:
        if status not in ("active", "lost"):
            raise ValidationError("status", "must be active or lost")
        filters["status"] = status
    if args.get("stage"):
        filters["stage"] = args["stage"]
    start, end = _day(args, "added_from"), _day(args, "added_to")
    if start and end and end < start:
        raise ValidationError("added_to", "must not be before the start")
    if start:
        filters["added_from"] = _local_start(start)
    if end:
        filters["added_to"] = _local_start(end + timedelta(days=1))
    return filters


# ---------------------------------------------------------------- customers


@bp.get("/customers")
def customer_list():
    corp, error = g.principal.corp, None
    after = request.args.get("after", "")
    try:
        filters = customer_filters(request.args)
        page = customer_desk.search(g.principal, filters, limit=PAGE,
                                    after=int(after) if after.isdigit() else None, sort="-id")
    except ValidationError as exc:  # a malformed filter: every customer, and why
        error = _problem(exc)
        page = customer_desk.search(g.principal, {}, limit=PAGE, sort="-id")
    args = request.args.to_dict(flat=False)
    args.pop("after", None)
    args.pop("lang", None)
    return render_template("console/customers.html", page=page, error=error, args=request.args, query=args,
                           choices=filter_choices.for_corp(corp), stages=customers.stages(corp),
                           stage_names=stage_names(), first=bool(after), nav="customers")


@bp.get("/customers/<int:customer_id>")
def customer_view(customer_id: int):
    corp = g.principal.corp
    c = customer_desk.view(g.principal, customer_id)
    choices = filter_choices.for_corp(corp)
    return render_template("console/customers_360.html", c=c, stages=customers.stages(corp), stage_names=stage_names(),
                           employees=choices.employee_names(), channels=choices.channel_names(), nav="customers")


@bp.post("/customers/<int:customer_id>/notes")
@admins
def customer_note(customer_id: int):
    try:
        customer_desk.add_note(g.principal, customer_id, request.form.get("body") or "")
    except ValidationError as exc:
        flash(_problem(exc), "error")
    else:
        flash(_("跟进记录已添加。"))
    return redirect(url_for("console.customer_view", customer_id=customer_id, _anchor="notes"), code=303)


@bp.post("/customers/<int:customer_id>/stage")
@admins
def customer_stage(customer_id: int):
    stage = request.form.get("stage") or ""
    try:
        customer_desk.set_stage(g.principal, customer_id, stage)
    except ValidationError as exc:
        flash(_problem(exc), "error")
    else:
        flash(_("客户阶段已改为「%(stage)s」。", stage=stage_names().get(stage, stage)))
    return redirect(url_for("console.customer_view", customer_id=customer_id, _anchor="stage"), code=303)


# ---------------------------------------------------------------- the funnel


def duration(seconds: float | None) -> str:
    """A median stay in days and hours (hours and minutes when under a day)."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return _("不足 1 分钟")
    minutes = int(round(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(d)s 天 %(h)s 小时", d=days, h=hours)
    if hours:
        return _("%(h)s 小时 %(m)s 分钟", h=hours, m=minutes)
    return _("%(m)s 分钟", m=minutes)


@bp.get("/funnel")
def funnel_report():
    corp, error, args = g.principal.corp, None, request.args
    try:
        answer = funnels.funnel(g.principal, channel_id=_id(args, "channel_id"), employee_id=_id(args, "employee_id"),
                                department_id=_id(args, "department_id"), start=_day(args, "from"),
                                end=_day(args, "to"))
    except ValidationError as exc:  # a malformed or impossible filter: the whole funnel, and why
        error = _problem(exc)
        answer = funnels.funnel(g.principal)
    data = FunnelOut().dump(answer)  # what GET /api/v1/funnel answers for the same filters
    names = stage_names()
    return render_template("console/funnel.html", data=data, error=error, args=args,
                           choices=filter_choices.for_corp(corp), stage_names=names,
                           labels={s["stage"]: names.get(s["stage"], s["stage"]) for s in data["stages"]},
                           duration=duration, nav="funnel")


# ---------------------------------------------------------------- the quick-reply library


def _library_page(status: int = 200, error: str | None = None):
    library = quick_replies.library(g.principal.corp)
    return render_template("console/replies.html", groups=library["groups"], error=error,
                           next_order=max((grp["order"] for grp in library["groups"]), default=0) + 10,
                           nav="replies"), status


@bp.get("/replies")
@admins
def reply_library():
    return _library_page()


def _order(raw: str | None) -> int:
    raw = (raw or "").strip()
    try:
        value = int(raw) if raw else 0
    except ValueError:
        raise ValidationError("order", "must be a whole number") from None
    if abs(value) > 1_000_000:
        raise ValidationError("order", "between -1000000 and 1000000")
    return value


def _library_change(change, done: str, conflict: str | None = None):
    try:
        change()
    except ValidationError as exc:
        return _library_page(422, _problem(exc))
    except Conflict:
        return _library_page(409, conflict or _("话术库已满，请先删除不用的话术。"))
    flash(done)
    return redirect(url_for("console.reply_library"), code=303)


@bp.post("/replies/groups")
@admins
def group_create():
    form = request.form
    return _library_change(lambda: quick_replies.create_group(g.principal.corp, form.get("name") or "",
                                                               _order(form.get("order"))),
                           _("分组已创建。"))


@bp.post("/replies/groups/<int:group_id>")
@admins
def group_update(group_id: int):
    form = request.form
    return _library_change(lambda: quick_replies.edit_group(g.principal.corp, group_id, name=form.get("name") or "",
                                                             order=_order(form.get("order"))),
                           _("分组已保存。"))


@bp.post("/replies/groups/<int:group_id>/delete")
@admins
def group_delete(group_id: int):
    return _library_change(lambda: quick_replies.delete_group(g.principal.corp, group_id), _("分组已删除。"),
                           _("分组里还有话术：请先删除或移走其中的话术。"))


def _reply(reply_id: int) -> dict:
    """One reply of the corp's library, as the library describes it."""
    for grp in quick_replies.library(g.principal.corp)["groups"]:
        for reply in grp["replies"]:
            if reply["id"] == reply_id:
                return reply
    raise NotFound(f"no quick reply {reply_id}")


def _reply_values(reply: dict | None, group_id: int | None = None) -> dict:
    content = dict(reply["content"]) if reply else {"type": "text"}
    return {"group_id": reply["group_id"] if reply else group_id, "title": reply["title"] if reply else "",
            "type": content["type"], "order": reply["order"] if reply else 0, "content": content}


def _submitted_values(form: MultiDict, reply: dict | None) -> dict:
    kind = form.get("type") if form.get("type") in REPLY_TYPES else "text"
    content = {"type": kind, **{k: form.get(f"{kind}_{k}", "") for k in ("text", "title", "url", "desc", "pic_url",
                                                                           "appid", "page")}}
    if reply and reply["content"].get("media_id"):
        content["media_id"] = reply["content"]["media_id"]
    group = form.get("group_id") or ""
    return {"group_id": int(group) if group.isdigit() else None, "title": form.get("title", ""), "type": kind,
            "order": form.get("order", "0"), "content": content}


def _reply_form(reply: dict | None, values: dict, error: str | None = None, status: int = 200):
    return render_template("console/replies_form.html", reply=reply, v=values, error=error, types=REPLY_TYPES,
                           groups=quick_replies.library(g.principal.corp)["groups"], nav="replies"), status


def _read_reply(form: MultiDict, reply: dict | None) -> dict:
    """The submitted form as `quick_replies.create` / `edit` take it; an uploaded image saved first."""
    kind = form.get("type")
    if kind not in REPLY_TYPES:
        raise ValidationError("type", "choose text, link, image or mini-program")
    group = form.get("group_id") or ""
    if not group.isdigit():
        raise ValidationError("group_id", "choose a group")

    def field(name: str) -> str:
        return (form.get(f"{kind}_{name}") or "").strip()

    if kind == "text":
        content = {"type": "text", "text": form.get("text_text") or ""}
    elif kind == "link":
        content = {"type": "link", **{k: field(k) for k in ("title", "url", "desc", "pic_url") if field(k)}}
    else:
        content = {"type": kind}
        if kind == "miniprogram":
            content.update({k: field(k) for k in ("title", "appid", "page")})
        upload = request.files.get(f"{kind}_file")
        if upload is not None and upload.filename:
            saved = media.save_image(g.principal.corp, upload.filename,
                                     upload.read(media.MAX_IMAGE_BYTES + 1))
            content["media_id"] = saved.id
        elif reply and reply["content"].get("media_id"):
            content["media_id"] = reply["content"]["media_id"]  # the image it had, kept
        else:
            raise ValidationError("file", "choose an image (PNG or JPEG)")
    return {"group_id": int(group), "title": form.get("title") or "", "content": content,
            "order": _order(form.get("order"))}


@bp.get("/replies/new")
@admins
def reply_new():
    group = request.args.get("group", "")
    return _reply_form(None, _reply_values(None, int(group) if group.isdigit() else None))


@bp.post("/replies/new")
@admins
def reply_create():
    try:
        quick_replies.create(g.principal.corp, **_read_reply(request.form, None))
    except ValidationError as exc:
        return _reply_form(None, _submitted_values(request.form, None), _problem(exc), 422)
    except Conflict:
        return _reply_form(None, _submitted_values(request.form, None), _("话术库已满，请先删除不用的话术。"), 409)
    flash(_("话术「%(title)s」已添加。", title=request.form.get("title", "").strip()))
    return redirect(url_for("console.reply_library"), code=303)


@bp.get("/replies/<int:reply_id>/edit")
@admins
def reply_edit(reply_id: int):
    reply = _reply(reply_id)
    return _reply_form(reply, _reply_values(reply))


@bp.post("/replies/<int:reply_id>/edit")
@admins
def reply_update(reply_id: int):
    reply = _reply(reply_id)
    try:
        saved = quick_replies.edit(g.principal.corp, reply_id, **_read_reply(request.form, reply))
    except ValidationError as exc:
        return _reply_form(reply, _submitted_values(request.form, reply), _problem(exc), 422)
    flash(_("话术「%(title)s」已保存。", title=saved["title"]))
    return redirect(url_for("console.reply_library"), code=303)


@bp.post("/replies/<int:reply_id>/delete")
@admins
def reply_delete(reply_id: int):
    return _library_change(lambda: quick_replies.delete(g.principal.corp, reply_id), _("话术已删除。"))


@bp.get("/media/<int:media_id>")
@admins
def media_image(media_id: int):
    """An image of the corp's (a reply's picture), for the library's previews."""
    image = media.get_media(g.principal.corp, media_id)
    response = current_app.response_class(image.content, mimetype=image.content_type)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
