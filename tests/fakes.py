"""An in-memory Host that records every call: the fake at the port for service tests."""
from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime
from typing import Any

from connectors.wecom.host import CAPABILITIES as WECOM_CAPABILITIES
from scrm.host import (
    Capability, ChannelCode, ChannelCodeSpec, HostCustomer, HostCustomerRecord, HostDepartment, HostEmployee, HostError,
    HostFollow, HostGroupChat, HostMedia, HostNotFound, HostTag, HostTagGroup, LoginIdentity, MassMessage,
    MassMessageResult, MassMessageSpec, MassMessageTask, MessageContent, Page, TransferOutcome, TransferStatus,
    UnassignedCustomer,
)


class FakeHost:
    """State is plain dicts a test fills; `calls` lists (method, kwargs) in order; `fail_next` raises once."""

    platform = "fake"
    #: WeCom's, so services take the paths they take on WeCom; a test removes some to play DingTalk
    capabilities = WECOM_CAPABILITIES

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.departments: dict[str, HostDepartment] = {}
        self.employees: dict[str, HostEmployee] = {}
        self.customers: dict[str, HostCustomer] = {}
        self.follows: dict[str, dict[str, HostFollow]] = {}  # customer id -> employee id -> follow
        self.tag_groups: dict[str, HostTagGroup] = {}
        self.group_chats: dict[str, HostGroupChat] = {}
        self.mass_messages: list[MassMessage] = []
        self.fail_next: dict[str, Exception] = {}
        self._ids = itertools.count(1)

    # ------------------------------------------------------------ helpers for tests
    def _call(self, method: str, **kwargs) -> None:
        self.calls.append((method, kwargs))
        error = self.fail_next.pop(method, None)
        if error is not None:
            raise error

    def called(self, method: str) -> list[dict[str, Any]]:
        return [kw for m, kw in self.calls if m == method]

    def add_employee(self, user_id: str, name: str | None = None, departments: list[str] | None = None) -> None:
        self.employees[user_id] = HostEmployee(user_id=user_id, name=name or user_id,
                                               department_ids=departments or ["1"])

    def add_friend(self, employee_id: str, customer_id: str, name: str = "客户", **follow) -> None:
        self.customers.setdefault(customer_id, HostCustomer(external_id=customer_id, name=name, type=1))
        self.follows.setdefault(customer_id, {})[employee_id] = HostFollow(employee_id=employee_id, **follow)

    def remove_friend(self, employee_id: str, customer_id: str) -> None:
        self.follows.get(customer_id, {}).pop(employee_id, None)

    def check_credentials(self):
        self._call("check_credentials")

    # ------------------------------------------------------------ address book
    def list_departments(self):
        self._call("list_departments")
        return list(self.departments.values())

    def list_employees(self, department_id=None):
        self._call("list_employees", department_id=department_id)
        return [e for e in self.employees.values() if department_id is None or department_id in e.department_ids]

    def get_employee(self, user_id):
        self._call("get_employee", user_id=user_id)
        try:
            return self.employees[user_id]
        except KeyError:
            raise HostNotFound(60111, "userid not found", api="user/get") from None

    # ------------------------------------------------------------ customers
    def list_customer_ids(self, employee_id):
        self._call("list_customer_ids", employee_id=employee_id)
        return [c for c, f in self.follows.items() if employee_id in f]

    def list_customers(self, employee_ids, cursor=None, limit=100):
        self._call("list_customers", employee_ids=list(employee_ids), cursor=cursor, limit=limit)
        rows = [HostCustomerRecord(self.customers[c], [f[e]])
                for c, f in sorted(self.follows.items()) for e in employee_ids if e in f]
        start = int(cursor or 0)
        end = start + limit
        return Page(rows[start:end], str(end) if end < len(rows) else None)

    def get_customer(self, customer_id):
        self._call("get_customer", customer_id=customer_id)
        if customer_id not in self.customers:
            raise HostNotFound(40096, "invalid external_userid", api="externalcontact/get")
        return HostCustomerRecord(self.customers[customer_id], list(self.follows.get(customer_id, {}).values()))

    def set_remark(self, employee_id, customer_id, *, remark=None, description=None, remark_mobiles=None):
        self._call("set_remark", employee_id=employee_id, customer_id=customer_id, remark=remark,
                   description=description, remark_mobiles=remark_mobiles)
        follow = self.follows[customer_id][employee_id]
        self.follows[customer_id][employee_id] = replace(
            follow, remark=remark if remark is not None else follow.remark,
            description=description if description is not None else follow.description,
            remark_mobiles=remark_mobiles if remark_mobiles is not None else follow.remark_mobiles)

    def create_customer(self, employee_id, name, mobile, *, state=None, tag_ids=None, remark=None):
        self._call("create_customer", employee_id=employee_id, name=name, mobile=mobile, state=state,
                   tag_ids=tag_ids, remark=remark)
        if Capability.CUSTOMER_NEEDS_TAG in self.capabilities and not tag_ids:
            raise HostError(60204, "需要外部联系人标签")  # DingTalk's extcontact/create
        cid = f"ext{next(self._ids)}"
        self.add_friend(employee_id, cid, name=name, state=state, tag_ids=list(tag_ids or []), remark=remark)
        return cid

    # ------------------------------------------------------------ tags
    def list_tag_groups(self, group_ids=None, tag_ids=None):
        self._call("list_tag_groups", group_ids=group_ids, tag_ids=tag_ids)
        groups = list(self.tag_groups.values())
        if group_ids:
            groups = [g for g in groups if g.id in group_ids]
        elif tag_ids:
            groups = [replace(g, tags=[t for t in g.tags if t.id in tag_ids]) for g in groups]
            groups = [g for g in groups if g.tags]
        return groups

    def create_tags(self, group_name, tag_names, *, group_id=None, order=0):
        self._call("create_tags", group_name=group_name, tag_names=list(tag_names), group_id=group_id, order=order)
        group = self.tag_groups.get(group_id) if group_id else None
        if group is None:
            group = HostTagGroup(id=group_id or f"grp{next(self._ids)}", name=group_name, order=order)
            self.tag_groups[group.id] = group
        for name in tag_names:
            group.tags.append(HostTag(id=f"tag{next(self._ids)}", name=name))
        return group

    def edit_tag(self, tag_id, *, name=None, order=None):
        self._call("edit_tag", tag_id=tag_id, name=name, order=order)
        for group in self.tag_groups.values():
            if group.id == tag_id:
                group.name, group.order = name or group.name, order if order is not None else group.order
                return
            for tag in group.tags:
                if tag.id == tag_id:
                    tag.name, tag.order = name or tag.name, order if order is not None else tag.order
                    return
        raise HostError(40068, "invalid tagid", api="externalcontact/edit_corp_tag")

    def delete_tags(self, tag_ids=(), group_ids=()):
        self._call("delete_tags", tag_ids=list(tag_ids), group_ids=list(group_ids))
        for gid in group_ids:
            self.tag_groups.pop(gid, None)
        for group in self.tag_groups.values():
            group.tags = [t for t in group.tags if t.id not in set(tag_ids)]

    def mark_tags(self, employee_id, customer_id, add=(), remove=()):
        self._call("mark_tags", employee_id=employee_id, customer_id=customer_id, add=list(add),
                   remove=list(remove))
        follow = self.follows[customer_id][employee_id]
        follow.tag_ids = [t for t in follow.tag_ids if t not in set(remove)] + \
            [t for t in add if t not in follow.tag_ids]

    # ------------------------------------------------------------ channel codes and welcome
    def create_channel_code(self, spec: ChannelCodeSpec):
        self._call("create_channel_code", spec=spec)
        cid = f"cfg{next(self._ids)}"
        return ChannelCode(config_id=cid, qr_url=f"https://fake.host/qr/{cid}.png")

    def update_channel_code(self, config_id, spec):
        self._call("update_channel_code", config_id=config_id, spec=spec)

    def delete_channel_code(self, config_id):
        self._call("delete_channel_code", config_id=config_id)

    def send_welcome(self, welcome_code, content: MessageContent):
        self._call("send_welcome", welcome_code=welcome_code, content=content)

    def fetch_channel_qr(self, qr_url):
        self._call("fetch_channel_qr", qr_url=qr_url)
        import io

        import qrcode

        buf = io.BytesIO()
        qrcode.make(qr_url).save(buf)
        return buf.getvalue()

    def upload_image(self, filename, content):
        self._call("upload_image", filename=filename, size=len(content))
        return HostMedia(media_id=f"media{next(self._ids)}", expires_at=datetime(2099, 1, 1))

    # ------------------------------------------------------------ transfers
    def transfer_customers(self, handover_id, takeover_id, customer_ids, *, departed, message=None):
        self._call("transfer_customers", handover_id=handover_id, takeover_id=takeover_id,
                   customer_ids=list(customer_ids), departed=departed, message=message)
        return [TransferOutcome(c, 0) for c in customer_ids]

    def transfer_results(self, handover_id, takeover_id, *, departed, cursor=None):
        self._call("transfer_results", handover_id=handover_id, takeover_id=takeover_id, departed=departed,
                   cursor=cursor)
        return Page([TransferStatus(c, 2) for c in self.follows if handover_id in self.follows[c]])

    def list_unassigned(self, cursor=None, limit=1000):
        self._call("list_unassigned", cursor=cursor, limit=limit)
        return Page([UnassignedCustomer(handover_id=e, customer_id=c)
                     for c, f in self.follows.items() for e in f
                     if e in self.employees and not self.employees[e].active])

    # ------------------------------------------------------------ group chats
    def list_group_chats(self, cursor=None, limit=1000, owner_ids=None, status=0):
        self._call("list_group_chats", cursor=cursor, limit=limit, owner_ids=owner_ids, status=status)
        return Page(sorted(self.group_chats))

    def get_group_chat(self, chat_id):
        self._call("get_group_chat", chat_id=chat_id)
        try:
            return self.group_chats[chat_id]
        except KeyError:
            raise HostNotFound(40050, "chatid not found", api="externalcontact/groupchat/get") from None

    def transfer_group_chats(self, chat_ids, new_owner_id, *, departed):
        self._call("transfer_group_chats", chat_ids=list(chat_ids), new_owner_id=new_owner_id, departed=departed)
        return [TransferOutcome(c, 0) for c in chat_ids]

    # ------------------------------------------------------------ mass messages
    def create_mass_message(self, spec: MassMessageSpec):
        self._call("create_mass_message", spec=spec)
        msg = MassMessage(msg_id=f"msg{next(self._ids)}", creator=spec.sender_id, text=spec.content.text)
        self.mass_messages.append(msg)
        return msg.msg_id, []

    def list_mass_messages(self, start: datetime, end: datetime, cursor=None, creator=None):
        self._call("list_mass_messages", start=start, end=end, cursor=cursor, creator=creator)
        return Page(list(self.mass_messages))

    def mass_message_tasks(self, msg_id, cursor=None):
        self._call("mass_message_tasks", msg_id=msg_id, cursor=cursor)
        return Page([MassMessageTask(user_id=u, status=0) for u in self.employees])

    def mass_message_results(self, msg_id, user_id, cursor=None):
        self._call("mass_message_results", msg_id=msg_id, user_id=user_id, cursor=cursor)
        return Page([MassMessageResult(user_id=user_id, customer_id=c, chat_id=None, status=0)
                     for c, f in self.follows.items() if user_id in f])

    # ------------------------------------------------------------ app messages, H5
    def send_app_message(self, user_ids, text):
        self._call("send_app_message", user_ids=list(user_ids), text=text)

    def jsapi_config(self, url, *, refresh=False):
        self._call("jsapi_config", url=url, refresh=refresh)
        return {"url": url}

    def oauth_url(self, redirect_uri, state):
        self._call("oauth_url", redirect_uri=redirect_uri, state=state)
        return f"https://fake.host/oauth?redirect_uri={redirect_uri}&state={state}"

    def login_page_url(self, redirect_uri, state):
        self._call("login_page_url", redirect_uri=redirect_uri, state=state)
        return f"https://fake.host/login?redirect_uri={redirect_uri}&state={state}"

    def resolve_web_login(self, code):
        return self.resolve_login(code)

    def resolve_login(self, code):
        self._call("resolve_login", code=code)
        if not code.startswith("code-"):
            raise HostError(40029, "invalid code", api="auth/getuserinfo")
        return LoginIdentity(user_id=code[len("code-"):])


def inside(host_writes: list[dict]) -> list[dict]:
    """The host writes (as the `host_writes` fixture saw them) that ran inside a unit, over uncommitted writes or
    with rows locked."""
    return [s for s in host_writes if s["unit"] or s["writes"] or s["locks"]]
