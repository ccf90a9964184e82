"""Customers (external contacts) and their relationships with employees: many-to-many, each pair with a lifecycle."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scrm.models.base import BigId, Base, HostId, Moment, MYSQL_TABLE, utcnow
from scrm.models.org import Employee

RELATIONSHIP_STATUSES = ("active", "removed_by_customer", "removed_by_employee", "transferred")


class Customer(Base):
    __tablename__ = "customer"
    __table_args__ = (UniqueConstraint("corp_id", "host_id"), Index(None, "corp_id", "name"),
                      Index(None, "corp_id", "stage", "stages_reached"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    host_id: Mapped[str] = mapped_column(HostId)  # WeCom external_userid / DingTalk external contact userId
    name: Mapped[str] = mapped_column(String(128))  # customer-controlled: escape wherever it is shown
    avatar: Mapped[str | None] = mapped_column(String(512))
    type: Mapped[int | None] = mapped_column(SmallInteger)  # 1 WeChat user, 2 WeCom user
    gender: Mapped[int | None] = mapped_column(SmallInteger)
    unionid: Mapped[str | None] = mapped_column(HostId)
    corp_name: Mapped[str | None] = mapped_column(String(128))
    corp_full_name: Mapped[str | None] = mapped_column(String(255))
    position: Mapped[str | None] = mapped_column(String(128))
    mobile: Mapped[str | None] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(32), default="new")
    #: the stages the customer ever moved to (the `to_stage`s of its history), as a set of names: see
    #: `scrm.services.stage_facts` (which keeps it) for the encoding; never set by hand
    stages_reached: Mapped[str] = mapped_column(String(600), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    relationships: Mapped[list["Relationship"]] = relationship(back_populates="customer")


class Relationship(Base):
    """One employee following one customer. Ended relationships are kept; re-adding reactivates the row."""

    __tablename__ = "relationship"
    __table_args__ = (
        UniqueConstraint("corp_id", "employee_id", "customer_id"),
        Index(None, "customer_id", "status"),
        Index(None, "employee_id", "status"),
        Index(None, "corp_id", "status", "started_at"),
        Index(None, "channel_id", "started_at"),
        # covering indexes: the customers of a channel or an employee without reading the relationships
        Index(None, "channel_id", "customer_id"),
        Index(None, "employee_id", "customer_id"),
        MYSQL_TABLE,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    remark: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(255))
    remark_mobiles: Mapped[list] = mapped_column(JSON, default=list)
    add_way: Mapped[int | None] = mapped_column(SmallInteger)
    oper_user_id: Mapped[str | None] = mapped_column(HostId)
    state: Mapped[str | None] = mapped_column(String(64))  # the contact way's state at the add
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channel.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(24), default="active")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(64))
    # the relationship that took this one over (a handover): set when it ends as transferred
    transferred_to_id: Mapped[int | None] = mapped_column(ForeignKey("relationship.id", ondelete="SET NULL"))
    seen_by_sync: Mapped[int | None]  # the last sync run that found it on the host; an older one means drift
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # to the microsecond: reconcile spares what changed after its run began (see services.sync)
    updated_at: Mapped[datetime] = mapped_column(Moment, default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="relationships")
    employee: Mapped[Employee] = relationship()
