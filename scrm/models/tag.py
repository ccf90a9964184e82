"""The corp tag library (groups of tags) and the tags on each relationship."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scrm.models.base import BigId, Base, HostId, MYSQL_TABLE, utcnow


class TagGroup(Base):
    __tablename__ = "tag_group"
    __table_args__ = (UniqueConstraint("corp_id", "host_id"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    host_id: Mapped[str | None] = mapped_column(HostId)  # None: a local-only group (DingTalk local tags)
    name: Mapped[str] = mapped_column(String(64))
    order: Mapped[int] = mapped_column(BigInteger, default=0)
    deleted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tags: Mapped[list["Tag"]] = relationship(back_populates="group", order_by="Tag.order")


class Tag(Base):
    __tablename__ = "tag"
    __table_args__ = (UniqueConstraint("corp_id", "host_id"), Index(None, "group_id"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_id: Mapped[int] = mapped_column(ForeignKey("corp.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("tag_group.id", ondelete="CASCADE"))
    host_id: Mapped[str | None] = mapped_column(HostId)
    name: Mapped[str] = mapped_column(String(64))
    order: Mapped[int] = mapped_column(BigInteger, default=0)
    deleted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    group: Mapped[TagGroup] = relationship(back_populates="tags")


class RelationshipTag(Base):
    __tablename__ = "relationship_tag"
    __table_args__ = (Index(None, "tag_id", "relationship_id"), Index(None, "tag_id", "customer_id"), MYSQL_TABLE)

    relationship_id: Mapped[int] = mapped_column(ForeignKey("relationship.id", ondelete="CASCADE"),
                                                 primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True)
    # the relationship's customer, copied so "customers with tag T" is read from one index alone
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
