"""Channel codes (contact ways): the QR code is the lead, and its `state` attributes each new friend."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scrm.models.base import BigId, Base, HostId, MYSQL_TABLE, utcnow


class Channel(Base):
    __tablename__ = "channel"
    __table_args__ = (UniqueConstraint("corp_id", "state"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(30))  # WeCom caps state at 30 characters
    config_id: Mapped[str | None] = mapped_column(HostId)  # the host's contact-way id
    qr_url: Mapped[str | None] = mapped_column(String(512))
    skip_verify: Mapped[bool] = mapped_column(default=True)
    remark: Mapped[str | None] = mapped_column(String(30))
    welcome: Mapped[dict] = mapped_column(JSON, default=dict)  # text and attachments
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | paused | deleted
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    members: Mapped[list["ChannelMember"]] = relationship(cascade="all, delete-orphan")


class ChannelMember(Base):
    __tablename__ = "channel_member"
    __table_args__ = (MYSQL_TABLE,)

    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"), primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"), primary_key=True)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    daily_cap: Mapped[int | None] = mapped_column(Integer)
    is_backup: Mapped[bool] = mapped_column(default=False)
