"""Local accounts of the console: the embedded default's first admin and the break-glass account of a deployment
(created with `scrm user create`). Employees sign in through their host instead and need no row here."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from scrm.models.base import BigId, Base, MYSQL_TABLE, utcnow


class WebUser(Base):
    __tablename__ = "web_user"
    __table_args__ = (MYSQL_TABLE,)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    corp_id: Mapped[int | None] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))  # None: every corp
    role: Mapped[str] = mapped_column(String(16), default="admin")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
