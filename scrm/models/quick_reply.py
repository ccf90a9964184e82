"""The quick-reply library (话术库): groups of ready messages salespeople send from the chat sidebar."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from scrm.models.base import BigId, Base, MYSQL_TABLE, utcnow

QUICK_REPLY_TYPES = ("text", "link", "image", "miniprogram")


class QuickReplyGroup(Base):
    __tablename__ = "quick_reply_group"
    __table_args__ = (Index(None, "corp_id", "order"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuickReply(Base):
    """One message of one type: {"type": "text", "text"} or an attachment as welcome messages take them."""

    __tablename__ = "quick_reply"
    __table_args__ = (Index(None, "corp_id", "group_id", "order"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("quick_reply_group.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict] = mapped_column(JSON, default=dict)
    order: Mapped[int] = mapped_column(Integer, default=0)
    uses: Mapped[int] = mapped_column(Integer, default=0)  # times sent from the sidebar
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
