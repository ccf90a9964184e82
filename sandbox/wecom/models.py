"""Tables of the WeCom sandbox (prefix sbx_wc_), the host rules' constants, and the row operations that its
endpoints and actions share (codes a person is given, tags deleted, takeovers settled)."""
from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from sqlalchemy import (Boolean, Double, Index, Integer, JSON, String, Text, UniqueConstraint, delete, func,
                        select)
from sqlalchemy.orm import Mapped, Session, mapped_column

from sandbox.core import Base

WELCOME_TTL = 20
OAUTH_CODE_TTL = 300
TICKET_TTL = 7200
TAKEOVER_DELAY = 24 * 3600
TRANSFER_WINDOW = 90 * 86400
TRANSFERS_PER_WINDOW = 2  # per customer (doc 92125) and, on-job, per group chat (doc 95703)
CUSTOMER_LIMIT = 50000  # customers one member may follow; a takeover past it ends with status 4 (doc 94088)
GROUPCHAT_TRANSFERS_PER_DAY = 300  # chats handed to one new owner per natural day (docs 92127, 95703)
CN_UTC_OFFSET = 8 * 3600  # WeCom's natural days are Beijing days
MEDIA_TTL = 3 * 86400  # temporary media (doc 90253)
LEFT = 5  # user status: left the company (kept so their customers can be listed as unassigned)
ALNUM = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 28) -> str:
    return prefix + "".join(secrets.choice(ALNUM) for _ in range(length))


# ---------------------------------------------------------------- tables


class Token(Base):
    """Access tokens and JS-SDK tickets; kind is access | jsapi | agent."""

    __tablename__ = "sbx_wc_token"

    token: Mapped[str] = mapped_column(String(128), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="access")
    expires_at: Mapped[float] = mapped_column(Double)
    __table_args__ = (Index("ix_sbx_wc_token_corp", "corp_id", "kind", "expires_at"),)


class Department(Base):
    __tablename__ = "sbx_wc_department"

    corp_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dept_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[int] = mapped_column(Integer, default=0)
    order: Mapped[int] = mapped_column(Integer, default=0)


class User(Base):
    """A member; status 1 active, 2 disabled, 4 not activated, 5 left."""

    __tablename__ = "sbx_wc_user"

    corp_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    userid: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    department: Mapped[list] = mapped_column(JSON, default=list)
    main_department: Mapped[int] = mapped_column(Integer, default=1)
    position: Mapped[str] = mapped_column(String(64), default="")
    mobile: Mapped[str] = mapped_column(String(32), default="")
    gender: Mapped[int] = mapped_column(Integer, default=0)
    email: Mapped[str] = mapped_column(String(128), default="")
    avatar: Mapped[str] = mapped_column(String(256), default="")
    alias: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[int] = mapped_column(Integer, default=1)
    left_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    __table_args__ = (Index("ix_sbx_wc_user_status", "corp_id", "status"),)


class Customer(Base):
    __tablename__ = "sbx_wc_customer"

    external_userid: Mapped[str] = mapped_column(String(64), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128))
    type: Mapped[int] = mapped_column(Integer, default=1)
    gender: Mapped[int] = mapped_column(Integer, default=0)
    unionid: Mapped[str] = mapped_column(String(64), default="")
    avatar: Mapped[str] = mapped_column(String(256), default="")
    corp_name: Mapped[str] = mapped_column(String(128), default="")
    corp_full_name: Mapped[str] = mapped_column(String(256), default="")
    position: Mapped[str] = mapped_column(String(64), default="")


class Follow(Base):
    """One employee following one customer, with that employee's remark and tags."""

    __tablename__ = "sbx_wc_follow"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    userid: Mapped[str] = mapped_column(String(64))
    external_userid: Mapped[str] = mapped_column(String(64))
    remark: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str] = mapped_column(String(256), default="")
    remark_company: Mapped[str] = mapped_column(String(64), default="")
    remark_mobiles: Mapped[list] = mapped_column(JSON, default=list)
    tag_ids: Mapped[list] = mapped_column(JSON, default=list)
    createtime: Mapped[int] = mapped_column(Integer, default=0)
    add_way: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(64), default="")
    oper_userid: Mapped[str] = mapped_column(String(64), default="")
    __table_args__ = (UniqueConstraint("corp_id", "userid", "external_userid", name="uq_sbx_wc_follow"),
                      Index("ix_sbx_wc_follow_customer", "external_userid"))


