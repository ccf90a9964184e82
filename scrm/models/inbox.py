"""The inbox: one row per host event received, stored before the callback is acknowledged."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.mysql import LONGTEXT
from sqlalchemy.orm import Mapped, mapped_column

from scrm.models.base import BigId, Base, Moment, MYSQL_TABLE, utcnow

INBOX_STATUSES = ("pending", "processing", "done", "ignored", "dead")


class InboxEvent(Base):
    __tablename__ = "inbox_event"
    __table_args__ = (
        UniqueConstraint("corp_id", "dedupe_key"),
        Index(None, "status", "received_at"),
        Index(None, "corp_id", "ordering_key", "id"),
        MYSQL_TABLE,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(96))
    ordering_key: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[str] = mapped_column(Text().with_variant(LONGTEXT(), "mysql", "mariadb"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)  # to the microsecond: latencies
    next_attempt_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]  # a worker's lease; an expired lease means the worker died
    # when a processing task was last published for the row: the sweeper leaves rows waiting in a busy queue alone
    enqueued_at: Mapped[datetime | None] = mapped_column(Moment)
    processed_at: Mapped[datetime | None] = mapped_column(Moment)
