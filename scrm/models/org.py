"""The host organisation: departments and employees (salespeople), kept current from the host."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scrm.models.base import BigId, Base, HostId, MYSQL_TABLE, utcnow

EMPLOYEE_STATUSES = ("active", "departed")


class Department(Base):
    __tablename__ = "department"
    __table_args__ = (UniqueConstraint("corp_id", "host_id"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    host_id: Mapped[str] = mapped_column(HostId)
    name: Mapped[str] = mapped_column(String(128))
    parent_host_id: Mapped[str | None] = mapped_column(HostId)
    order: Mapped[int] = mapped_column(BigInteger, default=0)
    deleted: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Employee(Base):
    __tablename__ = "employee"
    __table_args__ = (UniqueConstraint("corp_id", "host_id"), Index(None, "corp_id", "status"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    host_id: Mapped[str] = mapped_column(HostId)  # WeCom userid / DingTalk userId
    name: Mapped[str] = mapped_column(String(128))
    position: Mapped[str | None] = mapped_column(String(128))
    mobile: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(128))
    avatar: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default="active")
    departed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    departments: Mapped[list[Department]] = relationship(secondary="employee_department", lazy="selectin")


class EmployeeDepartment(Base):
    __tablename__ = "employee_department"
    __table_args__ = (Index(None, "department_id"), MYSQL_TABLE)

    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id", ondelete="CASCADE"), primary_key=True)
    is_leader: Mapped[bool] = mapped_column(default=False)
    order: Mapped[int] = mapped_column(Integer, default=0)
