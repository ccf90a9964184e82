"""Channel codes (contact ways): the QR code is the lead, and its `state` attributes each new friend.

A channel belongs to one corp. On WeCom it is a contact way (`config_id`, the host's QR); on DingTalk, which has no
contact ways, the product renders its own QR pointing to the landing page `/h5/c/<code>`. Members are the employees
who receive its customers; allocation rules decide which of them the host may hand a customer to right now.
"""
from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scrm.models.base import BigId, Base, Blob, HostId, Moment, MYSQL_TABLE, utcnow

CHANNEL_STATUSES = ("active", "paused", "expired", "used", "deleted")
ALLOCATIONS = ("round_robin", "weighted")
WELCOME_MODES = ("channel", "default", "none")


def new_channel_code() -> str:
    """The public key of a channel's landing page and QR assets: short, URL-safe, unguessable."""
    return secrets.token_urlsafe(6)


class Channel(Base):
    __tablename__ = "channel"
    __table_args__ = (UniqueConstraint("corp_id", "state"), UniqueConstraint("code"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(30))  # WeCom caps state at 30 characters
    code: Mapped[str] = mapped_column(String(16), default=new_channel_code)  # public key of the landing page and of the QR assets
    config_id: Mapped[str | None] = mapped_column(HostId)  # the host's contact-way id
    qr_url: Mapped[str | None] = mapped_column(String(512))
    skip_verify: Mapped[bool] = mapped_column(default=True)
    remark: Mapped[str | None] = mapped_column(String(30))
    allocation: Mapped[str] = mapped_column(String(16), default="round_robin")
    remark_template: Mapped[str | None] = mapped_column(String(64))  # e.g. "{channel}-{date}"
    welcome_mode: Mapped[str] = mapped_column(String(16), default="default")
    welcome: Mapped[dict] = mapped_column(JSON, default=dict)  # {"text": ..., "attachments": [...]}
    temporary: Mapped[bool] = mapped_column(default=False)  # one-time code: used up by its first customer
    expires_at: Mapped[datetime | None]
    listed_user_ids: Mapped[list] = mapped_column(JSON, default=list)  # who the host's contact way lists now
    qr_image: Mapped[bytes | None] = mapped_column(Blob, deferred=True)  # the host's QR image, fetched once
    qr_content: Mapped[str | None] = mapped_column(String(512))  # what that QR encodes, for SVG and posters
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    members: Mapped[list["ChannelMember"]] = relationship(cascade="all, delete-orphan",
                                                           order_by="ChannelMember.position")
    tags: Mapped[list["ChannelTag"]] = relationship(cascade="all, delete-orphan")


class ChannelMember(Base):
    """An employee receiving a channel's customers: weight, daily cap, weekly schedule, or backup."""

    __tablename__ = "channel_member"
    __table_args__ = (MYSQL_TABLE,)

    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"), primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    daily_cap: Mapped[int | None] = mapped_column(Integer)
    is_backup: Mapped[bool] = mapped_column(default=False)
    # {"mon": [["09:00", "18:00"]], ...} in the corp's time zone; None = any time
    schedule: Mapped[dict | None] = mapped_column(JSON)


class ChannelTag(Base):
    """A tag applied to every customer added through the channel."""

    __tablename__ = "channel_tag"
    __table_args__ = (MYSQL_TABLE,)

    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True)


class ChannelCost(Base):
    """What a channel cost on one day (in cents), for the cost per acquisition."""

    __tablename__ = "channel_cost"
    __table_args__ = (MYSQL_TABLE,)

    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class WelcomeDelivery(Base):
    """One welcome message the product tried to send, and what the host said (sent, used, expired, failed...)."""

    __tablename__ = "welcome_delivery"
    # (customer, corp): a customer's deliveries for the 360 and the sidebar (welcome_log.latest_by_pair)
    __table_args__ = (UniqueConstraint("inbox_id"), Index(None, "channel_id", "created_at"),
                      Index(None, "customer_host_id", "corp_id"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox_event.id", ondelete="CASCADE"))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channel.id", ondelete="SET NULL"))
    employee_host_id: Mapped[str] = mapped_column(HostId)
    customer_host_id: Mapped[str] = mapped_column(HostId)
    status: Mapped[str] = mapped_column(String(16))  # sent | used (41051) | expired (late, or 41050) | failed | none
    error: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(Moment)  # the add's callback arrived: the 20-second window starts
    sent_at: Mapped[datetime | None] = mapped_column(Moment)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Media(Base):
    """An image uploaded for welcome messages; the host's copy (temporary media) is renewed when it expires."""

    __tablename__ = "media"
    __table_args__ = (Index(None, "corp_id", "sha256"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(128))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(Blob, deferred=True)
    host_media_id: Mapped[str | None] = mapped_column(String(255))
    host_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
