"""The port to a host platform (WeCom, DingTalk), in domain words, and the registry that finds one per corp.

`scrm/` defines what it needs; `connectors/` implements it per platform and registers a factory here from the
composition root. Every id below is a host id (userid, external_userid, tag id, chat id).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Generic, Iterator, Protocol, TypeVar

T = TypeVar("T")


# ---------------------------------------------------------------- errors


class HostError(Exception):
    """The host answered with an error code we do not treat specially."""

    def __init__(self, errcode: int | str | None = None, errmsg: str = "", *, api: str | None = None):
        self.errcode = errcode
        self.errmsg = errmsg
        self.api = api
        super().__init__(f"{api or 'host'}: errcode={errcode} {errmsg}".strip())

    #: transient errors are worth retrying later (rate limits, timeouts, host busy)
    transient = False


class HostRateLimited(HostError):
    """Frequency or concurrency limit (WeCom 45009 / 45033, DingTalk 90018 / 90002)."""

    transient = True


class HostQuotaExceeded(HostError):
    """A quota that will not recover by retrying soon (DingTalk 90020 monthly quota)."""


class HostUnavailable(HostError):
    """Network failure, timeout, HTTP 5xx or 'system busy' (-1)."""

    transient = True


class HostCredentialsError(HostError):
    """Wrong corp id or secret (WeCom 40001 / 40013 / 40091, DingTalk invalidClientIdOrSecret); never retried."""


class HostPermissionError(HostError):
    """The app lacks a permission or the API is not enabled for it (48002, 60011, 84074, 60205)."""


class HostNotFound(HostError):
    """The user, customer or relation does not exist on the host (40096, 84061, 60111, 60121, 33012)."""


class HostUnsupported(HostError):
    """The host platform has no API for this capability (for example a contact way on DingTalk)."""

    def __init__(self, capability: str, platform: str):
        super().__init__("unsupported", f"{platform} cannot {capability}", api=capability)
        self.capability = capability
        self.platform = platform


class CallbackError(Exception):
    """A callback failed verification or parsing; `reason` is a short metric label, `status` the HTTP answer."""

    status = 400

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


class BadSignature(CallbackError):
    status = 403


class WrongReceiver(CallbackError):
    """The decrypted receive id / owner key is another corp's or app's."""

    status = 403


class MalformedPayload(CallbackError):
    status = 400


# ---------------------------------------------------------------- data shapes


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
    type: int | None = None  # WeCom: 1 WeChat user, 2 WeCom user
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
    type: int  # 1 employee, 2 external
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
    status: int  # 1 done, 2 waiting, 3 refused, 4 takeover limit, 5 no record
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
    status: int  # 0 unsent, 2 sent
    sent_at: datetime | None = None


@dataclass
class MassMessageResult:
    user_id: str
    customer_id: str | None
    chat_id: str | None
    status: int  # 0 unsent, 1 sent, 2 not a friend, 3 already received another
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


# ---------------------------------------------------------------- the port


class Host(Protocol):
    """What the product needs from a host platform. Unsupported capabilities raise HostUnsupported."""

    platform: str
    capabilities: frozenset[str]

    # address book
    def list_departments(self) -> list[HostDepartment]: ...
    def list_employees(self, department_id: str | None = None) -> list[HostEmployee]: ...
    def get_employee(self, user_id: str) -> HostEmployee: ...

    # customers and relationships
    def list_customer_ids(self, employee_id: str) -> list[str]: ...
    def list_customers(self, employee_ids: list[str], cursor: str | None = None,
                       limit: int = 100) -> Page[HostCustomerRecord]: ...
    def get_customer(self, customer_id: str) -> HostCustomerRecord: ...
    def set_remark(self, employee_id: str, customer_id: str, *, remark: str | None = None,
                   description: str | None = None, remark_mobiles: list[str] | None = None) -> None: ...
    def create_customer(self, employee_id: str, name: str, mobile: str, *, state: str | None = None,
                        tag_ids: list[str] | None = None, remark: str | None = None) -> str: ...

    # tags
    def list_tag_groups(self, group_ids: list[str] | None = None,
                        tag_ids: list[str] | None = None) -> list[HostTagGroup]: ...
    def create_tags(self, group_name: str, tag_names: list[str], *, group_id: str | None = None,
                    order: int = 0) -> HostTagGroup: ...
    def edit_tag(self, tag_id: str, *, name: str | None = None, order: int | None = None) -> None: ...
    def delete_tags(self, tag_ids: list[str] = (), group_ids: list[str] = ()) -> None: ...
    def mark_tags(self, employee_id: str, customer_id: str, add: list[str] = (),
                  remove: list[str] = ()) -> None: ...

    # channel codes and welcome
    def create_channel_code(self, spec: ChannelCodeSpec) -> ChannelCode: ...
    def update_channel_code(self, config_id: str, spec: ChannelCodeSpec) -> None: ...
    def delete_channel_code(self, config_id: str) -> None: ...
    def send_welcome(self, welcome_code: str, content: MessageContent) -> None: ...
    def fetch_channel_qr(self, qr_url: str) -> bytes: ...
    def upload_image(self, filename: str, content: bytes) -> HostMedia: ...

    # transfers
    def transfer_customers(self, handover_id: str, takeover_id: str, customer_ids: list[str], *,
                           departed: bool, message: str | None = None) -> list[TransferOutcome]: ...
    def transfer_results(self, handover_id: str, takeover_id: str, *, departed: bool,
                         cursor: str | None = None) -> Page[TransferStatus]: ...
    def list_unassigned(self, cursor: str | None = None, limit: int = 1000) -> Page[UnassignedCustomer]: ...

    # group chats
    def list_group_chats(self, cursor: str | None = None, limit: int = 1000,
                         owner_ids: list[str] | None = None) -> Page[str]: ...
    def get_group_chat(self, chat_id: str) -> HostGroupChat: ...
    def transfer_group_chats(self, chat_ids: list[str], new_owner_id: str, *,
                             departed: bool) -> list[TransferOutcome]: ...

    # mass messages
    def create_mass_message(self, spec: MassMessageSpec) -> tuple[str, list[str]]: ...
    def list_mass_messages(self, start: datetime, end: datetime, cursor: str | None = None,
                           creator: str | None = None) -> Page[MassMessage]: ...
    def mass_message_tasks(self, msg_id: str, cursor: str | None = None) -> Page[MassMessageTask]: ...
    def mass_message_results(self, msg_id: str, user_id: str,
                             cursor: str | None = None) -> Page[MassMessageResult]: ...

    # employees' app messages, H5
    def send_app_message(self, user_ids: list[str], text: str) -> None: ...
    def jsapi_config(self, url: str) -> dict[str, Any]: ...
    def oauth_url(self, redirect_uri: str, state: str) -> str | None: ...
    def resolve_login(self, code: str) -> LoginIdentity: ...


def iterate(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Walk a cursor-paged host listing to the end."""
    cursor = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


