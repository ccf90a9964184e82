"""Welcome messages (欢迎语): the channel's own, the corp default, or none, sent with the add event's welcome code.

The host accepts a welcome code once and for 20 seconds after the add, so a welcome goes out before any slower
work for the event (profile, tags, remark): in worker mode the dispatch task sends the welcomes of its whole batch
first, at high priority; processing an add sends it only if nobody has yet. Every attempt leaves one
`welcome_delivery` row (sent, used, expired, failed or none) with its timing: `expired` when the window was over
before sending (no error) or the host said so (41050 in the error), `used` when the host said the pair is already
chatting or another app sent first (41051).
"""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from scrm import metrics
from scrm.db import unit_of_work
from scrm.errors import ValidationError
from scrm.events import CustomerAdded
from scrm.extensions import db
from scrm.host import Attachment, Host, HostError, MessageContent, platforms
from scrm.models import Channel, Corp, InboxEvent, Media, WelcomeDelivery, utcnow
from scrm.models.base import MAX_ID
from scrm.services import placeholders
from scrm.services.corps import host_for
from scrm.services.media import host_media_id
from scrm.services.org import find_employee
from scrm.services.relations import channel_for_state

log = logging.getLogger(__name__)

WINDOW = timedelta(seconds=20)  # WeCom: send_welcome_msg within 20 s of the event, once
#: A welcome this late is sent without looking the customer's name up (one host call instead of two): in a burst
#: that the workers cannot keep up with, a welcome without the name beats none.
NAME_LOOKUP_UNTIL = timedelta(seconds=8)
MAX_TEXT_BYTES = 4000
MAX_ATTACHMENTS = 9
#: What the host says about the welcome code (doc 92137), as the delivery's outcome: 41050 = the code is invalid or
#: its 20 seconds are over; 41051 = the customer and the member are already chatting, which is also what a later
#: caller hears when another app sent with the code first.
HOST_OUTCOMES = {41050: "expired", 41051: "used"}
ADD_EVENTS = ("change_external_contact/add_external_contact", "change_external_contact/add_half_external_contact")
WELCOME_PLACEHOLDERS = ("customer_name", "employee_name", "channel")


# ---------------------------------------------------------------- content and its rules


def _bytes(value: object) -> int:
    return len(str(value or "").encode("utf-8"))


def _http_url(value: object) -> bool:
    parts = urlsplit(str(value or ""))
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def validate_content(corp: Corp, content: dict | None, field: str = "welcome") -> dict:
    """A welcome content {text, attachments} as the host will take it; ValidationError names the bad part."""
    content = dict(content or {})
    unknown_keys = set(content) - {"text", "attachments"}
    if unknown_keys:
        raise ValidationError(field, f"unknown fields: {sorted(unknown_keys)}")
    text = content.get("text") or ""
    if not isinstance(text, str):
        raise ValidationError(f"{field}.text", "must be text")
    if _bytes(text) > MAX_TEXT_BYTES:
        raise ValidationError(f"{field}.text", f"at most {MAX_TEXT_BYTES} bytes (UTF-8)")
    bad = placeholders.unknown(text, WELCOME_PLACEHOLDERS)
    if bad:
        raise ValidationError(f"{field}.text", f"unknown placeholders {bad}; use {list(WELCOME_PLACEHOLDERS)}")
    attachments = content.get("attachments") or []
    if not isinstance(attachments, list):
        raise ValidationError(f"{field}.attachments", "must be a list")
    if len(attachments) > MAX_ATTACHMENTS:
        raise ValidationError(f"{field}.attachments", f"at most {MAX_ATTACHMENTS}")
    checked = [check_attachment(corp, item, f"{field}.attachments[{n}]") for n, item in enumerate(attachments)]
    if not text and not checked:
        raise ValidationError(field, "needs a text or an attachment")
    return {"text": text, "attachments": checked}


def _media(corp: Corp, value: object, field: str) -> int:
    media = db.session.get(Media, value) if isinstance(value, int) and 1 <= value <= MAX_ID else None
    if media is None or media.corp_id != corp.id:
        raise ValidationError(field, f"unknown media {value!r}: upload the image first (POST /api/v1/media)")
    return media.id


