"""Follow-up work: what a handler leaves for later (a channel's rules after an add, an employee's notification),
stored in the same transaction as the writes that call for it, so a crash at any instant loses none of it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from scrm.models.base import BigId, Base, Moment, MYSQL_TABLE, utcnow

FOLLOWUP_STATUSES = ("pending", "running", "done", "dead")


class Followup(Base):
    __tablename__ = "followup"
    __table_args__ = (Index(None, "status", "due_at"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))  # what to do, for example "scrm.channels.after_add"
    args: Mapped[str] = mapped_column(Text)  # its arguments, a JSON list
    inbox_id: Mapped[int | None] = mapped_column(BigInteger)  # the host event that called for it, if any
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)  # not before (a retry waits out a block)
    enqueued_at: Mapped[datetime | None] = mapped_column(Moment)  # when a task was last published for it
    locked_until: Mapped[datetime | None] = mapped_column(Moment)  # a worker's lease
    done_at: Mapped[datetime | None] = mapped_column(Moment)
