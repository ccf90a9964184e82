"""The sandbox's DingTalk half: the oapi and v1.0 endpoints the product uses, its own tables (sbx_dt_*), a seeded
organisation, and actions that change it and deliver signed, encrypted event callbacks (eventId kept on retries).

Behaves like the host: tokens expire on the sandbox clock (legacy 42001, garbage 40014, v1.0 401), 20 calls per
second per app and API (90018 / 403 QpsLimitForAppkeyAndApi), an optional monthly quota on message and CRM APIs
(90020), free-login codes single-use for 5 minutes (40078), external-contact validation (60204, 60103, 22005).
"""
from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import JSON, Boolean, Double, Integer, String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from connectors.sandbox import names
from connectors.sandbox.app import Corp
from connectors.sandbox.core import Base, SandboxDB
from connectors.sandbox.delivery import deliverer

bp = Blueprint("sandbox_dingtalk", __name__)
CODE_TTL = 300
QUOTA_APIS = ("topapi/message/corpconversation/asyncsend_v2", "v1.0/crm/personalCustomers")


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
    __tablename__ = "sbx_dt_code"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    userid: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Double)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class DtMessage(Base):
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


class DingTalkError(Exception):
    def __init__(self, code: int | str, message: str = "", status: int = 400):
        self.code, self.message, self.status = code, message, status


# ---------------------------------------------------------------- plumbing

def _db() -> SandboxDB:
    return current_app.extensions["sandbox"]


_rates: dict[tuple[str, str], tuple[int, int]] = {}
_months: dict[tuple[str, str], int] = {}
_rates_lock = threading.Lock()


def _throttle(db: SandboxDB, corp: Corp, api: str, v1: bool) -> None:
    """20 calls per second per app and API (configurable as limits["qps"]); a monthly quota when configured."""
    now = db.clock.time()
    second, budget = int(now), int(corp.limit("qps", 20))
    with _rates_lock:
        seen, count = _rates.get((corp.corp_id, api), (second, 0))
        count = 0 if seen != second else count
        if count >= budget:
            raise DingTalkError("Forbidden.AccessDenied.QpsLimitForAppkeyAndApi" if v1 else 90018,
                                "app api qps limit", status=403)
        _rates[(corp.corp_id, api)] = (second, count + 1)
        quota = corp.limit("monthly_quota", None)
        if quota is not None and api in QUOTA_APIS:
            month = datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m")
            used = _months.get((corp.corp_id, month), 0)
            if used >= int(quota):
                raise DingTalkError("Forbidden.AccessDenied.ApiCountLimitForOrg" if v1 else 90020,
                                    "monthly api quota used up", status=403)
            _months[(corp.corp_id, month)] = used + 1


def _issue_token(db: SandboxDB, corp: Corp, kind: str = "access") -> tuple[str, int]:
    now = db.clock.time()
    with db.session() as s:
        live = s.scalar(select(DtToken).where(DtToken.corp_id == corp.corp_id, DtToken.kind == kind,
                                              DtToken.expires_at > now))
        if live is not None:  # the host hands back the same token while it is valid
            return live.token, int(live.expires_at - now)
        token = secrets.token_hex(16)
        s.add(DtToken(token=token, corp_id=corp.corp_id, kind=kind, expires_at=now + corp.token_ttl))
    return token, corp.token_ttl


def _authenticate(db: SandboxDB, token: str | None, v1: bool) -> Corp:
    with db.session() as s:
        row = s.get(DtToken, token or "")
        if row is None or row.kind != "access":
            raise DingTalkError("InvalidAuthentication" if v1 else 40014, "不合法的access_token", status=401)
        if row.expires_at <= db.clock.time():
            raise DingTalkError("InvalidAuthentication" if v1 else 42001, "access_token超时", status=401)
        return s.scalar(select(Corp).where(Corp.corp_id == row.corp_id))