class TagGroup(Base):
    __tablename__ = "sbx_wc_tag_group"

    group_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64))
    order: Mapped[int] = mapped_column(Integer, default=0)
    create_time: Mapped[int] = mapped_column(Integer, default=0)


class Tag(Base):
    __tablename__ = "sbx_wc_tag"

    tag_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    group_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64))
    order: Mapped[int] = mapped_column(Integer, default=0)
    create_time: Mapped[int] = mapped_column(Integer, default=0)


class ContactWay(Base):
    __tablename__ = "sbx_wc_contact_way"

    config_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[int] = mapped_column(Integer)
    scene: Mapped[int] = mapped_column(Integer)
    style: Mapped[int] = mapped_column(Integer, default=0)
    remark: Mapped[str] = mapped_column(String(64), default="")
    skip_verify: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(64), default="")
    users: Mapped[list] = mapped_column(JSON, default=list)
    parties: Mapped[list] = mapped_column(JSON, default=list)
    is_temp: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_in: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Double, default=0.0)
    first_added_at: Mapped[float | None] = mapped_column(Double, nullable=True)  # a temporary way's one customer

    def expired(self, now: float) -> bool:
        """A temporary way stops working `expires_in` seconds after it was created, or as soon as its first customer
        added through it: its QR code is invalid right after the first add (doc 92572)."""
        if not self.is_temp:
            return False
        return self.first_added_at is not None or now >= self.created_at + (self.expires_in or 0)


class WelcomeCode(Base):
    __tablename__ = "sbx_wc_welcome"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    userid: Mapped[str] = mapped_column(String(64))
    external_userid: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[float] = mapped_column(Double)
    used: Mapped[bool] = mapped_column(Boolean, default=False)
    message: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # what was sent, for tests and demos


class Media(Base):
    """An uploaded temporary media file (doc 90253): its digest and size only, never the bytes."""

    __tablename__ = "sbx_wc_media"

    media_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Double)


class Transfer(Base):
    """A takeover request; status 2 waiting, 1 done, 3 refused, 4 taker at limit, 5 no record (doc 94088)."""

    __tablename__ = "sbx_wc_transfer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    external_userid: Mapped[str] = mapped_column(String(64))
    handover: Mapped[str] = mapped_column(String(64))
    takeover: Mapped[str] = mapped_column(String(64))
    resigned: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[int] = mapped_column(Integer, default=2)
    created_at: Mapped[float] = mapped_column(Double)
    takeover_time: Mapped[float | None] = mapped_column(Double, nullable=True)
    message: Mapped[str] = mapped_column(String(256), default="")
    __table_args__ = (Index("ix_sbx_wc_transfer_pair", "corp_id", "handover", "takeover", "resigned"),
                      Index("ix_sbx_wc_transfer_customer", "external_userid", "created_at"),
                      Index("ix_sbx_wc_transfer_due", "corp_id", "status", "created_at"))


class GroupChat(Base):
    """A customer group chat; status 0 normal, 1 owner left, 2 inheriting, 3 inherited."""

    __tablename__ = "sbx_wc_group_chat"

    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    owner: Mapped[str] = mapped_column(String(64))
    create_time: Mapped[int] = mapped_column(Integer, default=0)
    notice: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[int] = mapped_column(Integer, default=0)
    admin_list: Mapped[list] = mapped_column(JSON, default=list)
    member_version: Mapped[str] = mapped_column(String(64), default="")


