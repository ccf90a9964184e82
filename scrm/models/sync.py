"""Sync runs: a full (or partial) read of a corp's host data, with a checkpoint so a crash resumes, not restarts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from scrm.models.base import BigId, Base, Moment, MYSQL_TABLE, utcnow


class SyncRun(Base):
    __tablename__ = "sync_run"
    __table_args__ = (Index(None, "corp_id", "status"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    stages: Mapped[list] = mapped_column(JSON)  # e.g. ["employees", "tags", "customers", "groups"]
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | done | failed
    checkpoint: Mapped[dict] = mapped_column(JSON, default=dict)  # stage, employee batch, cursor
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]