OAPI: dict[str, Callable[[SandboxDB, Corp, dict], dict]] = {}
V1: dict[tuple[str, str], Callable[[SandboxDB, Corp, dict], dict]] = {}


def oapi(path: str):
    def register(fn):
        OAPI[path] = fn
        return fn
    return register


def v1(method: str, path: str):
    def register(fn):
        V1[(method, path)] = fn
        return fn
    return register


@bp.route("/oapi/gettoken")
def gettoken():
    db = _db()
    with db.session() as s:
        corp = s.scalar(select(Corp).where(Corp.app_key == request.args.get("appkey", ""),
                                           Corp.platform == "dingtalk"))
    if corp is None or not secrets.compare_digest(corp.secret, request.args.get("appsecret", "")):
        return jsonify(errcode=40089, errmsg="不合法的corpid或corpsecret")
    token, ttl = _issue_token(db, corp)
    return jsonify(errcode=0, errmsg="ok", access_token=token, expires_in=ttl)


@bp.route("/oapi/<path:path>", methods=["GET", "POST"])
def oapi_dispatch(path: str):
    db = _db()
    try:
        corp = _authenticate(db, request.args.get("access_token"), v1=False)
        handler = OAPI.get(path)
        if handler is None:
            return jsonify(errcode=404, errmsg=f"api {path} not found"), 404
        _throttle(db, corp, path, v1=False)
        body = json.loads(request.get_data() or b"{}") if request.method == "POST" else dict(request.args)
        if not isinstance(body, dict):
            raise DingTalkError(40035, "不合法的参数")
        return jsonify(errcode=0, errmsg="ok", **handler(db, corp, body))
    except DingTalkError as exc:
        return jsonify(errcode=exc.code, errmsg=exc.message)
    except ValueError:
        return jsonify(errcode=40035, errmsg="不合法的参数")


@bp.post("/api/v1.0/oauth2/accessToken")
def v1_token():
    db = _db()
    body = request.get_json(silent=True) or {}
    with db.session() as s:
        corp = s.scalar(select(Corp).where(Corp.app_key == str(body.get("appKey", "")), Corp.platform == "dingtalk"))
    if corp is None or not secrets.compare_digest(corp.secret, str(body.get("appSecret", ""))):
        return jsonify(code="invalidClientIdOrSecret", message="无效的clientId或者clientSecret"), 400
    token, ttl = _issue_token(db, corp)
    return jsonify(accessToken=token, expireIn=ttl)


@bp.route("/api/<path:path>", methods=["GET", "POST", "PUT"])
def v1_dispatch(path: str):
    db = _db()
    try:
        corp = _authenticate(db, request.headers.get("x-acs-dingtalk-access-token"), v1=True)
        handler = V1.get((request.method, path))
        if handler is None:
            return jsonify(code="ApiNotFound", message=path), 404
        _throttle(db, corp, path, v1=True)
        body = request.get_json(silent=True) or {} if request.method != "GET" else dict(request.args)
        return jsonify(handler(db, corp, body))
    except DingTalkError as exc:
        return jsonify(code=exc.code, message=exc.message), exc.status


# ---------------------------------------------------------------- address book

def _user_json(u: DtUser) -> dict:
    return {"userid": u.userid, "name": u.name, "mobile": u.mobile, "title": u.title, "dept_id_list": u.dept_ids,
            "active": True, "unionid": hashlib.md5(u.userid.encode()).hexdigest()}


def _user(s, corp: Corp, userid: str) -> DtUser:
    user = s.scalar(select(DtUser).where(DtUser.corp_id == corp.corp_id, DtUser.userid == str(userid)))
    if user is None or user.left:
        raise DingTalkError(60121, "找不到该用户")
    return user


@oapi("topapi/v2/user/get")
def user_get(db, corp, body):
    with db.session() as s:
        return {"result": _user_json(_user(s, corp, body.get("userid", "")))}


