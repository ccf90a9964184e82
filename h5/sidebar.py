"""The WeCom chat sidebar (聊天工具栏): `/h5/sidebar` reads the chat it was opened from (`getContext`, then
`getCurExternalContact` or `getCurExternalChat` of @wecom/jssdk) and goes on to the customer's page or the group's.

Pages are rendered here; what they change goes through the same services as the API (`customer_desk`, so the
API's roles apply: a salesperson edits only their own relationship), each form POSTed with its CSRF token and
answered with a redirect back to the page. Quick replies are sent by the page's script (`sendChatMessage`)."""
from __future__ import annotations

from flask import g, get_flashed_messages, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf

from h5.staff import bp, message, signed_in, submitted
from scrm.errors import Forbidden
from scrm.i18n import stage_names
from scrm.services import customer_desk, quick_replies, sidebar

#: the JS-SDK calls the sidebar's pages make (the app identity is needed for all of them)
JS_API = ["getContext", "getCurExternalContact", "getCurExternalChat", "sendChatMessage"]


def _page(template: str, **values):
    corp = g.principal.corp
    return render_template(template, corp=corp, agent_id=corp.agent_id or "", csrf_token=generate_csrf(),
                           js_api=",".join(JS_API), flashes=get_flashed_messages(with_categories=True),
                           stage_names=stage_names(), **values)


@bp.get("/sidebar")
@signed_in
def sidebar_boot():
    """The toolbar's entry page: the script asks WeCom which chat this is, then opens its page."""
    if g.principal.corp.platform != "wecom":
        return message(404, _("仅限企业微信"), _("聊天侧边栏只在企业微信里有。"))
    return _page("h5/sidebar_boot.html")


@bp.get("/sidebar/c/<external_userid>")
@signed_in
def customer(external_userid: str):
    card = sidebar.customer_page(g.principal, external_userid)
    library = quick_replies.library(g.principal.corp)["groups"]
    return _page("h5/sidebar_customer.html", c=card, replies=[grp for grp in library if grp["replies"]])


@bp.get("/sidebar/g/<chat_id>")
@signed_in
def group(chat_id: str):
    return _page("h5/sidebar_group.html", chat=sidebar.group_page(g.principal, chat_id))


# ---------------------------------------------------------------- forms


def _mine(external_userid: str) -> tuple[int, int]:
    """The customer's id and the signed-in employee's relationship with them (404 without one)."""
    found = sidebar.find_customer(g.principal, external_userid)
    if found.relationship_id is None:
        raise Forbidden("you do not follow this customer")
    return found.customer_id, found.relationship_id


@bp.post("/sidebar/c/<external_userid>/tags")
@signed_in
def save_tags(external_userid: str):
    def change():
        customer_id, relationship_id = _mine(external_userid)
        wanted = [int(v) for v in request.form.getlist("tag") if v.isdigit() and len(v) < 19]
        customer_desk.set_tags(g.principal, customer_id, relationship_id, wanted)
    return submitted(url_for("h5_staff.customer", external_userid=external_userid), change)


@bp.post("/sidebar/c/<external_userid>/remark")
@signed_in
def save_remark(external_userid: str):
    def change():
        customer_id, relationship_id = _mine(external_userid)
        customer_desk.edit_relationship(g.principal, customer_id, relationship_id,
                                        remark=request.form.get("remark", ""),
                                        description=request.form.get("description", ""))
    return submitted(url_for("h5_staff.customer", external_userid=external_userid), change)


@bp.post("/sidebar/c/<external_userid>/stage")
@signed_in
def save_stage(external_userid: str):
    def change():
        found = sidebar.find_customer(g.principal, external_userid)
        customer_desk.set_stage(g.principal, found.customer_id, request.form.get("stage", ""))
    return submitted(url_for("h5_staff.customer", external_userid=external_userid), change)


@bp.post("/sidebar/c/<external_userid>/notes")
@signed_in
def add_note(external_userid: str):
    def change():
        found = sidebar.find_customer(g.principal, external_userid)
        customer_desk.add_note(g.principal, found.customer_id, request.form.get("body", ""))
    return submitted(url_for("h5_staff.customer", external_userid=external_userid) + "#notes", change)


@bp.post("/sidebar/g/<chat_id>/notes")
@signed_in
def add_group_note(chat_id: str):
    def change():
        sidebar.add_group_note(g.principal, chat_id, request.form.get("body", ""))
    return submitted(url_for("h5_staff.group", chat_id=chat_id) + "#notes", change)
