"""`scrm.host.Host` on DingTalk (internal app). What DingTalk cannot do raises HostUnsupported, so the product can
say so plainly: no contact ways, welcome codes, transfer API, unassigned list, customer group-chat reads or mass
messages to customers. Customers are DingTalk external contacts (one follower each), tags are their labels."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.dingtalk.client import DingTalkClient
from connectors.runtime import Runtime
from scrm.host import Capability as C
from scrm.host import (ChannelCodeSpec, CorpAccess, HostCustomer, HostCustomerRecord, HostDepartment,
                       HostEmployee, HostError, HostFollow, HostTag, HostTagGroup, HostUnsupported, LoginIdentity,
                       MassMessageSpec, MessageContent, Page, TransferOutcome, UnassignedCustomer)

PLATFORM = "dingtalk"
ROOT_DEPARTMENT = "1"
PAGE = 100  # extcontact/list and user/list page size limit
#: the outcome of a customer whose follower is someone else (the errcode WeCom answers for it, 40131)
NOT_THE_FOLLOWER = 40131
CAPABILITIES = frozenset({
    C.LIST_DEPARTMENTS, C.LIST_EMPLOYEES, C.GET_EMPLOYEE, C.LIST_CUSTOMER_IDS, C.LIST_CUSTOMERS, C.GET_CUSTOMER,
    C.SET_REMARK, C.CREATE_CUSTOMER, C.LIST_TAG_GROUPS, C.MARK_TAGS, C.TRANSFER_CUSTOMERS, C.SEND_APP_MESSAGE,
    C.JSAPI_CONFIG, C.RESOLVE_LOGIN, C.WEB_LOGIN,
    C.CUSTOMER_NEEDS_TAG,  # extcontact/create requires label_ids (60204)
})


def _employee(raw: dict) -> HostEmployee:
    return HostEmployee(user_id=str(raw["userid"]), name=raw.get("name") or str(raw["userid"]),
                        department_ids=[str(d) for d in raw.get("dept_id_list") or []], position=raw.get("title"),
                        mobile=raw.get("mobile"), email=raw.get("email"), avatar=raw.get("avatar"),
                        active=raw.get("active", True) is not False)


def _record(raw: dict) -> HostCustomerRecord:
    customer = HostCustomer(external_id=str(raw["userid"]), name=raw.get("name") or "", mobile=raw.get("mobile"),
                            corp_name=raw.get("company_name"), position=raw.get("title"))
    # the contact's one follower keeps its remark and the mobile it was created with: the relationship's remark
    # and remark mobiles, as WeCom's follow_user carries them
    follow = HostFollow(employee_id=str(raw.get("follower_user_id") or ""), remark=raw.get("remark"),
                        tag_ids=[str(t) for t in raw.get("label_ids") or []], remark_mobiles=_mobiles(raw))
    return HostCustomerRecord(customer=customer, follows=[follow] if follow.employee_id else [])


def _mobiles(raw: dict) -> list[str]:
    mobile = str(raw.get("mobile") or "").strip()
    return [mobile] if mobile else []


class DingTalkHost:
    platform = PLATFORM
    capabilities = CAPABILITIES

    def __init__(self, access: CorpAccess, runtime: Runtime, *, client: DingTalkClient | None = None):
        self.access = access
        self.client = client or DingTalkClient(access, runtime)

    def __repr__(self) -> str:
        return f"DingTalkHost({self.access.corp_key})"

    def _unsupported(self, capability: str):
        raise HostUnsupported(capability, PLATFORM)

    def check_credentials(self) -> None:
        """Fetch an access token with the corp's credentials (gettoken / accessToken): raises what the host answers."""
        self.client.fetch_access_token()

    # ---------------------------------------------------------------- address book

    def list_departments(self) -> list[HostDepartment]:
        found, queue = [], [ROOT_DEPARTMENT]
        while queue:
            parent = queue.pop(0)
            for raw in self.client.list_sub_departments(parent):
                dept = HostDepartment(id=str(raw["dept_id"]), name=raw.get("name") or "",
                                      parent_id=str(raw.get("parent_id") or parent), order=int(raw.get("order") or 0))
                found.append(dept)
                queue.append(dept.id)
        return found

    def list_employees(self, department_id: str | None = None) -> list[HostEmployee]:
        departments = [department_id] if department_id else [ROOT_DEPARTMENT] + [d.id for d in self.list_departments()]
        seen: dict[str, HostEmployee] = {}
        for dept in departments:
            cursor = 0
            while True:
                result = self.client.list_users(dept, cursor, PAGE)
                for raw in result.get("list") or []:
                    seen.setdefault(str(raw["userid"]), _employee(raw))
                if not result.get("has_more"):
                    break
                cursor = int(result.get("next_cursor") or 0)
        return list(seen.values())

    def get_employee(self, user_id: str) -> HostEmployee:
        return _employee(self.client.get_user(user_id))

    # ---------------------------------------------------------------- customers (external contacts)

    def _contacts(self, offset: int, size: int) -> list[dict]:
        return self.client.extcontact_list(offset, min(size, PAGE))

    def list_customer_ids(self, employee_id: str) -> list[str]:
        ids, offset = [], 0
        while True:
            page = self._contacts(offset, PAGE)
            ids += [str(c["userid"]) for c in page if str(c.get("follower_user_id")) == employee_id]
            if len(page) < PAGE:
                return ids
            offset += PAGE

    def list_customers(self, employee_ids: list[str], cursor: str | None = None,
                       limit: int = 100) -> Page[HostCustomerRecord]:
        """One page of the org's external contacts, kept to those followed by `employee_ids` (no such filter here)."""
        offset, size = int(cursor or 0), min(limit, PAGE)
        page = self._contacts(offset, size)
        wanted = set(employee_ids)
        records = [_record(c) for c in page if not wanted or str(c.get("follower_user_id")) in wanted]
        return Page(records, str(offset + size) if len(page) == size else None)

    def get_customer(self, customer_id: str) -> HostCustomerRecord:
        return _record(self.client.extcontact_get(customer_id))

    def _update(self, customer_id: str, _raw: dict | None = None, **changes: Any) -> None:
        raw = _raw if _raw is not None else self.client.extcontact_get(customer_id)
        # the record sent back whole: whether update clears the fields it omits is not documented
        contact = {"user_id": customer_id, "name": raw.get("name"), "follower_user_id": raw.get("follower_user_id"),
                   "label_ids": raw.get("label_ids") or [], "remark": raw.get("remark"),
                   "company_name": raw.get("company_name"), "title": raw.get("title"), "address": raw.get("address"),
                   "share_user_ids": raw.get("share_user_ids"), "share_dept_ids": raw.get("share_dept_ids")}
        contact.update(changes)
        self.client.extcontact_update({k: v for k, v in contact.items() if v is not None})

    def set_remark(self, employee_id: str, customer_id: str, *, remark: str | None = None,
                   description: str | None = None, remark_mobiles: list[str] | None = None) -> None:
        """The contact's remark (or the description, DingTalk keeping one text). Its mobile cannot change
        (extcontact/update has no mobile): remark mobiles other than the one it has are refused before any write."""
        raw = self.client.extcontact_get(customer_id)
        if remark_mobiles is not None and [m for m in remark_mobiles if m] != _mobiles(raw):
            raise HostUnsupported("change an external contact's mobile (extcontact/update has none)", PLATFORM)
        self._update(customer_id, remark=remark if remark is not None else description, _raw=raw)

    def create_customer(self, employee_id: str, name: str, mobile: str, *, state: str | None = None,
                        tag_ids: list[str] | None = None, remark: str | None = None) -> str:
        # state_code is the phone's country code in DingTalk's API; the channel goes into the remark
        contact = {"name": name, "mobile": mobile, "state_code": "86", "follower_user_id": employee_id,
                   "label_ids": [int(t) if str(t).isdigit() else t for t in tag_ids or []],
                   "remark": remark or (f"渠道:{state}" if state else None)}
        return self.client.extcontact_create({k: v for k, v in contact.items() if v is not None})

    # ---------------------------------------------------------------- tags (labels: read-only here)

    def list_tag_groups(self, group_ids: list[str] | None = None,
                        tag_ids: list[str] | None = None) -> list[HostTagGroup]:
        groups, offset = [], 0
        while True:
            page = self.client.list_label_groups(offset, PAGE)
            for n, raw in enumerate(page):
                tags = [HostTag(id=str(t["id"]), name=t.get("name") or "") for t in raw.get("labels") or []]
                groups.append(HostTagGroup(id=f"labelgroup:{raw.get('name')}", name=raw.get("name") or "",
                                           order=offset + n, tags=tags))
            if len(page) < PAGE:
                break
            offset += PAGE
        if group_ids:
            groups = [g for g in groups if g.id in group_ids]
        elif tag_ids:
            for g in groups:
                g.tags = [t for t in g.tags if t.id in tag_ids]
            groups = [g for g in groups if g.tags]
        return groups

    def create_tags(self, group_name, tag_names, *, group_id=None, order=0):
        self._unsupported("create_tags")

    def edit_tag(self, tag_id, *, name=None, order=None):
        self._unsupported("edit_tag")

    def delete_tags(self, tag_ids=(), group_ids=()):
        self._unsupported("delete_tags")

    def mark_tags(self, employee_id: str, customer_id: str, add: list[str] = (), remove: list[str] = ()) -> None:
        labels = [str(t) for t in self.client.extcontact_get(customer_id).get("label_ids") or []]
        labels = [t for t in labels if t not in set(remove)] + [t for t in add if t not in labels]
        self._update(customer_id, label_ids=[int(t) if t.isdigit() else t for t in labels])

    # ---------------------------------------------------------------- what DingTalk has no API for

    def create_channel_code(self, spec: ChannelCodeSpec):
        self._unsupported("create_channel_code")

    def update_channel_code(self, config_id: str, spec: ChannelCodeSpec):
        self._unsupported("update_channel_code")

    def delete_channel_code(self, config_id: str):
        self._unsupported("delete_channel_code")

    def send_welcome(self, welcome_code: str, content: MessageContent):
        self._unsupported("send_welcome")

    def fetch_channel_qr(self, qr_url: str):
        self._unsupported("fetch_channel_qr")

    def upload_image(self, filename: str, content: bytes):
        # media for welcome and mass messages; DingTalk has neither for customers (work notifications are out of scope)
        self._unsupported("upload_image")

    def transfer_customers(self, handover_id: str, takeover_id: str, customer_ids: list[str], *,
                           departed: bool, message: str | None = None) -> list[TransferOutcome]:
        """No transfer API: the follower is reassigned at once (each outcome is final), the record sent back whole
        and the giver dropped from those it is shared with. A customer the host refuses keeps its errcode; a
        transient error (rate limit, host down) stops the batch so it can be retried."""
        outcomes = []
        for customer_id in customer_ids:
            try:
                raw = self.client.extcontact_get(customer_id)
                if raw.get("follower_user_id") not in (handover_id, takeover_id):
                    outcomes.append(TransferOutcome(customer_id, NOT_THE_FOLLOWER))
                    continue
                shared = [u for u in raw.get("share_user_ids") or [] if u not in (handover_id, takeover_id)]
                self._update(customer_id, _raw=raw, follower_user_id=takeover_id,
                             share_user_ids=shared if raw.get("share_user_ids") else None)
            except HostError as exc:
                if exc.transient:
                    raise
                outcomes.append(TransferOutcome(customer_id, exc.number))
            else:
                outcomes.append(TransferOutcome(customer_id, 0))
        return outcomes

    def transfer_results(self, handover_id, takeover_id, *, departed, cursor=None):
        return Page([])  # reassignments are immediate: nothing is ever waiting

    def list_unassigned(self, cursor=None, limit=1000) -> Page[UnassignedCustomer]:
        self._unsupported("list_unassigned")

    def list_group_chats(self, cursor=None, limit=1000, owner_ids=None, status=0):
        self._unsupported("list_group_chats")

    def get_group_chat(self, chat_id):
        self._unsupported("get_group_chat")

    def transfer_group_chats(self, chat_ids, new_owner_id, *, departed):
        self._unsupported("transfer_group_chats")

    def create_mass_message(self, spec: MassMessageSpec):
        self._unsupported("create_mass_message")

    def list_mass_messages(self, start: datetime, end: datetime, cursor=None, creator=None):
        self._unsupported("list_mass_messages")

    def mass_message_tasks(self, msg_id, cursor=None):
        self._unsupported("mass_message_tasks")

    def mass_message_results(self, msg_id, user_id, cursor=None):
        self._unsupported("mass_message_results")

    # ---------------------------------------------------------------- employees' messages, H5

    def send_app_message(self, user_ids: list[str], text: str) -> None:
        for start in range(0, len(user_ids), 100):  # asyncsend_v2 takes at most 100 userids
            self.client.send_work_notification(user_ids[start:start + 100],
                                               {"msgtype": "text", "text": {"content": text}})

    def jsapi_config(self, url: str, *, refresh: bool = False) -> dict[str, Any]:
        if refresh:
            self.client.runtime.tokens.delete(self.client.jsapi_ticket_key)
        return {"dd": self.client.jsapi_config(url)}

    def oauth_url(self, redirect_uri: str, state: str) -> str | None:
        return None  # DingTalk pages get a free-login code from dd.requestAuthCode instead

    def login_page_url(self, redirect_uri: str, state: str) -> str:
        return self.client.login_page_url(redirect_uri, state)

    def resolve_web_login(self, code: str) -> LoginIdentity:
        info = self.client.web_login_user(code)
        return LoginIdentity(user_id=str(info["userid"]) if info.get("userid") else None, name=info.get("name"))

    def resolve_login(self, code: str) -> LoginIdentity:
        info = self.client.get_user_info(code)
        return LoginIdentity(user_id=str(info["userid"]), name=info.get("name"))

