"""`scrm.host.Host` on WeCom: each port method maps to one or a few client calls, payloads become dataclasses."""
from __future__ import annotations

import calendar
import mimetypes
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import Any

from connectors.runtime import Runtime
from connectors.wecom.client import WeComClient
from scrm.host import Capability as C
from scrm.host import (Attachment, ChannelCode, ChannelCodeSpec, CorpAccess, CustomerType, HostCustomer,
                       HostCustomerRecord, HostDepartment, HostEmployee, HostFollow, HostGroupChat, HostGroupMember,
                       HostMedia, HostNotFound, HostTag, HostTagGroup, HostUnsupported, LoginIdentity, MassMessage,
                       MassMessageResult, MassMessageSpec, MassMessageTask, MassSendState, MassTaskState, MemberType,
                       MessageContent, Page, TransferOutcome, TransferState, TransferStatus, UnassignedCustomer)

PLATFORM = "wecom"
TRANSFER_BATCH = 100  # external_userid per transfer call (doc 92125)
APP_MESSAGE_BATCH = 1000  # touser per message/send (doc 90236)
MASS_PHASES = ("single", "group")
MEDIA_TTL = timedelta(days=3)  # temporary media (doc 90253)

CAPABILITIES = frozenset({
    C.LIST_DEPARTMENTS, C.LIST_EMPLOYEES, C.GET_EMPLOYEE, C.LIST_CUSTOMER_IDS, C.LIST_CUSTOMERS, C.GET_CUSTOMER,
    C.SET_REMARK, C.LIST_TAG_GROUPS, C.CREATE_TAGS, C.EDIT_TAG, C.DELETE_TAGS, C.MARK_TAGS, C.CREATE_CHANNEL_CODE,
    C.UPDATE_CHANNEL_CODE, C.DELETE_CHANNEL_CODE, C.SEND_WELCOME, C.FETCH_CHANNEL_QR, C.UPLOAD_IMAGE,
    C.TRANSFER_CUSTOMERS, C.TRANSFER_RESULTS, C.LIST_UNASSIGNED, C.LIST_GROUP_CHATS, C.GET_GROUP_CHAT,
    C.TRANSFER_GROUP_CHATS, C.CREATE_MASS_MESSAGE, C.LIST_MASS_MESSAGES, C.MASS_MESSAGE_TASKS,
    C.MASS_MESSAGE_RESULTS, C.SEND_APP_MESSAGE, C.JSAPI_CONFIG, C.OAUTH_URL, C.RESOLVE_LOGIN, C.WEB_LOGIN,
    # features beyond the method names
    C.CUSTOMER_CALLBACKS, C.WELCOME_CODE, C.AGENT_CONFIG, C.DEPARTED_TRANSFER, C.GROUP_CHAT_TRANSFER,
    C.CUSTOMERS_BY_EMPLOYEE,  # list_customers reads only the given employees' customers (batch/get_by_user)
})


def _at(seconds: Any) -> datetime | None:
    """Epoch seconds from the host to a naive UTC datetime; 0 and blanks mean unknown."""
    try:
        value = int(seconds or 0)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(value, tz=timezone.utc).replace(tzinfo=None) if value > 0 else None


def _known(kind: type[IntEnum], value: Any) -> IntEnum | None:
    """The host's integer as one of the port's values; None for a value the port does not know."""
    try:
        return kind(int(value))
    except (TypeError, ValueError):
        return None


def _epoch(moment: datetime) -> int:
    """A datetime to epoch seconds; naive values are UTC, like everything the product stores."""
    if moment.tzinfo is not None:
        return int(moment.timestamp())
    return calendar.timegm(moment.utctimetuple())


def _str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _customer(raw: dict) -> HostCustomer:
    return HostCustomer(external_id=raw["external_userid"], name=raw.get("name") or "", avatar=_str(raw.get("avatar")),
                        type=_known(CustomerType, raw.get("type")), gender=raw.get("gender"),
                        unionid=_str(raw.get("unionid")),
                        corp_name=_str(raw.get("corp_name")), corp_full_name=_str(raw.get("corp_full_name")),
                        position=_str(raw.get("position")))