def check_attachment(corp: Corp, item: object, field: str) -> dict:
    """One attachment, checked against WeCom's limits (doc 92137)."""
    if not isinstance(item, dict) or item.get("type") not in ("image", "link", "miniprogram"):
        raise ValidationError(f"{field}.type", "must be image, link or miniprogram")
    kind = item["type"]
    allowed = {"image": {"media_id"}, "link": {"title", "url", "desc", "pic_url"},
               "miniprogram": {"title", "appid", "page", "media_id"}}[kind] | {"type"}
    if set(item) - allowed:
        raise ValidationError(field, f"unknown fields for {kind}: {sorted(set(item) - allowed)}")
    if kind == "image":
        return {"type": kind, "media_id": _media(corp, item.get("media_id"), f"{field}.media_id")}
    if kind == "link":
        if not item.get("title") or _bytes(item["title"]) > 128:
            raise ValidationError(f"{field}.title", "is required, at most 128 bytes")
        if not _http_url(item.get("url")) or _bytes(item["url"]) > 2048:
            raise ValidationError(f"{field}.url", "must be an http(s) URL of at most 2048 bytes")
        if _bytes(item.get("desc")) > 512:
            raise ValidationError(f"{field}.desc", "at most 512 bytes")
        if item.get("pic_url") and not _http_url(item["pic_url"]):
            raise ValidationError(f"{field}.pic_url", "must be an http(s) URL")
        return {k: item[k] for k in ("type", "title", "url", "desc", "pic_url") if item.get(k)}
    if not item.get("title") or _bytes(item["title"]) > 64:
        raise ValidationError(f"{field}.title", "is required, at most 64 bytes")
    for key in ("appid", "page"):
        if not item.get(key) or not isinstance(item[key], str) or len(item[key]) > 255:
            raise ValidationError(f"{field}.{key}", "is required")
    return {"type": kind, "title": item["title"], "appid": item["appid"], "page": item["page"],
            "media_id": _media(corp, item.get("media_id"), f"{field}.media_id")}


def default_content(corp: Corp) -> dict | None:
    return (corp.options or {}).get("welcome") or None


def set_default_content(corp: Corp, content: dict | None) -> dict | None:
    """Set (or clear, with None) the corp's default welcome, used by channels that ask for it and by adds
    without a channel."""
    checked = validate_content(corp, content) if content else None
    with unit_of_work():
        options = dict(corp.options or {})
        if checked:
            options["welcome"] = checked
        else:
            options.pop("welcome", None)
        corp.options = options
    return checked


def content_for(corp: Corp, channel: Channel | None) -> dict | None:
    """What to send for an add through this channel (or through none)."""
    if channel is None or channel.welcome_mode == "default":
        return default_content(corp)
    if channel.welcome_mode == "none":
        return None
    return channel.welcome or None


def message_for(content: dict, values: dict[str, str], host_media: Callable[[int], str]) -> MessageContent:
    """The host message: placeholders filled, our images replaced by the host's media ids (`host_media`)."""
    attachments = []
    for item in content.get("attachments") or []:
        if item["type"] == "image":
            attachments.append(Attachment("image", {"media_id": host_media(item["media_id"])}))
        elif item["type"] == "link":
            data = {"title": item["title"], "url": item["url"], "desc": item.get("desc"), "picurl": item.get("pic_url")}
            attachments.append(Attachment("link", {k: v for k, v in data.items() if v}))
        else:
            attachments.append(Attachment("miniprogram", {
                "title": item["title"], "appid": item["appid"], "page": item["page"],
                "pic_media_id": host_media(item["media_id"])}))
    text = placeholders.render(content.get("text") or "", values)
    return MessageContent(text=text.encode("utf-8")[:MAX_TEXT_BYTES].decode("utf-8", "ignore") or None,
                          attachments=attachments)


# ---------------------------------------------------------------- sending


@dataclass
class _Lookups:
    """Channels, employees and images met while sending a batch, each read (or uploaded) once."""

    corp: Corp
    host: Host
    channels: dict = field(default_factory=dict)
    employees: dict = field(default_factory=dict)
    media: dict = field(default_factory=dict)

    def host_media(self, media_id: int) -> str:
        if media_id not in self.media:
            self.media[media_id] = host_media_id(self.corp, media_id, self.host)
        return self.media[media_id]

    def channel(self, state: str | None) -> Channel | None:
        if state not in self.channels:
            self.channels[state] = channel_for_state(self.corp, state)
        return self.channels[state]

    def employee_name(self, host_id: str) -> str:
        if host_id not in self.employees:
            emp = find_employee(self.corp, host_id)
            if emp is not None:
                self.employees[host_id] = emp.name
            else:
                try:
                    self.employees[host_id] = self.host.get_employee(host_id).name
                except HostError:
                    self.employees[host_id] = ""
        return self.employees[host_id]


def _attempt(lookups: _Lookups, inbox_id: int | None, received_at, event: CustomerAdded) -> WelcomeDelivery:
    """Send one welcome (or decide there is none to send) and describe the outcome, unsaved."""
    corp = lookups.corp
    channel = lookups.channel(event.state)
    delivery = WelcomeDelivery(corp_id=corp.id, inbox_id=inbox_id, channel_id=channel.id if channel else None,
                               employee_host_id=event.employee_id, customer_host_id=event.customer_id,
                               received_at=received_at, status="none")
    content = content_for(corp, channel)
    if content is None:
        return delivery
    if utcnow() - received_at > WINDOW:
        delivery.status = "expired"
        return delivery
    try:
        text = content.get("text") or ""
        values = {"channel": channel.name if channel else ""}
        if "employee_name" in placeholders.used(text):
            values["employee_name"] = lookups.employee_name(event.employee_id)
        if "customer_name" in placeholders.used(text):
            late = utcnow() - received_at > NAME_LOOKUP_UNTIL
            values["customer_name"] = "" if late else _customer_name(event.customer_id, lookups.host)
        lookups.host.send_welcome(event.welcome_code, message_for(content, values, lookups.host_media))
        delivery.status, delivery.sent_at = "sent", utcnow()
    except HostError as exc:
        delivery.status = HOST_OUTCOMES.get(exc.errcode, "failed")
        delivery.error = str(exc)[:255]
        log.warning("welcome for inbox %s not sent: %s", inbox_id, exc)
    return delivery


