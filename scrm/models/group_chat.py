"""Customer group chats and their members (employees and external customers)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scrm.models.base import BigId, Base, HostId, MYSQL_TABLE, utcnow


class GroupChat(Base):
    __tablename__ = "group_chat"
    __table_args__ = (UniqueConstraint("corp_id", "host_id"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    host_id: Mapped[str] = mapped_column(HostId)  # chat_id
    name: Mapped[str] = mapped_column(String(128), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    notice: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | dismissed
    member_version: Mapped[str | None] = mapped_column(String(64))
    host_created_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    members: Mapped[list["GroupMember"]] = relationship(cascade="all, delete-orphan")


class GroupMember(Base):
    __tablename__ = "group_member"
    __table_args__ = (UniqueConstraint("group_chat_id", "member_host_id"), Index(None, "customer_id"),
                      MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_chat_id: Mapped[int] = mapped_column(ForeignKey("group_chat.id", ondelete="CASCADE"))
    member_host_id: Mapped[str] = mapped_column(HostId)
    type: Mapped[int] = mapped_column(SmallInteger)  # 1 employee, 2 external
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"))
    nickname: Mapped[str | None] = mapped_column(String(128))
    join_time: Mapped[datetime | None]
    join_scene: Mapped[int | None] = mapped_column(SmallInteger)
    invitor: Mapped[str | None] = mapped_column(HostId)
    left_at: Mapped[datetime | None]