def _follow(raw: dict) -> HostFollow:
    # externalcontact/get lists tags as objects; batch/get_by_user's follow_info lists tag ids
    tag_ids = raw.get("tag_id")
    if tag_ids is None:
        tag_ids = [t["tag_id"] for t in raw.get("tags") or [] if t.get("tag_id")]
    return HostFollow(employee_id=raw["userid"], remark=_str(raw.get("remark")),
                      description=_str(raw.get("description")), created_at=_at(raw.get("createtime")),
                      tag_ids=list(tag_ids), remark_mobiles=list(raw.get("remark_mobiles") or []),
                      add_way=raw.get("add_way"), state=_str(raw.get("state")),
                      oper_user_id=_str(raw.get("oper_userid")))


def _employee(raw: dict) -> HostEmployee:
    return HostEmployee(user_id=raw["userid"], name=raw.get("name") or "",
                        department_ids=[str(d) for d in raw.get("department") or []],
                        position=_str(raw.get("position")), mobile=_str(raw.get("mobile")),
                        email=_str(raw.get("email")), avatar=_str(raw.get("avatar")),
                        active=int(raw.get("status") or 1) == 1)


def _tag_group(raw: dict) -> HostTagGroup:
    tags = [HostTag(id=t["id"], name=t.get("name") or "", order=int(t.get("order") or 0),
                    created_at=_at(t.get("create_time")), deleted=bool(t.get("deleted")))
            for t in raw.get("tag") or []]
    return HostTagGroup(id=raw["group_id"], name=raw.get("group_name") or "", order=int(raw.get("order") or 0),
                        tags=tags, created_at=_at(raw.get("create_time")), deleted=bool(raw.get("deleted")))


def _attachments(items: list[Attachment]) -> list[dict]:
    """Domain attachments to WeCom's [{"msgtype": kind, kind: {...}}] (doc 92137)."""
    return [{"msgtype": a.kind, a.kind: dict(a.data)} for a in items]


def _message(content: MessageContent) -> dict:
    out: dict[str, Any] = {}
    if content.text:
        out["text"] = {"content": content.text}
    if content.attachments:
        out["attachments"] = _attachments(content.attachments)
    return out


def _agent(agent_id: str | None) -> int | str | None:
    """message/send documents agentid as an integer."""
    return int(agent_id) if isinstance(agent_id, str) and agent_id.isdigit() else agent_id


def _next(result: dict) -> str | None:
    return result.get("next_cursor") or None