class GroupChatTransfer(Base):
    """A group chat handed to a new owner, kept for the per-day and per-90-days caps (docs 92127, 95703)."""

    __tablename__ = "sbx_wc_group_chat_transfer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    old_owner: Mapped[str] = mapped_column(String(64))
    new_owner: Mapped[str] = mapped_column(String(64))
    resigned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Double)
    __table_args__ = (Index("ix_sbx_wc_chat_transfer_owner", "corp_id", "new_owner", "created_at"),
                      Index("ix_sbx_wc_chat_transfer_chat", "chat_id", "created_at"))


class GroupMember(Base):
    __tablename__ = "sbx_wc_group_member"

    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    userid: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[int] = mapped_column(Integer, default=2)
    join_time: Mapped[int] = mapped_column(Integer, default=0)
    join_scene: Mapped[int] = mapped_column(Integer, default=1)
    invitor: Mapped[str] = mapped_column(String(64), default="")
    group_nickname: Mapped[str] = mapped_column(String(64), default="")
    name: Mapped[str] = mapped_column(String(128), default="")
    unionid: Mapped[str] = mapped_column(String(64), default="")


class MassMessage(Base):
    __tablename__ = "sbx_wc_msg"

    msgid: Mapped[str] = mapped_column(String(64), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    chat_type: Mapped[str] = mapped_column(String(16), default="single")
    creator: Mapped[str] = mapped_column(String(64), default="")
    create_type: Mapped[int] = mapped_column(Integer, default=0)
    create_time: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list] = mapped_column(JSON, default=list)
    __table_args__ = (Index("ix_sbx_wc_msg_time", "corp_id", "create_time"),)


class MassTarget(Base):
    """One recipient of a mass message by one member; status 0 unsent, 1 sent, 2 not a friend, 3 got another."""

    __tablename__ = "sbx_wc_msg_target"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    msgid: Mapped[str] = mapped_column(String(64))
    userid: Mapped[str] = mapped_column(String(64))
    external_userid: Mapped[str] = mapped_column(String(64), default="")
    chat_id: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[int] = mapped_column(Integer, default=0)
    send_time: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (Index("ix_sbx_wc_msg_target", "msgid", "userid", "id"),)


class OAuthCode(Base):
    __tablename__ = "sbx_wc_oauth_code"

    code: Mapped[str] = mapped_column(String(128), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    userid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    external_userid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    openid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    issued_at: Mapped[float] = mapped_column(Double)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class AppMessage(Base):
    """A message/send call, kept so tests and demos can see what employees were told."""

    __tablename__ = "sbx_wc_app_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    agentid: Mapped[str] = mapped_column(String(32))
    touser: Mapped[list] = mapped_column(JSON, default=list)
    msgtype: Mapped[str] = mapped_column(String(32))
    content: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Double)


# ---------------------------------------------------------------- shared row operations


def issue_welcome_code(s: Session, corp_id: str, userid: str, external_userid: str, now: float) -> str:
    code = secrets.token_urlsafe(32)
    s.add(WelcomeCode(code=code, corp_id=corp_id, userid=userid, external_userid=external_userid, issued_at=now))
    return code


def issue_oauth_code(s: Session, corp_id: str, now: float, *, userid: str | None = None,
                     external_userid: str | None = None) -> str:
    code = secrets.token_urlsafe(32)
    s.add(OAuthCode(code=code, corp_id=corp_id, userid=userid, external_userid=external_userid,
                    openid=None if userid else "o" + new_id("", 27), issued_at=now))
    return code


def delete_tags(s: Session, corp_id: str, tag_ids: list[str], group_ids: list[str]) -> None:
    """Delete tags and groups; follows keep stale ids, which reads filter out."""
    touched = set(s.scalars(select(Tag.group_id).where(Tag.tag_id.in_(tag_ids)))) if tag_ids else set()
    if tag_ids:
        s.execute(delete(Tag).where(Tag.tag_id.in_(tag_ids)))
    if group_ids:
        s.execute(delete(Tag).where(Tag.group_id.in_(group_ids)))
        s.execute(delete(TagGroup).where(TagGroup.group_id.in_(group_ids)))
    for gid in touched - set(group_ids):
        if s.scalar(select(Tag.tag_id).where(Tag.group_id == gid).limit(1)) is None:
            s.execute(delete(TagGroup).where(TagGroup.group_id == gid))


