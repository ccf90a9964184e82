"""A customer's stage (new, contacted, intent, won, lost, or the corp's own list) and its history."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from scrm.models.base import BigId, Base, MYSQL_TABLE, utcnow

DEFAULT_STAGES = ("new", "contacted", "intent", "won", "lost")


class StageChange(Base):
    __tablename__ = "stage_change"
    __table_args__ = (Index(None, "customer_id", "changed_at"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
