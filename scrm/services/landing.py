"""The landing page of a channel code the product draws itself: DingTalk has no contact ways and no add callback,
so the customer leaves a name and a mobile here, with consent, and the product creates the external contact with
the allocated employee as follower and the channel's labels, records the relationship, and tells the employee.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.errors import DomainError, NotFound, ValidationError
from scrm.extensions import db
from scrm.host import Host, HostCustomer, HostError, HostFollow
from scrm.models import Channel, ChannelMember, Corp, Customer, Employee, Relationship, Tag, utcnow
from scrm.services import channels, followups, placeholders, timeline, welcome
from scrm.services.corps import host_for
from scrm.services.relations import apply_follow, upsert_customer

log = logging.getLogger(__name__)

MOBILE = re.compile(r"^1[3-9]\d{9}$")  # a mainland China mobile number
NAME_MAX = 32
EXISTS = 22005  # DingTalk: the external contact exists already
NOTIFY_TASK = "scrm.channels.notify"


class LandingClosed(DomainError):
    """The channel does not take customers now (paused, expired, used up or deleted)."""

    code = "closed"


@dataclass
class Landing:
    corp: Corp
    channel: Channel
    employee: Employee | None  # who receives a customer registering now


@dataclass
class Registration:
    """What a form came to. The visitor is only ever told `name` (as they typed it) and `employee` (whom a new
    customer meets): a mobile registered already looks exactly like a new one, so the page tells nobody who a
    number belongs to. The customer and their follower stay on this side."""

    name: str
    employee: Employee  # whom the page says the visitor will meet
    created: bool  # False: this mobile was registered already (or the host has the contact)
    customer: Customer | None = None
    followups: list[int] = field(default_factory=list)  # the notification, stored with the registration


@dataclass
class Submission:
    """What a landing form came to: a registration, or the input error and whom the form shows again."""

    channel: Channel
    corp_name: str
    registration: Registration | None = None
    error: ValidationError | None = None
    employee: Employee | None = None


@dataclass
class Thanks:
    """The thank-you page: whom the customer will meet, and the channel's welcome text with their name."""

    channel: Channel
    corp_name: str
    customer_name: str  # as the visitor typed it
    employee: Employee
    welcome_lines: list[str] = field(default_factory=list)


def _open(channel: Channel | None) -> Channel:
    if channel is None:
        raise NotFound("no such channel code")
    if channel.status != "active" or (channel.expires_at and channel.expires_at <= utcnow()):
        raise LandingClosed(f"channel {channel.id} is {channel.status}")
    return channel


def open_landing(code: str) -> Landing:
    """The channel behind a landing code and the employee a customer would meet now."""
    channel = _open(channels.by_code(code))
    corp = db.session.get(Corp, channel.corp_id)
    return Landing(corp, channel, channels.pick_employee(corp, channel))


def corp_name(channel: Channel) -> str:
    corp = db.session.get(Corp, channel.corp_id)
    return corp.name if corp else ""


def clean_name(value: str | None) -> str:
    """The customer's name as typed, without control or invisible formatting characters."""
    name = "".join(ch for ch in (value or "") if unicodedata.category(ch)[0] != "C").strip()
    if not name:
        raise ValidationError("name", "请填写姓名")
    if len(name) > NAME_MAX:
        raise ValidationError("name", f"姓名最多 {NAME_MAX} 个字")
    return name


def clean_mobile(value: str | None) -> str:
    mobile = re.sub(r"[\s-]", "", value or "")
    mobile = mobile[3:] if mobile.startswith("+86") else mobile
    if not MOBILE.match(mobile):
        raise ValidationError("mobile", "请填写正确的手机号码")
    return mobile


def still_member(channel: Channel, employee_id: int | None) -> Employee | None:
    """The employee a page showed, while still an active member of the channel."""
    if employee_id is None or db.session.get(ChannelMember, (channel.id, employee_id)) is None:
        return None
    employee = db.session.get(Employee, employee_id)
    return employee if employee is not None and employee.status == "active" else None


def _receiver(corp: Corp, channel: Channel, employee_id: int | None) -> Employee:
    """The employee the page showed, while still an active member; else whoever the rules pick now."""
    employee = still_member(channel, employee_id) or channels.pick_employee(corp, channel)
    if employee is None:
        raise LandingClosed(f"channel {channel.id} has nobody to receive customers")
    return employee