def day_start(now: float) -> float:
    """The start of the natural (Beijing) day that `now` falls in."""
    return now - (now + CN_UTC_OFFSET) % 86400


@dataclass(frozen=True)
class Settled:
    """A takeover that ended: who handed over, who took over, and whether the host tells the takeover member
    with add_external_contact (not when they were friends already, nor when the customer comes back to them);
    `failed` is the FailReason of a takeover that did not happen (transfer_fail, doc 92130)."""

    handover: str
    takeover: str
    external_userid: str
    added: bool = False
    failed: str = ""


def fail_transfer(s: Session, t: Transfer, status: int) -> None:
    """End a waiting takeover without it: 3 refused by the customer, 4 takeover member at their limit. An on-job
    customer stays with the handover member; a departed member's customer is lost (community answer quoted in
    the reference, "refused/failed 离职 → customer lost"): the departed member's follow goes, so the customer
    leaves get_unassigned_list. The host's only callback is transfer_fail."""
    t.status = status
    if t.resigned:
        s.execute(delete(Follow).where(Follow.corp_id == t.corp_id, Follow.userid == t.handover,
                                       Follow.external_userid == t.external_userid))


def settle_transfers(s: Session, corp_id: str, now: float, customer_limit: int = CUSTOMER_LIMIT) -> list[Settled]:
    """End takeovers whose 24 hours have passed on the sandbox clock (lazily, on the next read): 1 done; 5 when the
    handover member no longer follows the customer (either side deleted the other meanwhile), without callbacks;
    4 when the takeover member already follows `customer_limit` customers. The caller sends the host's callbacks
    for what this returns once its transaction is committed (doc 96325)."""
    due = list(s.scalars(select(Transfer).where(Transfer.corp_id == corp_id, Transfer.status == 2,
                                                Transfer.created_at <= now - TAKEOVER_DELAY)
                              .order_by(Transfer.id)))
    settled = []
    held: dict[str, int] = {}  # customers each takeover member follows, kept current through this batch
    for t in due:
        old = s.scalar(select(Follow).where(Follow.corp_id == corp_id, Follow.userid == t.handover,
                                            Follow.external_userid == t.external_userid))
        if old is None:
            t.status = 5
            continue
        taken = s.scalar(select(Follow.id).where(Follow.corp_id == corp_id, Follow.userid == t.takeover,
                                                 Follow.external_userid == t.external_userid))
        if taken is None:
            if t.takeover not in held:
                held[t.takeover] = s.scalar(select(func.count()).select_from(Follow).where(
                    Follow.corp_id == corp_id, Follow.userid == t.takeover)) or 0
            if held[t.takeover] >= customer_limit:
                fail_transfer(s, t, 4)
                settled.append(Settled(t.handover, t.takeover, t.external_userid, failed="customer_limit_exceed"))
                continue
            held[t.takeover] += 1
        back = s.scalar(select(Transfer.id).where(Transfer.corp_id == corp_id, Transfer.status == 1,
                                                  Transfer.handover == t.takeover,
                                                  Transfer.external_userid == t.external_userid).limit(1))
        if taken is None:
            s.add(Follow(corp_id=corp_id, userid=t.takeover, external_userid=t.external_userid, remark=old.remark,
                         description=old.description, remark_mobiles=old.remark_mobiles, tag_ids=old.tag_ids,
                         createtime=int(t.created_at + TAKEOVER_DELAY), add_way=202 if not t.resigned else 203,
                         state=old.state, oper_userid=t.takeover))
        s.delete(old)
        settled.append(Settled(t.handover, t.takeover, t.external_userid, added=taken is None and back is None))
        t.status = 1
        t.takeover_time = t.created_at + TAKEOVER_DELAY
    if due:
        s.flush()
    return settled
