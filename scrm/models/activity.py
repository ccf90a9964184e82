"""What happened to a customer: timeline entries and follow-up notes, visible to every follower."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from scrm.models.base import BigId, Base, MYSQL_TABLE, utcnow


class TimelineEntry(Base):
    __tablename__ = "timeline_entry"
    __table_args__ = (Index(None, "customer_id", "occurred_at"), Index(None, "channel_id", "occurred_at"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))  # by whom
    relationship_id: Mapped[int | None] = mapped_column(ForeignKey("relationship.id", ondelete="SET NULL"))
    # the channel of the relationship an add or a removal concerns: channel statistics count these entries
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channel.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))  # added, removed, tagged, remark, note, stage, transfer, ...
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    # Entries written while handling a host event carry a key, so handling the event twice writes one entry.
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Note(Base):
    __tablename__ = "note"
    __table_args__ = (Index(None, "customer_id", "created_at"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]


class GroupNote(Base):
    """A note employees keep on a customer group chat (the group sidebar's notes)."""

    __tablename__ = "group_note"
    __table_args__ = (Index(None, "group_chat_id", "created_at"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    group_chat_id: Mapped[int] = mapped_column(ForeignKey("group_chat.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
