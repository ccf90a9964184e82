"""Tables of the sandbox's DingTalk organisations (sbx_dt_*) and the lookups the endpoints and actions share."""
from __future__ import annotations

import hashlib

from sqlalchemy import JSON, Boolean, Double, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from sandbox.core import Base, Corp


class DtDepartment(Base):
    __tablename__ = "sbx_dt_department"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    dept_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))
    parent_id: Mapped[int] = mapped_column(Integer, default=1)


class DtUser(Base):
    __tablename__ = "sbx_dt_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    userid: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    mobile: Mapped[str | None] = mapped_column(String(32), nullable=True)
    title: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dept_ids: Mapped[list] = mapped_column(JSON, default=list)
    left: Mapped[bool] = mapped_column(Boolean, default=False)


class DtContact(Base):
    """An external contact (外部联系人) recorded by an employee, with the labels the host requires."""

    __tablename__ = "sbx_dt_contact"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    userid: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128))
    mobile: Mapped[str] = mapped_column(String(32))
    follower_user_id: Mapped[str] = mapped_column(String(64))
    label_ids: Mapped[list] = mapped_column(JSON, default=list)
    remark: Mapped[str | None] = mapped_column(String(255), nullable=True)
    company_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    title: Mapped[str | None] = mapped_column(String(64), nullable=True)


class DtLabel(Base):
    __tablename__ = "sbx_dt_label"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    group_name: Mapped[str] = mapped_column(String(64))
    color: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(64))


class DtToken(Base):
    __tablename__ = "sbx_dt_token"
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="access")  # access | jsapi
    expires_at: Mapped[float] = mapped_column(Double)


class DtCode(Base):
    """A free-login code as dd.requestAuthCode hands it to a page."""

    __tablename__ = "sbx_dt_code"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    userid: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Double)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class DtLoginGrant(Base):
    """A QR login (login.dingtalk.com/oauth2/auth): its authCode (single use, 5 minutes), then the user access
    token it was exchanged for (2 hours), which reads the member's unionId."""

    __tablename__ = "sbx_dt_login_grant"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    userid: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Double)
    token: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[float | None] = mapped_column(Double)


class DtMessage(Base):
    """A work notification that reached an employee (same-day duplicates never get here)."""

    __tablename__ = "sbx_dt_message"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    userid: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10))
    digest: Mapped[str] = mapped_column(String(64))
    msg: Mapped[dict] = mapped_column(JSON)


class DtCrmCustomer(Base):
    __tablename__ = "sbx_dt_crm_customer"
    instance_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[dict] = mapped_column(JSON)
    owner_ids: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[float] = mapped_column(Double, default=0.0)


class DtChat(Base):
    """An internal group chat; internal apps have no read API for it, only its events."""

    __tablename__ = "sbx_dt_chat"
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64), index=True)
    open_conversation_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(128))
    owner: Mapped[str] = mapped_column(String(64))
    members: Mapped[list] = mapped_column(JSON, default=list)
    disbanded: Mapped[bool] = mapped_column(Boolean, default=False)


class DingTalkError(Exception):
    """An answer the host gives instead of a result: legacy errcode or v1.0 code, with the HTTP status for v1.0."""

    def __init__(self, code: int | str, message: str = "", status: int = 400):
        super().__init__(code, message)
        self.code, self.message, self.status = code, message, status

    def legacy(self, path: str) -> dict:
        """The legacy answer's fields. The topapi gateway wraps a rejected token in errcode 88 鉴权异常 with the
        token code as sub_code (doc server-api-error-codes-1)."""
        if path.startswith("topapi/") and self.code in TOKEN_CODES:
            return {"errcode": 88, "errmsg": f"ding talk error[subcode={self.code},submsg={self.message}]",
                    "sub_code": str(self.code), "sub_msg": self.message}
        return {"errcode": self.code, "errmsg": self.message}


TOKEN_CODES = frozenset({40014, 42001})


def unionid(userid: str) -> str:
    """A stable unionId per user, as the host derives one per person."""
    return hashlib.md5(userid.encode()).hexdigest()


def find_user(s: Session, corp: Corp, userid: str) -> DtUser:
    """A current employee; 60121 when nobody has the id, 33012 when the person has left (query-user-details)."""
    user = s.scalar(select(DtUser).where(DtUser.corp_id == corp.corp_id, DtUser.userid == str(userid)))
    if user is None:
        raise DingTalkError(60121, "找不到该用户")
    if user.left:
        raise DingTalkError(33012, "无效的userid")
    return user


def find_contact(s: Session, corp: Corp, user_id: str) -> DtContact:
    row = s.scalar(select(DtContact).where(DtContact.corp_id == corp.corp_id, DtContact.userid == str(user_id)))
    if row is None:
        raise DingTalkError(33012, "无效的userid")
    return row
