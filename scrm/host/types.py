"""The data shapes of the port, in domain words. Every id is a host id (userid, external_userid, tag id, chat id)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class CustomerType(IntEnum):
    """Who a customer is on the host's side (WeCom tells; DingTalk external contacts have no type)."""

    WECHAT = 1  # a WeChat user
    WECOM = 2  # a member of another WeCom corp


class MemberType(IntEnum):
    EMPLOYEE = 1
    CUSTOMER = 2


class TransferState(IntEnum):
    """Where one customer's transfer stands on the host."""

    DONE = 1
    WAITING = 2  # the customer has 24 hours to refuse
    REFUSED = 3
    TAKER_AT_LIMIT = 4  # the taker has reached the host's customer limit
    NO_RECORD = 5  # the customer had already deleted the employee


class MassTaskState(IntEnum):
    """Whether a sender has sent a mass message the host asked them to confirm."""

    UNSENT = 0
    SENT = 2


class MassSendState(IntEnum):
    """What became of a mass message for one recipient."""

    UNSENT = 0
    SENT = 1
    NOT_FRIEND = 2
    ALREADY_RECEIVED = 3  # the recipient had already received another mass message in the host's window


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass
class HostDepartment:
    id: str
    name: str
    parent_id: str | None = None
    order: int = 0


@dataclass
class HostEmployee:
    user_id: str
    name: str
    department_ids: list[str] = field(default_factory=list)
    position: str | None = None
    mobile: str | None = None
    email: str | None = None
    avatar: str | None = None
    active: bool = True


@dataclass
class HostCustomer:
    external_id: str
    name: str
    avatar: str | None = None
    type: CustomerType | None = None
    gender: int | None = None  # 0 unknown, 1 male, 2 female
    unionid: str | None = None
    corp_name: str | None = None
    corp_full_name: str | None = None
    position: str | None = None
    mobile: str | None = None  # DingTalk external contacts carry one


@dataclass
class HostFollow:
    """One relationship as the host sees it: an employee following a customer."""

    employee_id: str
    remark: str | None = None
    description: str | None = None
    created_at: datetime | None = None
    tag_ids: list[str] = field(default_factory=list)
    remark_mobiles: list[str] = field(default_factory=list)
    add_way: int | None = None
    state: str | None = None
    oper_user_id: str | None = None


@dataclass
class HostCustomerRecord:
    customer: HostCustomer
    follows: list[HostFollow]


@dataclass
class HostTag:
    id: str
    name: str
    order: int = 0
    created_at: datetime | None = None
    deleted: bool = False


@dataclass
class HostTagGroup:
    id: str
    name: str
    order: int = 0
    tags: list[HostTag] = field(default_factory=list)
    created_at: datetime | None = None
    deleted: bool = False


@dataclass
class HostGroupMember:
    user_id: str
    type: MemberType
    join_time: datetime | None = None
    join_scene: int | None = None
    invitor: str | None = None
    nickname: str | None = None
    name: str | None = None
    unionid: str | None = None


@dataclass
class HostGroupChat:
    chat_id: str
    name: str
    owner_id: str | None
    created_at: datetime | None = None
    notice: str | None = None
    members: list[HostGroupMember] = field(default_factory=list)
    admin_ids: list[str] = field(default_factory=list)
    status: int = 0


@dataclass
class ChannelCodeSpec:
    """A contact way: who receives the customers scanning it and how the add is attributed."""

    state: str
    user_ids: list[str]
    remark: str | None = None
    skip_verify: bool = True
    temporary: bool = False
    expires_in: int | None = None  # seconds, temporary codes only
    department_ids: list[str] = field(default_factory=list)


@dataclass
class ChannelCode:
    config_id: str
    qr_url: str | None


@dataclass
class HostMedia:
    """A file uploaded to the host for messages (WeCom temporary media: valid 3 days)."""

    media_id: str
    expires_at: datetime | None = None


@dataclass
class Attachment:
    """Welcome / mass-message attachment, in the host's terms: image(media_id), link, miniprogram."""

    kind: str
    data: dict[str, Any]


@dataclass
class MessageContent:
    text: str | None = None
    attachments: list[Attachment] = field(default_factory=list)


@dataclass
class TransferOutcome:
    customer_id: str
    errcode: int  # 0 = accepted (takeover pending), else the host's reason


@dataclass
class TransferStatus:
    customer_id: str
    status: TransferState
    takeover_at: datetime | None = None


@dataclass
class UnassignedCustomer:
    handover_id: str
    customer_id: str
    departed_at: datetime | None = None


@dataclass
class MassMessageSpec:
    sender_id: str | None
    customer_ids: list[str]
    content: MessageContent
    chat_type: str = "single"  # single | group
    chat_ids: list[str] = field(default_factory=list)
    allow_select: bool = False


@dataclass
class MassMessage:
    msg_id: str
    creator: str | None = None
    created_at: datetime | None = None
    text: str | None = None


@dataclass
class MassMessageTask:
    user_id: str
    status: MassTaskState
    sent_at: datetime | None = None


@dataclass
class MassMessageResult:
    user_id: str
    customer_id: str | None
    chat_id: str | None
    status: MassSendState
    sent_at: datetime | None = None


@dataclass
class LoginIdentity:
    """Who opened an H5 page: an employee (user_id) or, on WeCom, a non-member (external_id / openid)."""

    user_id: str | None = None
    external_id: str | None = None
    open_id: str | None = None
    name: str | None = None


@dataclass
class CorpAccess:
    """Everything a connector needs to talk to one corp's host; built from the `corp` row by the registry."""

    corp_key: str
    platform: str
    corp_id: str
    agent_id: str | None
    secret: str
    app_key: str | None = None  # DingTalk Client ID
    callback_token: str | None = None
    callback_aes_key: str | None = None
    api_base: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # never print secrets
        return f"CorpAccess({self.platform}:{self.corp_key})"
