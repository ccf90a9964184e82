"""Domain events: what a host told us happened, in the product's words.

Connectors turn host payloads (WeCom XML, DingTalk JSON, Stream frames) into these; services handle them the
same way whichever host, runner or reconcile job produced them. Ids are host ids (WeCom userid / external_userid,
DingTalk userId), because the edge that parses a callback does not know our row ids.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class HostEvent:
    """Base of every event; `occurred_at` is the host's timestamp (UTC, naive) when it gave one."""

    occurred_at: datetime | None = None

    @property
    def ordering_key(self) -> str | None:
        """Events sharing a key must be processed in arrival order (per customer, chat, employee...)."""
        return None


@dataclass(frozen=True, kw_only=True)
class _CustomerEvent(HostEvent):
    employee_id: str
    customer_id: str

    @property
    def ordering_key(self) -> str:
        return f"customer:{self.customer_id}"


@dataclass(frozen=True, kw_only=True)
class CustomerAdded(_CustomerEvent):
    """A customer became a friend of an employee (WeCom add_external_contact / add_half_external_contact)."""

    state: str | None = None
    welcome_code: str | None = None
    half: bool = False  # add_half_external_contact: added without verification, not yet accepted


@dataclass(frozen=True, kw_only=True)
class CustomerEdited(_CustomerEvent):
    """The employee edited remark or tags of the relationship in the host app."""


@dataclass(frozen=True, kw_only=True)
class CustomerRemovedByEmployee(_CustomerEvent):
    """The employee deleted the customer (del_external_contact); source DELETE_BY_TRANSFER means on-job transfer."""

    source: str | None = None


@dataclass(frozen=True, kw_only=True)
class CustomerRemovedByCustomer(_CustomerEvent):
    """The customer deleted the employee (del_follow_user)."""


@dataclass(frozen=True, kw_only=True)
class TransferFailed(_CustomerEvent):
    """A takeover failed: reason is customer_refused or customer_limit_exceed."""

    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ChatAuthorized(_CustomerEvent):
    """The customer agreed to chat archiving (msg_audit_approved)."""

    welcome_code: str | None = None


@dataclass(frozen=True, kw_only=True)
class EmployeeChanged(HostEvent):
    """Employees joined, changed or left the organisation.

    change is one of: created, updated, departed. WeCom sends one user per event (with its fields in
    `details`); DingTalk sends a list of ids and the details must be read from the host.
    """

    change: str
    user_ids: tuple[str, ...]
    new_user_id: str | None = None
    details: dict = field(default_factory=dict, compare=False)

    @property
    def ordering_key(self) -> str | None:
        return f"employee:{self.user_ids[0]}" if len(self.user_ids) == 1 else None


@dataclass(frozen=True, kw_only=True)
class DepartmentChanged(HostEvent):
    """Departments were created, updated or deleted (change: created, updated, deleted)."""

    change: str
    department_ids: tuple[str, ...]
    details: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True, kw_only=True)
class TagChanged(HostEvent):
    """The corp tag library changed in the host console (change: create, update, delete, shuffle)."""

    change: str
    tag_id: str | None = None
    kind: str | None = None  # "tag" | "tag_group" | None (shuffle)
    strategy_id: str | None = None

    @property
    def ordering_key(self) -> str:
        return "tags"


@dataclass(frozen=True, kw_only=True)
class GroupChatChanged(HostEvent):
    """A customer group chat was created, updated or dismissed.

    WeCom: change create|update|dismiss, detail add_member|del_member|change_owner|change_name|change_notice.
    DingTalk: change is the chat_* event name without its prefix (add_member, remove_member, quit, update_owner,
    update_title, disband).
    """

    chat_id: str
    change: str
    detail: str | None = None
    member_ids: tuple[str, ...] = ()
    join_scene: int | None = None
    quit_scene: int | None = None
    operator: str | None = None

    @property
    def ordering_key(self) -> str:
        return f"chat:{self.chat_id}"


@dataclass(frozen=True, kw_only=True)
class CrmRecordChanged(HostEvent):
    """A DingTalk official-CRM record changed (ding_paas_object_data_create|update|delete)."""

    change: str
    data_id: str
    object_type: str | None = None
    form_code: str | None = None

    @property
    def ordering_key(self) -> str:
        return f"crm:{self.data_id}"


@dataclass(frozen=True, kw_only=True)
class UrlCheck(HostEvent):
    """The host console checks the callback URL (DingTalk check_url); answered, never stored."""


@dataclass(frozen=True, kw_only=True)
class UnknownEvent(HostEvent):
    """An event type the product does not handle; stored as `ignored` so it stays visible."""

    event_type: str


@dataclass(frozen=True)
class ParsedCallback:
    """A decrypted, parsed callback: the domain event plus what the inbox needs to store it once."""

    event: HostEvent
    event_type: str  # e.g. "change_external_contact/add_external_contact", "user_leave_org"
    dedupe_key: str
    payload: str  # the decrypted plaintext, as received