@oapi("topapi/v2/department/listsub")
def department_listsub(db, corp, body):
    with db.session() as s:
        rows = s.scalars(select(DtDepartment).where(DtDepartment.corp_id == corp.corp_id,
                                                    DtDepartment.parent_id == int(body.get("dept_id", 1))))
        return {"result": [{"dept_id": d.dept_id, "name": d.name, "parent_id": d.parent_id} for d in rows]}


def _members(s, corp: Corp, dept_id: int) -> list[DtUser]:
    users = s.scalars(select(DtUser).where(DtUser.corp_id == corp.corp_id, DtUser.left.is_(False))
                      .order_by(DtUser.id))
    return [u for u in users if dept_id in (u.dept_ids or [])]


@oapi("topapi/user/listid")
def user_listid(db, corp, body):
    with db.session() as s:
        return {"result": {"userid_list": [u.userid for u in _members(s, corp, int(body.get("dept_id", 1)))]}}


@oapi("topapi/v2/user/list")
def user_list(db, corp, body):
    cursor, size = int(body.get("cursor", 0)), int(body.get("size", 0))
    if not 1 <= size <= 100:
        raise DingTalkError(40035, "size 须在1-100之间")
    with db.session() as s:
        members = _members(s, corp, int(body.get("dept_id", 1)))
    page = members[cursor:cursor + size]
    more = cursor + size < len(members)
    return {"result": {"has_more": more, "next_cursor": cursor + size if more else None,
                       "list": [_user_json(u) for u in page]}}


@oapi("topapi/v2/user/getuserinfo")
def user_getuserinfo(db, corp, body):
    with db.session() as s:
        code = s.get(DtCode, str(body.get("code", "")))
        if code is None or code.used or code.corp_id != corp.corp_id or code.expires_at <= db.clock.time():
            raise DingTalkError(40078, "不存在的临时授权码")
        code.used = True
        user = _user(s, corp, code.userid)
        return {"result": {"userid": user.userid, "name": user.name, "unionid": _user_json(user)["unionid"],
                           "sys": False, "sys_level": 0}}


@oapi("get_jsapi_ticket")
def jsapi_ticket(db, corp, body):
    ticket, ttl = _issue_token(db, corp, "jsapi")
    return {"ticket": ticket, "expires_in": ttl}


@v1("POST", "v1.0/oauth2/jsapiTickets")
def v1_jsapi_ticket(db, corp, body):
    ticket, ttl = _issue_token(db, corp, "jsapi")
    return {"jsapiTicket": ticket, "expireIn": ttl}


# ---------------------------------------------------------------- external contacts and labels

def _contact_json(c: DtContact) -> dict:
    return {"userid": c.userid, "name": c.name, "mobile": c.mobile, "state_code": "86",
            "follower_user_id": c.follower_user_id, "label_ids": c.label_ids, "remark": c.remark,
            "company_name": c.company_name, "title": c.title}


def _validate_contact(s, corp: Corp, contact: dict, *, creating: bool) -> None:
    if not contact.get("name"):
        raise DingTalkError(40035, "name 不能为空")
    if not contact.get("label_ids"):
        raise DingTalkError(60204, "标签不能为空")
    _user(s, corp, contact.get("follower_user_id", ""))
    known = set(s.scalars(select(DtLabel.id).where(DtLabel.corp_id == corp.corp_id)))
    if any(int(label) not in known for label in contact["label_ids"]):
        raise DingTalkError(60204, "标签不存在")
    if creating:
        mobile = str(contact.get("mobile") or "")
        if not (mobile.isdigit() and 5 <= len(mobile) <= 20) or not contact.get("state_code"):
            raise DingTalkError(60103, "手机号码不合法")


def _contact(s, corp: Corp, user_id: str) -> DtContact:
    row = s.scalar(select(DtContact).where(DtContact.corp_id == corp.corp_id, DtContact.userid == str(user_id)))
    if row is None:
        raise DingTalkError(33012, "无效的userid")
    return row


