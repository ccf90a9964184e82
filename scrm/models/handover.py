"""Handovers of customers and group chats from one employee to others (离职继承 / 在职继承), line by line, each line
with its state and every transition it went through; the customer pool (公海); recorded domain events."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from scrm.models.base import BigId, Base, HostId, Moment, MYSQL_TABLE, utcnow

HANDOVER_KINDS = ("departed", "onjob")
HANDOVER_STATUSES = ("planned", "running", "done")
#: planned → requested → waiting (the host's 24 hours) → one of the final states
LINE_STATES = ("planned", "requested", "waiting", "done", "refused", "taker_at_limit", "no_longer_customer",
               "failed")
FINAL_STATES = frozenset(LINE_STATES[3:])
ASKED_STATES = ("requested", "waiting")  # the host has been asked and has not settled
OPEN_STATES = ("planned", *ASKED_STATES)  # a handover still means to move it
POOL_REASONS = ("ended", "departed", "no_followup", "stage_lost")


class Handover(Base):
    __tablename__ = "handover"
    __table_args__ = (Index(None, "corp_id", "status"), Index(None, "from_employee_id"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # departed | onjob
    from_employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"))
    split: Mapped[str] = mapped_column(String(16), default="even")  # even | load
    reason: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(String(200))  # on-job: told to the customer (transfer_success_msg)
    requested_by: Mapped[str] = mapped_column(String(128))  # who asked: "token:<id>", "cli", "claim:<employee id>"
    status: Mapped[str] = mapped_column(String(16), default="planned")
    created_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(Moment)
    finished_at: Mapped[datetime | None] = mapped_column(Moment)
    next_poll_at: Mapped[datetime | None] = mapped_column(Moment)  # when the host's results are read next


class HandoverLine(Base):
    """One customer or one group chat of a handover, and where it stands."""

    __tablename__ = "handover_line"
    __table_args__ = (Index(None, "handover_id", "state"), Index(None, "corp_id", "customer_id", "state"),
                      Index(None, "corp_id", "group_chat_id", "state"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    handover_id: Mapped[int] = mapped_column(ForeignKey("handover.id", ondelete="CASCADE"))
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    group_chat_id: Mapped[int | None] = mapped_column(ForeignKey("group_chat.id", ondelete="CASCADE"))
    host_id: Mapped[str] = mapped_column(HostId)  # the external_userid or chat_id the host is asked about
    from_employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"))
    to_employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(24), default="planned")
    errcode: Mapped[int | None] = mapped_column(Integer)
    requested_at: Mapped[datetime | None] = mapped_column(Moment)
    settled_at: Mapped[datetime | None] = mapped_column(Moment)  # the host's takeover time, or when it failed
    old_relationship_id: Mapped[int | None] = mapped_column(ForeignKey("relationship.id", ondelete="SET NULL"))
    new_relationship_id: Mapped[int | None] = mapped_column(ForeignKey("relationship.id", ondelete="SET NULL"))
    carried_over: Mapped[bool] = mapped_column(default=False)  # remark and tags told to the host for the taker
    updated_at: Mapped[datetime] = mapped_column(Moment, default=utcnow, onupdate=utcnow)


class HandoverStep(Base):
    """A transition of a line: from, to, when, and what told us (our request, a result read, a callback)."""

    __tablename__ = "handover_step"
    __table_args__ = (Index(None, "line_id"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("handover_line.id", ondelete="CASCADE"))
    from_state: Mapped[str] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(32))  # request | transfer_result | add_event | transfer_fail | ...
    errcode: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(Moment, default=utcnow)


class PoolEntry(Base):
    """A customer in the pool (公海): nobody follows them any more, their follower left, or a corp rule put them
    back. It leaves the pool when claimed or when someone follows the customer again."""

    __tablename__ = "pool_entry"
    __table_args__ = (Index(None, "corp_id", "status", "entered_at"), Index(None, "customer_id", "status"),
                      Index(None, "claimed_by", "claimed_at"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(24))
    from_employee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | claimed | closed
    entered_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None] = mapped_column(Moment)
    handover_id: Mapped[int | None] = mapped_column(ForeignKey("handover.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column(Moment)


class DomainEvent(Base):
    """Something the product did that others may be told of (handover.completed): kept for webhooks."""

    __tablename__ = "domain_event"
    __table_args__ = (Index(None, "corp_id", "kind", "id"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[int | None] = mapped_column(BigId)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)