# ---------------------------------------------------------------- registry

HostFactory = Callable[[CorpAccess], Host]


class HostRegistry:
    """Maps a platform to the factory of its Host implementation; the composition root fills it."""

    def __init__(self) -> None:
        self._factories: dict[str, HostFactory] = {}
        self._parsers: dict[str, Callable[[str], Any]] = {}
        self._override: Callable[[CorpAccess], Host] | None = None

    def register(self, platform: str, factory: HostFactory, parser: Callable[[str], Any] | None = None) -> None:
        """Register a platform's Host factory and the parser of its decrypted callback payloads."""
        self._factories[platform] = factory
        if parser is not None:
            self._parsers[platform] = parser

    def parse(self, platform: str, payload: str):
        """Parse a stored, decrypted payload again into a ParsedCallback (the inbox keeps only the raw text)."""
        try:
            parser = self._parsers[platform]
        except KeyError:
            raise LookupError(f"no callback parser registered for platform {platform!r}") from None
        return parser(payload)

    @property
    def platforms(self) -> list[str]:
        return sorted(self._factories)

    def override(self, factory: Callable[[CorpAccess], Host] | None) -> None:
        """Make every corp use one implementation (tests install the fake host this way)."""
        self._override = factory

    def for_access(self, access: CorpAccess) -> Host:
        if self._override is not None:
            return self._override(access)
        try:
            factory = self._factories[access.platform]
        except KeyError:
            raise LookupError(f"no host connector registered for platform {access.platform!r}") from None
        return factory(access)


registry = HostRegistry()