@oapi("topapi/extcontact/create")
def extcontact_create(db, corp, body):
    contact = body.get("contact") or {}
    with db.session() as s:
        _validate_contact(s, corp, contact, creating=True)
        if s.scalar(select(DtContact).where(DtContact.corp_id == corp.corp_id,
                                            DtContact.mobile == str(contact["mobile"]),
                                            DtContact.follower_user_id == contact["follower_user_id"])):
            raise DingTalkError(22005, "外部联系人已存在")
        row = DtContact(corp_id=corp.corp_id, userid=secrets.token_hex(8), name=contact["name"],
                        mobile=str(contact["mobile"]), follower_user_id=contact["follower_user_id"],
                        label_ids=[int(x) for x in contact["label_ids"]], remark=contact.get("remark"),
                        company_name=contact.get("company_name"), title=contact.get("title"))
        s.add(row)
        return {"userid": row.userid}


@oapi("topapi/extcontact/update")
def extcontact_update(db, corp, body):
    contact = body.get("contact") or {}
    with db.session() as s:
        row = _contact(s, corp, contact.get("user_id", ""))
        _validate_contact(s, corp, contact, creating=False)
        row.name, row.follower_user_id = contact["name"], contact["follower_user_id"]
        row.label_ids = [int(x) for x in contact["label_ids"]]
        for field in ("remark", "company_name", "title"):
            if field in contact:
                setattr(row, field, contact[field])
    return {}


@oapi("topapi/extcontact/get")
def extcontact_get(db, corp, body):
    with db.session() as s:
        return {"result": _contact_json(_contact(s, corp, body.get("user_id", "")))}


@oapi("topapi/extcontact/delete")
def extcontact_delete(db, corp, body):
    with db.session() as s:
        s.delete(_contact(s, corp, body.get("user_id", "")))
    return {}


@oapi("topapi/extcontact/list")
def extcontact_list(db, corp, body):
    offset, size = int(body.get("offset", 0)), int(body.get("size", 100))
    if not 1 <= size <= 100:
        raise DingTalkError(40035, "size 须在1-100之间")
    with db.session() as s:
        rows = s.scalars(select(DtContact).where(DtContact.corp_id == corp.corp_id).order_by(DtContact.id)
                         .offset(offset).limit(size))
        return {"results": [_contact_json(c) for c in rows]}


@oapi("topapi/extcontact/listlabelgroups")
def extcontact_listlabelgroups(db, corp, body):
    offset, size = int(body.get("offset", 0)), int(body.get("size", 100))
    with db.session() as s:
        labels = list(s.scalars(select(DtLabel).where(DtLabel.corp_id == corp.corp_id).order_by(DtLabel.id)))
    groups: dict[str, dict] = {}
    for label in labels:
        group = groups.setdefault(label.group_name, {"name": label.group_name, "color": label.color, "labels": []})
        group["labels"].append({"id": label.id, "name": label.name})
    return {"results": list(groups.values())[offset:offset + size]}


# ---------------------------------------------------------------- messages and CRM

