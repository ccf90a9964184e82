"""API tokens: only a hash is stored; the token itself is shown once, when it is created."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from scrm.models.base import BigId, Base, MYSQL_TABLE, utcnow

ROLES = ("admin", "manager", "sales")


class ApiToken(Base):
    __tablename__ = "api_token"
    __table_args__ = (MYSQL_TABLE,)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    role: Mapped[str] = mapped_column(String(16))
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"))
    label: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