def register(code: str, *, name: str, mobile: str, consent: bool, employee_id: int | None = None,
             host: Host | None = None) -> Registration:
    """Create the customer on the host with the channel's employee, labels and remark, then record them here.

    Nothing is locked while the host creates the contact: the channel is read, the host is called, and the
    contact is recorded in a unit of its own (also when the channel closed meanwhile: the host has the contact)."""
    name, mobile = clean_name(name), clean_mobile(mobile)
    if not consent:
        raise ValidationError("consent", "请阅读并同意个人信息使用说明")
    channel = _open(db.session.scalar(select(Channel).where(Channel.code == code)))
    corp = db.session.get(Corp, channel.corp_id)
    host = host or host_for(corp)
    employee = _receiver(corp, channel, employee_id)
    known = _registered(corp, channel, mobile, name, employee)
    if known is not None:
        return known
    labels = list(db.session.scalars(select(Tag.host_id).where(
        Tag.id.in_([t.tag_id for t in channel.tags]), Tag.host_id.is_not(None), Tag.deleted.is_(False))))
    remark = channels.remark_for(corp, channel, name, employee.name)
    state, channel_id = channel.state, channel.id
    try:
        host_id = host.create_customer(employee.host_id, name, mobile, state=state, tag_ids=labels, remark=remark)
    except HostError as exc:
        if exc.errcode != EXISTS:
            raise
        # the host has this mobile already (a contact this side does not know): the page looks the same as for
        # a new customer, and the employee hears of the registration
        log.info("landing: channel %s: the host has this mobile already", channel_id)
        with unit_of_work():
            notify = _notify(corp, employee, notification(channel, name, mobile, again=True))
        return Registration(name, employee, created=False, followups=[notify])
    # the contact exists on the host now; the labels and remark went with it, so what follows is local, recorded as
    # the host has it (its remark may be one the connector chose, e.g. the channel's state)
    follow = HostFollow(employee_id=employee.host_id, remark=remark, created_at=utcnow(), tag_ids=labels,
                        state=state, remark_mobiles=[mobile])
    try:
        stored = next((f for f in host.get_customer(host_id).follows if f.employee_id == employee.host_id), None)
    except HostError as exc:  # recorded as sent; the nightly reconcile reads it back
        log.warning("landing: channel %s: reading the new contact back failed: %s", channel_id, exc)
        stored = None
    if stored is not None:
        follow.remark, follow.remark_mobiles = stored.remark, list(stored.remark_mobiles or follow.remark_mobiles)
    with unit_of_work():
        customer = upsert_customer(corp, HostCustomer(external_id=host_id, name=name, mobile=mobile))
        rel, change = apply_follow(corp, customer, employee, follow, host, state=state)
        timeline.record(corp_id=corp.id, customer_id=customer.id, employee_id=employee.id, relationship_id=rel.id,
                        kind=change or "added", channel_id=rel.channel_id, occurred_at=rel.started_at,
                        payload={"state": state, "channel_id": rel.channel_id, "source": "landing"})
        owed = channels.rules_for(corp, rel, customer, employee)
        if owed is not None:
            channels.record_rules(owed)  # its host part (labels, remark) went with the contact
        notify = _notify(corp, employee, notification(channel, customer.name, customer.mobile))
    channels.use_up_code(corp, owed, host)
    log.debug("landing: customer %s registered through channel %s", customer.id, channel_id)
    return Registration(name, employee, created=True, customer=customer, followups=[notify])


def _registered(corp: Corp, channel: Channel, mobile: str, name: str, receiver: Employee) -> Registration | None:
    """A mobile registered already: nothing is created, the employee following the customer hears of it, and
    the visitor is told what a new customer would be told (`receiver`, the name they typed)."""
    known = db.session.scalar(select(Customer).where(Customer.corp_id == corp.id, Customer.mobile == mobile))
    if known is None:
        return None
    follower = db.session.scalar(select(Employee).join(Relationship, Relationship.employee_id == Employee.id)
                                 .where(Relationship.customer_id == known.id, Relationship.status == "active"))
    if follower is None:
        return None
    with unit_of_work():
        notify = _notify(corp, follower, notification(channel, name, mobile, again=True))
    return Registration(name, receiver, created=False, customer=known, followups=[notify])


def _notify(corp: Corp, employee: Employee, text: str) -> int:
    """Store the employee's work notification (inside the caller's unit); the follow-up's id."""
    return followups.add(corp.id, NOTIFY_TASK, corp.id, employee.host_id, text).id


def submit(code: str, *, name: str, mobile: str, consent: bool, shown: tuple[int, int] | None = None,
           host: Host | None = None) -> Submission:
    """The landing form: register the customer (`shown` is the channel and employee the page showed, from its
    signed token), then queue the employee's notification; an input error comes back with the form's employee."""
    channel = channels.by_code(code)
    if channel is None or channel.qr_url:  # a host contact way has no form: customers scan its QR code
        raise NotFound("no landing form for this code")
    employee_id = shown[1] if shown and shown[0] == channel.id else None
    try:
        registration = register(code, name=name, mobile=mobile, consent=consent, employee_id=employee_id, host=host)
    except ValidationError as exc:
        employee = still_member(channel, employee_id) or open_landing(code).employee
        return Submission(channel, corp_name(channel), error=exc, employee=employee)
    followups.start(registration.followups)  # the employee's notification, stored with the registration
    return Submission(channel, corp_name(channel), registration=registration, employee=registration.employee)


def notify_employee(corp_id: int, employee_host_id: str, text: str, *, host: Host | None = None) -> None:
    """Send an employee a work notification (a customer was added to them through a channel)."""
    (host or host_for(db.session.get(Corp, corp_id))).send_app_message([employee_host_id], text)


def thanks(code: str, name: object, employee_id: object, channel_id: object) -> Thanks | None:
    """The thank-you page of a form sent on this channel, or None when the (signed) data names none. It shows
    the name the visitor typed and the employee the form promised, never a stored customer."""
    channel = channels.by_code(code)
    if channel is None:
        raise NotFound("no such channel code")
    if channel_id != channel.id or not isinstance(name, str) or not isinstance(employee_id, int):
        return None
    employee = db.session.get(Employee, employee_id)
    if employee is None or employee.corp_id != channel.corp_id:
        return None
    content = welcome.content_for(db.session.get(Corp, channel.corp_id), channel) or {}
    text = placeholders.render(content.get("text") or "", {
        "customer_name": name, "employee_name": employee.name, "channel": channel.name})
    return Thanks(channel, corp_name(channel), name, employee, text.splitlines() if text.strip() else [])


def notification(channel: Channel, name: str, mobile: str, *, again: bool = False) -> str:
    """The work notification telling the employee about the customer who registered."""
    if again:
        return (f"客户「{name}」通过渠道「{channel.name}」再次登记（该手机号已是企业的客户），手机 {mobile}，"
                "请尽快联系。")
    return f"新客户「{name}」通过渠道「{channel.name}」添加了您，手机 {mobile}，请尽快联系。"