@oapi("topapi/message/corpconversation/asyncsend_v2")
def asyncsend_v2(db, corp, body):
    if str(body.get("agent_id", "")) != str(corp.agent_id):
        raise DingTalkError(40056, "不合法的agentid")
    msg = body.get("msg") or {}
    if not msg.get("msgtype"):
        raise DingTalkError(40035, "msg 不合法")
    users = [u for u in str(body.get("userid_list", "")).split(",") if u]
    if len(users) > 100:
        raise DingTalkError(40035, "userid_list 最多100个")
    day = datetime.fromtimestamp(db.clock.time(), tz=timezone.utc).strftime("%Y-%m-%d")
    digest = hashlib.sha256(json.dumps(msg, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    with db.session() as s:
        for userid in users:
            # the host accepts and silently drops the same content to the same user twice in a day
            if not s.scalar(select(DtMessage).where(DtMessage.corp_id == corp.corp_id, DtMessage.userid == userid,
                                                    DtMessage.day == day, DtMessage.digest == digest)):
                s.add(DtMessage(corp_id=corp.corp_id, userid=userid, day=day, digest=digest, msg=msg))
    return {"task_id": secrets.randbelow(10**12)}


@v1("POST", "v1.0/crm/personalCustomers")
def crm_create(db, corp, body):
    if not body.get("creatorUserId") or not isinstance(body.get("data"), dict):
        raise DingTalkError("MissingParameter", "creatorUserId and data are required")
    owners = (body.get("permission") or {}).get("ownerStaffIds") or [body["creatorUserId"]]
    row = DtCrmCustomer(instance_id=secrets.token_hex(10), corp_id=corp.corp_id, data=body["data"],
                        owner_ids=list(owners), updated_at=db.clock.time())
    with db.session() as s:
        s.add(row)
    return {"instanceId": row.instance_id}


@v1("PUT", "v1.0/crm/personalCustomers")
def crm_update(db, corp, body):
    with db.session() as s:
        row = s.get(DtCrmCustomer, str(body.get("instanceId", "")))
        if row is None or row.corp_id != corp.corp_id:
            raise DingTalkError("InstanceNotFound", "instance not found", status=404)
        if isinstance(body.get("data"), dict):
            row.data = {**row.data, **body["data"]}
        owners = (body.get("permission") or {}).get("ownerStaffIds")
        if owners:
            row.owner_ids = list(owners)
        row.updated_at = db.clock.time()
        return {"instanceId": row.instance_id}


@v1("GET", "v1.0/crm/personalCustomers")
def crm_list(db, corp, body):
    size, start = min(int(body.get("maxResults", 100)), 100), int(body.get("nextToken") or 0)
    with db.session() as s:
        rows = list(s.scalars(select(DtCrmCustomer).where(DtCrmCustomer.corp_id == corp.corp_id)
                              .order_by(DtCrmCustomer.instance_id).offset(start).limit(size + 1)))
    more = len(rows) > size
    return {"values": [{"instanceId": r.instance_id, "data": r.data, "permission": {"ownerStaffIds": r.owner_ids}}
                       for r in rows[:size]], "hasMore": more, "nextToken": str(start + size) if more else None}


# ---------------------------------------------------------------- seed and the other side

def seed_corp(db: SandboxDB, corp: Corp, *, employees: int, customers: int, rng, **params: Any) -> dict[str, int]:
    """Departments, employees, label groups and external contacts with Chinese names (some with emoji)."""
    employees, customers = int(employees), int(customers)
    with db.session() as s:
        first = (s.scalar(select(func.max(DtDepartment.dept_id)).where(DtDepartment.corp_id == corp.corp_id))
                 or 1) + 1
        depts = [first + n for n in range(max(1, min(len(names.DEPARTMENTS), employees // 8 or 1)))]
        s.add_all(DtDepartment(corp_id=corp.corp_id, dept_id=d, name=names.DEPARTMENTS[n % len(names.DEPARTMENTS)],
                               parent_id=1) for n, d in enumerate(depts))
        start = s.scalar(select(func.count()).select_from(DtUser).where(DtUser.corp_id == corp.corp_id)) or 0
        staff = [f"dt{start + n + 1:05d}" for n in range(employees)]
        s.add_all(DtUser(corp_id=corp.corp_id, userid=u, name=names.person(rng), mobile=names.mobile(rng),
                         title=rng.choice(names.POSITIONS), dept_ids=[1, rng.choice(depts)]) for u in staff)
        labels = []
        if not s.scalar(select(DtLabel).where(DtLabel.corp_id == corp.corp_id)):
            for color, (group, tags) in enumerate(names.TAG_GROUPS.items()):
                for tag in tags:
                    label = DtLabel(corp_id=corp.corp_id, group_name=group, color=color, name=tag)
                    s.add(label)
                    labels.append(label)
            s.flush()
        label_ids = [label.id for label in labels] or list(s.scalars(select(DtLabel.id).where(
            DtLabel.corp_id == corp.corp_id)))
    rows = []
    for _ in range(customers):
        name = names.nickname(rng) if rng.random() < 0.3 else names.person(rng)
        rows.append({"corp_id": corp.corp_id, "userid": secrets.token_hex(8), "name": name,
                     "mobile": names.mobile(rng), "follower_user_id": rng.choice(staff) if staff else "",
                     "label_ids": rng.sample(label_ids, k=min(len(label_ids), rng.randint(1, 2))),
                     "company_name": rng.choice(names.COMPANIES) if rng.random() < 0.4 else None,
                     "remark": None, "title": None})
    with db.session() as s:
        for n in range(0, len(rows), 5000):
            s.execute(DtContact.__table__.insert(), rows[n:n + 5000])
    return {"departments": len(depts), "employees": employees, "customers": customers, "labels": len(label_ids)}


def issue_code(db: SandboxDB, corp: Corp, userid: str) -> str:
    """What dd.requestAuthCode gives a page opened by `userid`: a single-use free-login code, valid 5 minutes."""
    code = secrets.token_hex(16)
    with db.session() as s:
        s.add(DtCode(code=code, corp_id=corp.corp_id, userid=userid, expires_at=db.clock.time() + CODE_TTL))
    return code


class _Run:
    def __init__(self, db: SandboxDB, corp: Corp, rng):
        self.db, self.corp, self.rng, self.futures, self.events = db, corp, rng, [], []

    def emit(self, event_type: str, data: dict, key: str | None = None) -> str:
        """Deliver one event; retries (after 10 s and 30 s) resend the same eventId."""
        from connectors.dingtalk.crypto import DingTalkCrypto

        event_id = secrets.token_hex(16)
        self.events.append(event_type)
        corp = self.corp
        if not corp.callback_url:
            return event_id
        now_ms = str(int(self.db.clock.time() * 1000))
        plain = json.dumps({"EventType": event_type, "eventId": event_id, "CorpId": corp.corp_id,
                            "TimeStamp": now_ms, **data}, ensure_ascii=False)
        crypto = DingTalkCrypto(corp.callback_token or "", corp.callback_aes_key or "", corp.app_key or "")

        def build() -> tuple[dict, bytes, str]:
            nonce, timestamp = secrets.token_hex(4), str(int(time.time() * 1000))
            encrypt, sig = crypto.encrypt(plain, nonce, timestamp)
            return ({"msg_signature": sig, "timestamp": timestamp, "nonce": nonce},
                    json.dumps({"encrypt": encrypt}).encode(), "application/json")

        def accept(resp) -> bool:  # the host checks the encrypted "success" answer
            try:
                reply = resp.json()
                return crypto.decrypt(reply["msg_signature"], reply["timeStamp"], reply["nonce"],
                                      reply["encrypt"]) == "success"
            except Exception:
                return False

        self.futures.append(deliverer(self.db).submit(corp.corp_id, corp.callback_url, build, platform="dingtalk",
                                                      event=event_type, key=key or event_type, accept=accept))
        return event_id


def _pick_user(run: _Run, userid: str | None) -> DtUser:
    with run.db.session() as s:
        if userid:
            return _user(s, run.corp, userid)
        users = list(s.scalars(select(DtUser).where(DtUser.corp_id == run.corp.corp_id, DtUser.left.is_(False))))
        if not users:
            raise ValueError("the corp has no employees; seed it first")
        return run.rng.choice(users)


def employee_joins(run: _Run, name: str | None = None, department: int = 1) -> dict:
    userid = f"dt{secrets.token_hex(4)}"
    with run.db.session() as s:
        s.add(DtUser(corp_id=run.corp.corp_id, userid=userid, name=name or names.person(run.rng),
                     mobile=names.mobile(run.rng), title=run.rng.choice(names.POSITIONS), dept_ids=[int(department)]))
    run.emit("user_add_org", {"UserId": [userid]}, key=f"user:{userid}")
    return {"userid": userid}


def employee_changes(run: _Run, userid: str | None = None, title: str | None = None) -> dict:
    user = _pick_user(run, userid)
    new_title = title or run.rng.choice(names.POSITIONS)
    with run.db.session() as s:
        s.get(DtUser, user.id).title = new_title
    run.emit("user_modify_org", {"UserId": [user.userid], "diffInfo": {
        "prev": {"title": user.title}, "curr": {"title": new_title}, "userid": user.userid}}, key=f"user:{user.userid}")
    return {"userid": user.userid, "title": new_title}


def employee_leaves(run: _Run, userid: str | None = None) -> dict:
    user = _pick_user(run, userid)
    with run.db.session() as s:
        s.get(DtUser, user.id).left = True
    run.emit("user_leave_org", {"UserId": [user.userid]}, key=f"user:{user.userid}")
    return {"userid": user.userid}


def department_changes(run: _Run, change: str = "create", dept_id: int | None = None, name: str | None = None) -> dict:
    with run.db.session() as s:
        if change == "create":
            dept_id = (s.scalar(select(func.max(DtDepartment.dept_id)).where(
                DtDepartment.corp_id == run.corp.corp_id)) or 1) + 1
            s.add(DtDepartment(corp_id=run.corp.corp_id, dept_id=dept_id, name=name or "新部门"))
        else:
            row = s.scalar(select(DtDepartment).where(DtDepartment.corp_id == run.corp.corp_id,
                                                      DtDepartment.dept_id == int(dept_id or 0)))
            if row is None:
                raise ValueError(f"no department {dept_id}")
            if change == "modify":
                row.name = name or row.name + "（调整）"
            else:
                s.delete(row)
    run.emit(f"org_dept_{change}", {"DeptId": [dept_id]}, key=f"dept:{dept_id}")
    return {"dept_id": dept_id}


def group_chat(run: _Run, change: str = "add_member", chat_id: str | None = None,
               users: list[str] | None = None) -> dict:
    chat_id = chat_id or f"chat{secrets.token_hex(8)}"
    members = users or [_pick_user(run, None).userid]
    run.emit(f"chat_{change}", {"ChatId": chat_id, "UserId": members, "Operator": members[0]}, key=f"chat:{chat_id}")
    return {"chat_id": chat_id, "users": members}


def crm_record_changed(run: _Run, change: str = "update", data_id: str | None = None) -> dict:
    data_id = data_id or secrets.token_hex(10)
    run.emit(f"ding_paas_object_data_{change}", {"DataId": data_id, "DataType": "master",
                                                 "ObjectType": "crm_customer_personal"}, key=f"crm:{data_id}")
    return {"data_id": data_id}


def login(run: _Run, userid: str | None = None) -> dict:
    user = _pick_user(run, userid)
    return {"userid": user.userid, "code": issue_code(run.db, run.corp, user.userid)}


ACTIONS = {fn.__name__: fn for fn in (employee_joins, employee_changes, employee_leaves, department_changes,
                                       group_chat, crm_record_changed, login)}
ACTIONS.update(join=employee_joins, leave=employee_leaves)


def play(db: SandboxDB, corp: Corp, name: str, /, *, wait: bool = False, rng=None, **params: Any) -> dict[str, Any]:
    """Run one DingTalk action by name; with wait=True also wait for its callbacks and report them."""
    import random

    fn = ACTIONS.get(name)
    if fn is None:
        raise ValueError(f"unknown DingTalk action {name!r}; known: {', '.join(sorted(ACTIONS))}")
    run = _Run(db, corp, rng if isinstance(rng, random.Random) else random.Random(rng))
    result = fn(run, **params)
    out = {"scenario": name, "result": result, "events": run.events, "callbacks": len(run.futures)}
    if wait:
        done = [f.result() for f in run.futures]
        out["delivered"] = sum(1 for r in done if r.delivered)
        out["attempts"] = sum(r.attempts for r in done)
    return out