def _customer_name(customer_id: str, host: Host) -> str:
    try:
        return host.get_customer(customer_id).customer.name
    except HostError:  # better a welcome without the name than none
        return ""


def _save(deliveries: list[WelcomeDelivery]) -> None:
    """Record outcomes; a row another worker recorded meanwhile wins (the host took the code once anyway)."""
    for delivery in deliveries:
        metrics.WELCOMES.labels(delivery.status).inc()
        if delivery.sent_at is not None:
            metrics.WELCOME_LATENCY.observe((delivery.sent_at - delivery.received_at).total_seconds())
    try:
        with unit_of_work():
            db.session.add_all(deliveries)
    except IntegrityError:
        for delivery in deliveries:
            try:
                with unit_of_work():
                    db.session.add(delivery)
            except IntegrityError:
                continue


def _due(rows: list[InboxEvent]) -> list[tuple[InboxEvent, CustomerAdded]]:
    """The add events among these rows that carry a welcome code and have no delivery yet."""
    ids = [r.id for r in rows]
    done = set(db.session.scalars(select(WelcomeDelivery.inbox_id).where(WelcomeDelivery.inbox_id.in_(ids))))
    due = []
    for row in rows:
        if row.id in done or row.event_type not in ADD_EVENTS:
            continue
        event = platforms().parse(row.platform, row.payload).event
        if isinstance(event, CustomerAdded) and event.welcome_code:
            due.append((row, event))
    return due


def send_for_inbox(inbox_ids: list[int]) -> int:
    """Send the welcomes of the add events among these inbox rows (the dispatch task's first job)."""
    rows = list(db.session.scalars(select(InboxEvent).where(InboxEvent.id.in_(inbox_ids),
                                                            InboxEvent.event_type.in_(ADD_EVENTS))
                                   .order_by(InboxEvent.id)))
    due = _due(rows)
    if not due:
        db.session.rollback()
        return 0
    deliveries, lookups = [], {}
    for row, event in due:
        if row.corp_id not in lookups:  # once per corp and batch: the host client and what it has looked up
            corp = db.session.get(Corp, row.corp_id)
            lookups[corp.id] = _Lookups(corp, host_for(corp))
        deliveries.append(_attempt(lookups[row.corp_id], row.id, row.received_at, event))
    sent = sum(1 for d in deliveries if d.status == "sent")
    _save(deliveries)
    return sent


def ensure_sent(corp: Corp, row: InboxEvent, event: CustomerAdded, host: Host) -> None:
    """Send this add's welcome unless it was already attempted (processing calls this first)."""
    if not event.welcome_code or not _due([row]):
        return
    _save([_attempt(_Lookups(corp, host), row.id, row.received_at, event)])


# ---------------------------------------------------------------- what an admin sees: did X get the welcome, and why not

STATUSES = ("sent", "used", "expired", "failed", "none")


def errcode_of(delivery: WelcomeDelivery) -> int | None:
    """The host's errcode, as the stored error names it (`api: errcode=41051 ...`)."""
    text = delivery.error or ""
    marker = text.find("errcode=")
    if marker < 0:
        return None
    digits = "".join(itertools.takewhile(str.isdigit, text[marker + 8:].lstrip("-")))
    return int(digits) if digits else None


def reason(delivery: WelcomeDelivery) -> str:
    """Why the delivery ended as it did, in words."""
    code = errcode_of(delivery)
    if delivery.status == "sent":
        return f"sent {latency(delivery):.1f} s after the add" if delivery.sent_at else "sent"
    if delivery.status == "used":
        return ("41051: the customer and the member are already chatting, or another app sent the welcome first "
                "(the host takes a welcome code once)")
    if delivery.status == "expired":
        if code == 41050:
            return "41050: the host says the welcome code is invalid or its 20 seconds are over"
        return "the 20-second window was over before the welcome could be sent"
    if delivery.status == "failed":
        return f"the host refused: {delivery.error}" if delivery.error else "failed"
    return "no welcome configured (the channel's welcome mode is none, or no corp default is set)"


def latency(delivery: WelcomeDelivery) -> float | None:
    """Seconds from the add's callback to the welcome sent."""
    if delivery.sent_at is None or delivery.received_at is None:
        return None
    return round((delivery.sent_at - delivery.received_at).total_seconds(), 3)