class WeComHost:
    """One WeCom corp as the product's Host."""

    platform = PLATFORM
    capabilities = CAPABILITIES

    def __init__(self, access: CorpAccess, runtime: Runtime, *, client: WeComClient | None = None):
        self.access = access
        self.client = client or WeComClient(access, runtime)

    def __repr__(self) -> str:
        return f"WeComHost({self.access.corp_key})"

    def check_credentials(self) -> None:
        """Fetch an access token with the corp's credentials (gettoken (doc 91039)): raises what the host answers."""
        self.client.fetch_access_token()

    # ---------------------------------------------------------------- address book

    def list_departments(self) -> list[HostDepartment]:
        return [HostDepartment(id=str(d["id"]), name=d.get("name") or "", parent_id=_str(d.get("parentid") or None),
                               order=int(d.get("order") or 0)) for d in self.client.department.get()]

    def list_employees(self, department_id: str | None = None) -> list[HostEmployee]:
        """The department's direct members, or everyone's when none is given: user/list has no fetch_child any
        more (doc 96260), so every department is read and members of several count once."""
        departments = [department_id] if department_id is not None else [d.id for d in self.list_departments()]
        seen: dict[str, HostEmployee] = {}
        for dept in departments:
            for raw in self.client.user.list(int(dept)):
                seen.setdefault(raw["userid"], _employee(raw))
        return list(seen.values())

    def get_employee(self, user_id: str) -> HostEmployee:
        return _employee(self.client.user.get(user_id))

    # ---------------------------------------------------------------- customers

    def list_customer_ids(self, employee_id: str) -> list[str]:
        try:
            return list(self.client.external_contact.list(employee_id).get("external_userid") or [])
        except HostNotFound as exc:
            if exc.errcode == 84061:  # the member simply has no customers
                return []
            raise

    def list_customers(self, employee_ids: list[str], cursor: str | None = None,
                       limit: int = 100) -> Page[HostCustomerRecord]:
        result = self.client.external_contact.batch_get_by_user(list(employee_ids), cursor, max(1, min(limit, 100)))
        records = [HostCustomerRecord(customer=_customer(item["external_contact"]),
                                      follows=[_follow(item["follow_info"])])
                   for item in result.get("external_contact_list") or []]
        return Page(records, _next(result))

    def get_customer(self, customer_id: str) -> HostCustomerRecord:
        cursor, follows, customer = None, [], None
        while True:
            result = self.client.external_contact.get(customer_id, cursor)
            customer = customer or _customer(result["external_contact"])
            follows.extend(_follow(f) for f in result.get("follow_user") or [])
            cursor = _next(result)
            if not cursor:
                return HostCustomerRecord(customer=customer, follows=follows)

    def set_remark(self, employee_id: str, customer_id: str, *, remark: str | None = None,
                   description: str | None = None, remark_mobiles: list[str] | None = None) -> None:
        if remark_mobiles is not None:  # the list replaces the old one; [""] clears it (doc 92115)
            remark_mobiles = [m for m in remark_mobiles if m] or [""]
        self.client.external_contact.remark(employee_id, customer_id, remark=remark, description=description,
                                            remark_mobiles=remark_mobiles)

    def create_customer(self, employee_id: str, name: str, mobile: str, *, state: str | None = None,
                        tag_ids: list[str] | None = None, remark: str | None = None) -> str:
        raise HostUnsupported("create_customer", PLATFORM)

    # ---------------------------------------------------------------- tags

    def list_tag_groups(self, group_ids: list[str] | None = None,
                        tag_ids: list[str] | None = None) -> list[HostTagGroup]:
        result = self.client.external_contact.get_corp_tag_list(tag_ids=tag_ids, group_ids=group_ids)
        return [_tag_group(g) for g in result.get("tag_group") or []]

    def create_tags(self, group_name: str, tag_names: list[str], *, group_id: str | None = None,
                    order: int = 0) -> HostTagGroup:
        result = self.client.external_contact.add_corp_tag(group_id, group_name, order,
                                                           [{"name": n} for n in tag_names])
        return _tag_group(result["tag_group"])

    def edit_tag(self, tag_id: str, *, name: str | None = None, order: int | None = None) -> None:
        self.client.external_contact.edit_corp_tag(tag_id, name, order)

    def delete_tags(self, tag_ids: list[str] = (), group_ids: list[str] = ()) -> None:
        self.client.external_contact.del_corp_tag(tag_id=list(tag_ids) or None, group_id=list(group_ids) or None)

    def mark_tags(self, employee_id: str, customer_id: str, add: list[str] = (), remove: list[str] = ()) -> None:
        self.client.external_contact.mark_tag(employee_id, customer_id, list(add), list(remove))

    # ---------------------------------------------------------------- channel codes and welcome

    def _way_fields(self, spec: ChannelCodeSpec) -> dict[str, Any]:
        fields: dict[str, Any] = {"remark": spec.remark, "skip_verify": spec.skip_verify, "state": spec.state,
                                  "user": list(spec.user_ids)}
        if spec.department_ids:
            fields["party"] = [int(d) for d in spec.department_ids]
        if spec.temporary:
            fields["expires_in"] = spec.expires_in
        return fields

    def create_channel_code(self, spec: ChannelCodeSpec) -> ChannelCode:
        # type 1 takes exactly one user for its whole life (doc 92228): a pool that grows later must be type 2 from
        # the start; only a temporary way, which is single by rule, is type 1
        fields = self._way_fields(spec)
        if spec.temporary:
            fields["is_temp"] = True
        result = self.client.external_contact.add_contact_way(type=1 if spec.temporary else 2, scene=2, **fields)
        return ChannelCode(config_id=result["config_id"], qr_url=result.get("qr_code"))

    def update_channel_code(self, config_id: str, spec: ChannelCodeSpec) -> None:
        fields = self._way_fields(spec)
        fields.setdefault("party", [])  # an update replaces the department list; an empty one clears it
        self.client.external_contact.update_contact_way(config_id, **fields)

    def delete_channel_code(self, config_id: str) -> None:
        self.client.external_contact.del_contact_way(config_id)

    def send_welcome(self, welcome_code: str, content: MessageContent) -> None:
        self.client.external_contact.send_welcome_msg({"welcome_code": welcome_code, **_message(content)})

    def fetch_channel_qr(self, qr_url: str) -> bytes:
        return self.client.fetch_image(qr_url)

    def upload_image(self, filename: str, content: bytes) -> HostMedia:
        """POST media/upload?type=image (doc 90253): a temporary media id for image and miniprogram attachments."""
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        result = self.client.media.upload("image", (filename, content, mimetype))
        created = _at(result.get("created_at"))
        return HostMedia(media_id=result["media_id"], expires_at=created + MEDIA_TTL if created else None)

    # ---------------------------------------------------------------- transfers

    def transfer_customers(self, handover_id: str, takeover_id: str, customer_ids: list[str], *,
                           departed: bool, message: str | None = None) -> list[TransferOutcome]:
        api = self.client.external_contact
        outcomes: list[TransferOutcome] = []
        ids = list(dict.fromkeys(customer_ids))
        for start in range(0, len(ids), TRANSFER_BATCH):
            batch = ids[start:start + TRANSFER_BATCH]
            if departed:
                result = api.resigned_transfer_customer(handover_id, takeover_id, batch)
            else:
                result = api.transfer_customer(handover_id, takeover_id, batch, message or None)
            outcomes.extend(TransferOutcome(customer_id=c["external_userid"], errcode=int(c.get("errcode") or 0))
                            for c in result.get("customer") or [])
        return outcomes

    def transfer_results(self, handover_id: str, takeover_id: str, *, departed: bool,
                         cursor: str | None = None) -> Page[TransferStatus]:
        api = self.client.external_contact
        fetch = api.resigned_transfer_result if departed else api.transfer_result
        result = fetch(handover_id, takeover_id, cursor)
        items = [TransferStatus(customer_id=c["external_userid"], status=TransferState(int(c["status"])),
                                takeover_at=_at(c.get("takeover_time"))) for c in result.get("customer") or []]
        return Page(items, _next(result))

    def list_unassigned(self, cursor: str | None = None, limit: int = 1000) -> Page[UnassignedCustomer]:
        result = self.client.external_contact.get_unassigned_list(page_size=max(1, min(limit, 1000)), cursor=cursor)
        items = [UnassignedCustomer(handover_id=i["handover_userid"], customer_id=i["external_userid"],
                                    departed_at=_at(i.get("dimission_time"))) for i in result.get("info") or []]
        return Page(items, _next(result))  # the end is an empty next_cursor (doc 92124), not is_last

    # ---------------------------------------------------------------- group chats

    def list_group_chats(self, cursor: str | None = None, limit: int = 1000, owner_ids: list[str] | None = None,
                         status: int = 0) -> Page[str]:
        """groupchat/list (doc 92120); status 1 lists the chats of departed owners awaiting 离职继承, which the host
        returns only for owners named in owner_ids."""
        result = self.client.external_contact_group_chat.list(status, owner_ids or None, cursor,
                                                              max(1, min(limit, 1000)))
        return Page([c["chat_id"] for c in result.get("group_chat_list") or []], _next(result))

    def get_group_chat(self, chat_id: str) -> HostGroupChat:
        raw = self.client.external_contact_group_chat.get(chat_id)["group_chat"]
        members = [HostGroupMember(user_id=m["userid"], type=MemberType(int(m.get("type") or 1)),
                                   join_time=_at(m.get("join_time")),
                                   join_scene=m.get("join_scene"), invitor=_str((m.get("invitor") or {}).get("userid")),
                                   nickname=_str(m.get("group_nickname")), name=_str(m.get("name")),
                                   unionid=_str(m.get("unionid"))) for m in raw.get("member_list") or []]
        return HostGroupChat(chat_id=raw["chat_id"], name=raw.get("name") or "", owner_id=_str(raw.get("owner")),
                             created_at=_at(raw.get("create_time")), notice=_str(raw.get("notice")), members=members,
                             admin_ids=[a["userid"] for a in raw.get("admin_list") or []])

    def transfer_group_chats(self, chat_ids: list[str], new_owner_id: str, *,
                             departed: bool) -> list[TransferOutcome]:
        api = self.client.external_contact_group_chat
        outcomes: list[TransferOutcome] = []
        ids = list(dict.fromkeys(chat_ids))
        for start in range(0, len(ids), TRANSFER_BATCH):
            batch = ids[start:start + TRANSFER_BATCH]
            result = (api.transfer if departed else api.onjob_transfer)(batch, new_owner_id)
            failed = {f["chat_id"]: int(f.get("errcode") or 0) for f in result.get("failed_chat_list") or []}
            outcomes.extend(TransferOutcome(customer_id=c, errcode=failed.get(c, 0)) for c in batch)
        return outcomes

    # ---------------------------------------------------------------- mass messages

    def create_mass_message(self, spec: MassMessageSpec) -> tuple[str, list[str]]:
        template: dict[str, Any] = {"chat_type": spec.chat_type, **_message(spec.content)}
        if spec.sender_id:
            template["sender"] = spec.sender_id
        if spec.chat_type == "group":
            if spec.chat_ids:
                template["chat_id_list"] = list(spec.chat_ids)
        else:
            template["external_userid"] = list(spec.customer_ids)
        if spec.allow_select:
            template["allow_select"] = True
        result = self.client.external_contact.add_msg_template(template)
        return result["msgid"], list(result.get("fail_list") or [])

    def list_mass_messages(self, start: datetime, end: datetime, cursor: str | None = None,
                           creator: str | None = None) -> Page[MassMessage]:
        # one listing walks the single-chat messages, then the group ones; the cursor says which and where
        phase, _, inner = (cursor or "single:").partition(":")
        if phase not in MASS_PHASES:
            phase, inner = "single", cursor or ""
        result = self.client.external_contact.get_groupmsg_list_v2(phase, _epoch(start), _epoch(end), creator=creator,
                                                                   cursor=inner or None)
        items = [MassMessage(msg_id=m["msgid"], creator=_str(m.get("creator")), created_at=_at(m.get("create_time")),
                             text=_str((m.get("text") or {}).get("content")))
                 for m in result.get("group_msg_list") or []]
        following = _next(result)
        if following:
            return Page(items, f"{phase}:{following}")
        return Page(items, "group:" if phase == "single" else None)

    def mass_message_tasks(self, msg_id: str, cursor: str | None = None) -> Page[MassMessageTask]:
        result = self.client.external_contact.get_groupmsg_task(msg_id, cursor=cursor)
        items = [MassMessageTask(user_id=t["userid"], status=MassTaskState(int(t.get("status") or 0)),
                                 sent_at=_at(t.get("send_time")))
                 for t in result.get("task_list") or []]
        return Page(items, _next(result))

    def mass_message_results(self, msg_id: str, user_id: str,
                             cursor: str | None = None) -> Page[MassMessageResult]:
        result = self.client.external_contact.get_groupmsg_send_result(msg_id, user_id, cursor=cursor)
        items = [MassMessageResult(user_id=r.get("userid") or user_id, customer_id=_str(r.get("external_userid")),
                                   chat_id=_str(r.get("chat_id")), status=MassSendState(int(r.get("status") or 0)),
                                   sent_at=_at(r.get("send_time"))) for r in result.get("send_list") or []]
        return Page(items, _next(result))

    # ---------------------------------------------------------------- app messages and H5

    def send_app_message(self, user_ids: list[str], text: str) -> None:
        ids = list(dict.fromkeys(user_ids))
        for start in range(0, len(ids), APP_MESSAGE_BATCH):
            self.client.message.send_text(_agent(self.access.agent_id), ids[start:start + APP_MESSAGE_BATCH], text)

    def jsapi_config(self, url: str, *, refresh: bool = False) -> dict[str, Any]:
        jsapi = self.client.jsapi
        if refresh:
            jsapi.forget_tickets()
        return {"corp": jsapi.config_params(url), "agent": jsapi.agent_config_params(url)}

    def oauth_url(self, redirect_uri: str, state: str) -> str | None:
        return self.client.oauth.authorize_url(redirect_uri, state)

    def login_page_url(self, redirect_uri: str, state: str) -> str:
        return self.client.oauth.web_login_url(redirect_uri, state)

    def resolve_web_login(self, code: str) -> LoginIdentity:
        return self.resolve_login(code)

    def resolve_login(self, code: str) -> LoginIdentity:
        result = self.client.oauth.get_user_info(code)
        return LoginIdentity(user_id=_str(result.get("userid") or result.get("UserId")),
                             external_id=_str(result.get("external_userid")),
                             open_id=_str(result.get("openid") or result.get("OpenId")))

