"""The sandbox's DingTalk half: the oapi and v1.0 endpoints the product uses, over the sbx_dt_* tables.

Behaves like the host: tokens expire on the sandbox clock (legacy 42001, garbage 40014, both inside errcode 88's
sub_code on topapi; v1.0 InvalidAuthentication with HTTP 400), 20 calls per
second per app and API (90018 / 403 QpsLimitForAppkeyAndApi), an optional monthly quota on message and CRM APIs
(90020), free-login codes single-use for 5 minutes (40078), external-contact validation (60204, 60103, 22005).
The seeded organisation lives in `sandbox.dingtalk.seed`, the actions that deliver event callbacks in
`sandbox.dingtalk.actions`.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request
from markupsafe import escape
from sqlalchemy import select

from sandbox.core import Corp, SandboxDB
from sandbox.dingtalk.models import (DingTalkError, DtCode, DtContact, DtLoginGrant, DtCrmCustomer, DtDepartment, DtLabel, DtMessage,
                                     DtToken, DtUser, find_contact, find_user, unionid)
from sandbox.state import Sandbox

bp = Blueprint("sandbox_dingtalk", __name__)
DEFAULT_QPS = 20
# the monthly allowance of the standard edition counts these; tokens, login and the address book are exempt
QUOTA_APIS = ("topapi/message/corpconversation/asyncsend_v2", "v1.0/crm/personalCustomers")
Handler = Callable[[SandboxDB, Corp, dict], dict]
OAPI: dict[str, Handler] = {}
V1: dict[tuple[str, str], Handler] = {}


def oapi(path: str):
    def register(fn: Handler) -> Handler:
        OAPI[path] = fn
        return fn
    return register


def v1(method: str, path: str):
    def register(fn: Handler) -> Handler:
        V1[(method, path)] = fn
        return fn
    return register


# ---------------------------------------------------------------- tokens and budgets

def _sandbox() -> Sandbox:
    """The sandbox whose app serves this request."""
    return current_app.extensions["sandbox"]


def _db() -> SandboxDB:
    return _sandbox().db


def _throttle(sbx: Sandbox, corp: Corp, api: str, v1_api: bool) -> None:
    """limits["qps"] (default 20) calls per second per API, or limits["qps:<api>"]; limits["monthly_quota"] when set."""
    now = sbx.clock.time()
    sbx.gate.hit(corp.corp_id, api, 1 << 62, now)  # counted for Control.calls, never refused there
    budget = int(corp.limit(f"qps:{api}", corp.limit("qps", DEFAULT_QPS)))
    state = sbx.dingtalk_budgets
    with state.lock:
        second, count = state.seconds.get((corp.corp_id, api), (int(now), 0))
        count = 0 if second != int(now) else count
        if count >= budget:
            raise DingTalkError("Forbidden.AccessDenied.QpsLimitForAppkeyAndApi" if v1_api else 90018,
                                "app api qps limit", status=403)
        state.seconds[(corp.corp_id, api)] = (int(now), count + 1)
        quota = corp.limit("monthly_quota", None)
        if quota is None or not api.endswith(QUOTA_APIS):
            return
        month = datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m")
        used = state.months.get((corp.corp_id, month), 0)
        if used >= int(quota):
            raise DingTalkError("Forbidden.AccessDenied.ApiCountLimitForOrg" if v1_api else 90020,
                                "monthly api quota used up", status=403)
        state.months[(corp.corp_id, month)] = used + 1


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


def _authenticate(db: SandboxDB, token: str | None, v1_api: bool) -> Corp:
    with db.session() as s:
        row = s.get(DtToken, token or "")
        if row is None or row.kind != "access":
            raise DingTalkError("InvalidAuthentication" if v1_api else 40014, "不合法的access_token", status=400)
        if row.expires_at <= db.clock.time():
            raise DingTalkError("InvalidAuthentication" if v1_api else 42001, "access_token超时", status=400)
        return s.scalar(select(Corp).where(Corp.corp_id == row.corp_id))


def _app(app_key: str, app_secret: str) -> Corp | None:
    sbx = _sandbox()
    db = sbx.db
    with db.session() as s:
        corp = s.scalar(select(Corp).where(Corp.app_key == app_key, Corp.platform == "dingtalk"))
    if corp is not None:
        sbx.gate.hit(corp.corp_id, "gettoken", 1 << 62, db.clock.time())
    if corp is None or not secrets.compare_digest(corp.secret.encode(), app_secret.encode()):
        return None
    return corp


@bp.route("/oapi/gettoken")
def gettoken():
    """obtain-orgapp-token: GET gettoken?appkey=&appsecret=."""
    corp = _app(request.args.get("appkey", ""), request.args.get("appsecret", ""))
    if corp is None:
        return jsonify(errcode=40089, errmsg="不合法的corpid或corpsecret")
    token, ttl = _issue_token(_db(), corp)
    return jsonify(errcode=0, errmsg="ok", access_token=token, expires_in=ttl)


@bp.post("/api/v1.0/oauth2/accessToken")
def v1_token():
    """obtain-the-access-token-of-an-internal-app: POST /v1.0/oauth2/accessToken {appKey, appSecret}."""
    body = request.get_json(silent=True) or {}
    corp = _app(str(body.get("appKey", "")), str(body.get("appSecret", "")))
    if corp is None:
        return jsonify(code="invalidClientIdOrSecret", message="无效的clientId或者clientSecret"), 400
    token, ttl = _issue_token(_db(), corp)
    return jsonify(accessToken=token, expireIn=ttl)


# ---------------------------------------------------------------- QR login (a browser outside DingTalk)

LOGIN_CODE_TTL, USER_TOKEN_TTL = 300, 7200


@bp.get("/login/oauth2/auth")
def login_page():
    """login.dingtalk.com/oauth2/auth: the page a member scans; picks a member (or ?userid=) and sends the browser
    back to redirect_uri with authCode and state. An unknown client_id or a scope other than openid is refused."""
    db = _db()
    redirect_uri = request.args.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")) or request.args.get("response_type") != "code":
        return Response("redirect_uri or response_type invalid", status=400)
    if "openid" not in request.args.get("scope", "").split():
        return Response("scope must include openid", status=400)
    with db.session() as s:
        corp = s.scalar(select(Corp).where(Corp.app_key == request.args.get("client_id", ""),
                                           Corp.platform == "dingtalk"))
        if corp is None:
            return Response("client_id invalid", status=400)
        userid = request.args.get("userid")
        if userid:
            user = s.scalar(select(DtUser).where(DtUser.corp_id == corp.corp_id, DtUser.userid == userid))
            if user is None or user.left:
                return Response("userid invalid", status=400)
            code = secrets.token_hex(16)
            s.add(DtLoginGrant(code=code, corp_id=corp.corp_id, userid=userid,
                               expires_at=db.clock.time() + LOGIN_CODE_TTL))
            query = urlencode({"authCode": code, "state": request.args.get("state", "")})
            return Response(status=302, headers={"Location": f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}"})
        members = list(s.scalars(select(DtUser).where(DtUser.corp_id == corp.corp_id, DtUser.left.is_(False))
                                 .order_by(DtUser.userid).limit(100)))
    base = request.script_root + request.full_path
    links = "".join(f"<li><a href='{escape(base)}&userid={escape(m.userid)}'>{escape(m.name)}</a>" for m in members)
    return Response(f"<!doctype html><meta charset=utf-8><title>沙箱 · 钉钉扫码登录</title><ul>{links}</ul>",
                    mimetype="text/html")


@bp.post("/api/v1.0/oauth2/userAccessToken")
def user_access_token():
    """obtain-user-token: POST {clientId, clientSecret, code, grantType=authorization_code} → the member's token;
    the code once, within 5 minutes."""
    body = request.get_json(silent=True) or {}
    corp = _app(str(body.get("clientId", "")), str(body.get("clientSecret", "")))
    if corp is None:
        return jsonify(code="invalidClientIdOrSecret", message="无效的clientId或clientSecret"), 400
    if body.get("grantType") != "authorization_code":
        return jsonify(code="invalidGrantType", message="grantType不合法"), 400
    db = _db()
    with db.session() as s:
        grant = s.get(DtLoginGrant, str(body.get("code", "")))
        if grant is None or grant.corp_id != corp.corp_id or grant.token or grant.expires_at <= db.clock.time():
            return jsonify(code="invalidAuthCode", message="无效的临时授权码"), 400
        grant.token, grant.token_expires_at = secrets.token_hex(16), db.clock.time() + USER_TOKEN_TTL
        return jsonify(accessToken=grant.token, refreshToken=secrets.token_hex(16), expireIn=USER_TOKEN_TTL,
                       corpId=corp.corp_id)


@bp.get("/api/v1.0/contact/users/me")
def users_me():
    """get-user-info-by-user-token: GET with the member's token in x-acs-dingtalk-access-token."""
    db = _db()
    with db.session() as s:
        grant = s.scalar(select(DtLoginGrant).where(
            DtLoginGrant.token == request.headers.get("x-acs-dingtalk-access-token", "")))
        if grant is None or grant.token_expires_at <= db.clock.time():
            return jsonify(code="InvalidAuthentication", message="不合法的access_token"), 401
        user = s.scalar(select(DtUser).where(DtUser.corp_id == grant.corp_id, DtUser.userid == grant.userid))
        return jsonify(nick=user.name, unionId=unionid(user.userid), openId=unionid("open:" + user.userid),
                       mobile=user.mobile or "", stateCode="86")


@oapi("topapi/user/getbyunionid")
def user_by_unionid(db, corp, body):
    """query-a-user-by-the-union-id: POST topapi/user/getbyunionid {unionid} → result {contact_type, userid};
    60121 when no current member has it."""
    wanted = str(body.get("unionid", ""))
    with db.session() as s:
        for user in s.scalars(select(DtUser).where(DtUser.corp_id == corp.corp_id, DtUser.left.is_(False))):
            if unionid(user.userid) == wanted:
                return {"result": {"contact_type": 0, "userid": user.userid}}
    raise DingTalkError(60121, "找不到该用户")


@bp.route("/oapi/<path:path>", methods=["GET", "POST"])
def oapi_dispatch(path: str):
    sbx = _sandbox()
    db = sbx.db
    try:
        corp = _authenticate(db, request.args.get("access_token"), v1_api=False)
        handler = OAPI.get(path)
        if handler is None:
            return jsonify(errcode=404, errmsg=f"api {path} not found"), 404
        _throttle(sbx, corp, path, v1_api=False)
        body = json.loads(request.get_data() or b"{}") if request.method == "POST" else dict(request.args)
        if not isinstance(body, dict):
            raise DingTalkError(40035, "不合法的参数")
        return jsonify(errcode=0, errmsg="ok", **handler(db, corp, body))
    except DingTalkError as exc:
        return jsonify(exc.legacy(path))
    except (TypeError, ValueError):
        return jsonify(errcode=40035, errmsg="不合法的参数")


@bp.route("/api/<path:path>", methods=["GET", "POST", "PUT"])
def v1_dispatch(path: str):
    sbx = _sandbox()
    db = sbx.db
    try:
        corp = _authenticate(db, request.headers.get("x-acs-dingtalk-access-token"), v1_api=True)
        handler = V1.get((request.method, path))
        if handler is None:
            return jsonify(code="ApiNotFound", message=path), 404
        _throttle(sbx, corp, f"{request.method} {path}", v1_api=True)
        if request.method == "GET":
            body = request.args.to_dict()
        else:
            body = request.get_json(silent=True)
            body = body if isinstance(body, dict) else {}
        return jsonify(handler(db, corp, body))
    except DingTalkError as exc:
        return jsonify(code=exc.code, message=exc.message), exc.status
    except (TypeError, ValueError):
        return jsonify(code="InvalidParameter", message="invalid parameter"), 400


# ---------------------------------------------------------------- address book and login

def _user_json(u: DtUser) -> dict:
    return {"userid": u.userid, "name": u.name, "mobile": u.mobile, "title": u.title, "dept_id_list": u.dept_ids,
            "active": True, "unionid": unionid(u.userid)}


def _size(body: dict, name: str, default: int | None = None) -> int:
    size = int(body.get(name, default) if default is not None else body.get(name, 0))
    if not 1 <= size <= 100:
        raise DingTalkError(40035, f"{name} 须在1-100之间")
    return size


@oapi("topapi/v2/user/get")
def user_get(db, corp, body):
    """query-user-details: POST topapi/v2/user/get {userid}."""
    with db.session() as s:
        return {"result": _user_json(find_user(s, corp, body.get("userid", "")))}


@oapi("topapi/v2/department/listsub")
def department_listsub(db, corp, body):
    """user-management-acquires-the-list-departments: POST topapi/v2/department/listsub {dept_id}."""
    with db.session() as s:
        rows = s.scalars(select(DtDepartment).where(DtDepartment.corp_id == corp.corp_id,
                                                    DtDepartment.parent_id == int(body.get("dept_id", 1)))
                         .order_by(DtDepartment.dept_id))
        return {"result": [{"dept_id": d.dept_id, "name": d.name, "parent_id": d.parent_id} for d in rows]}


def _members(s, corp: Corp, dept_id: int) -> list[DtUser]:
    users = s.scalars(select(DtUser).where(DtUser.corp_id == corp.corp_id, DtUser.left.is_(False))
                      .order_by(DtUser.id))
    return [u for u in users if dept_id in (u.dept_ids or [])]


@oapi("topapi/user/listid")
def user_listid(db, corp, body):
    """query-the-list-of-department-userids: POST topapi/user/listid {dept_id}."""
    with db.session() as s:
        return {"result": {"userid_list": [u.userid for u in _members(s, corp, int(body.get("dept_id", 1)))]}}


@oapi("topapi/v2/user/list")
def user_list(db, corp, body):
    """queries-the-complete-information-of-a-department-user: POST topapi/v2/user/list {dept_id, cursor, size}."""
    cursor, size = int(body.get("cursor", 0)), _size(body, "size")
    with db.session() as s:
        members = _members(s, corp, int(body.get("dept_id", 1)))
    more = cursor + size < len(members)
    return {"result": {"has_more": more, "next_cursor": cursor + size if more else None,
                       "list": [_user_json(u) for u in members[cursor:cursor + size]]}}


@oapi("topapi/v2/user/getuserinfo")
def user_getuserinfo(db, corp, body):
    """obtain-the-userid-of-a-user-by-using-the-log-free: POST topapi/v2/user/getuserinfo {code}."""
    with db.session() as s:
        code = s.get(DtCode, str(body.get("code", "")))
        if code is None or code.used or code.corp_id != corp.corp_id or code.expires_at <= db.clock.time():
            raise DingTalkError(40078, "不存在的临时授权码")
        code.used = True
        user = find_user(s, corp, code.userid)
        return {"result": {"userid": user.userid, "name": user.name, "unionid": unionid(user.userid),
                           "sys": False, "sys_level": 0}}


@oapi("get_jsapi_ticket")
def jsapi_ticket(db, corp, body):
    """obtain-jsapi-ticket: GET get_jsapi_ticket."""
    ticket, ttl = _issue_token(db, corp, "jsapi")
    return {"ticket": ticket, "expires_in": ttl}


@v1("POST", "v1.0/oauth2/jsapiTickets")
def v1_jsapi_ticket(db, corp, body):
    """create-a-jsapi-ticket: POST /v1.0/oauth2/jsapiTickets."""
    ticket, ttl = _issue_token(db, corp, "jsapi")
    return {"jsapiTicket": ticket, "expireIn": ttl}


# ---------------------------------------------------------------- external contacts and labels

def _contact_json(c: DtContact) -> dict:
    return {"userid": c.userid, "name": c.name, "mobile": c.mobile, "state_code": "86",
            "follower_user_id": c.follower_user_id, "label_ids": c.label_ids, "remark": c.remark,
            "company_name": c.company_name, "title": c.title}


def _validate_contact(s, corp: Corp, contact: dict, *, creating: bool) -> list[int]:
    """The host's checks; returns the label ids."""
    if not contact.get("name"):
        raise DingTalkError(40035, "name 不能为空")
    labels = contact.get("label_ids")
    if not labels or not isinstance(labels, list):
        raise DingTalkError(60204, "标签不能为空")
    if len(labels) > 20:
        raise DingTalkError(40035, "label_ids 最多20个")
    known = set(s.scalars(select(DtLabel.id).where(DtLabel.corp_id == corp.corp_id)))
    label_ids = [int(label) for label in labels]
    if any(label not in known for label in label_ids):
        raise DingTalkError(60204, "标签不存在")
    follower = s.scalar(select(DtUser).where(DtUser.corp_id == corp.corp_id,
                                             DtUser.userid == str(contact.get("follower_user_id", ""))))
    if follower is None or follower.left:  # a current member (update-enterprise-external-contacts: 60121)
        raise DingTalkError(60121, "找不到该用户")
    if creating:
        mobile = str(contact.get("mobile") or "")
        if not (mobile.isdigit() and 5 <= len(mobile) <= 20) or not contact.get("state_code"):
            raise DingTalkError(60103, "手机号码不合法")
    return label_ids


@oapi("topapi/extcontact/create")
def extcontact_create(db, corp, body):
    """add-enterprise-external-contacts: POST topapi/extcontact/create {contact{...}}."""
    contact = body.get("contact") or {}
    with db.session() as s:
        label_ids = _validate_contact(s, corp, contact, creating=True)
        if s.scalar(select(DtContact.id).where(DtContact.corp_id == corp.corp_id,
                                               DtContact.mobile == str(contact["mobile"]),
                                               DtContact.follower_user_id == contact["follower_user_id"])):
            raise DingTalkError(22005, "外部联系人已存在")
        row = DtContact(corp_id=corp.corp_id, userid=secrets.token_hex(8), name=contact["name"],
                        mobile=str(contact["mobile"]), follower_user_id=contact["follower_user_id"],
                        label_ids=label_ids, remark=contact.get("remark"),
                        company_name=contact.get("company_name"), title=contact.get("title"))
        s.add(row)
        return {"userid": row.userid}


@oapi("topapi/extcontact/update")
def extcontact_update(db, corp, body):
    """update-enterprise-external-contacts: POST topapi/extcontact/update {contact{user_id, name, follower_user_id,
    label_ids, ...}}: those four are required (40036); the follower must be a current member (60121). A departed
    follower stays on their contacts until an update names another."""
    contact = body.get("contact") or {}
    missing = [k for k in ("user_id", "name", "follower_user_id", "label_ids") if contact.get(k) in (None, "")]
    if missing:
        raise DingTalkError(40036, f"{missing[0]} 不能为空")
    with db.session() as s:
        row = find_contact(s, corp, contact.get("user_id", ""))
        row.label_ids = _validate_contact(s, corp, contact, creating=False)
        row.name, row.follower_user_id = contact["name"], contact["follower_user_id"]
        for field in ("remark", "company_name", "title"):
            if field in contact:
                setattr(row, field, contact[field])
    return {}


@oapi("topapi/extcontact/get")
def extcontact_get(db, corp, body):
    """POST topapi/extcontact/get {user_id}."""
    with db.session() as s:
        return {"result": _contact_json(find_contact(s, corp, body.get("user_id", "")))}


@oapi("topapi/extcontact/delete")
def extcontact_delete(db, corp, body):
    """POST topapi/extcontact/delete {user_id}."""
    with db.session() as s:
        s.delete(find_contact(s, corp, body.get("user_id", "")))
    return {}


@oapi("topapi/extcontact/list")
def extcontact_list(db, corp, body):
    """obtain-the-external-contact-list: POST topapi/extcontact/list {offset, size<=100}."""
    offset, size = int(body.get("offset", 0)), _size(body, "size", 100)
    with db.session() as s:
        rows = s.scalars(select(DtContact).where(DtContact.corp_id == corp.corp_id).order_by(DtContact.id)
                         .offset(max(0, offset)).limit(size))
        return {"results": [_contact_json(c) for c in rows]}


@oapi("topapi/extcontact/listlabelgroups")
def extcontact_listlabelgroups(db, corp, body):
    """obtains-a-list-of-external-contact-tags: POST topapi/extcontact/listlabelgroups {offset, size<=100}."""
    offset, size = int(body.get("offset", 0)), _size(body, "size", 100)
    with db.session() as s:
        labels = list(s.scalars(select(DtLabel).where(DtLabel.corp_id == corp.corp_id).order_by(DtLabel.id)))
    groups: dict[str, dict] = {}
    for label in labels:
        group = groups.setdefault(label.group_name, {"name": label.group_name, "color": label.color, "labels": []})
        group["labels"].append({"id": label.id, "name": label.name})
    return {"results": list(groups.values())[max(0, offset):offset + size]}


# ---------------------------------------------------------------- messages and CRM

@oapi("topapi/message/corpconversation/asyncsend_v2")
def asyncsend_v2(db, corp, body):
    """asynchronous-sending-of-enterprise-session-messages: POST .../asyncsend_v2 {agent_id, userid_list, msg}."""
    if str(body.get("agent_id", "")) != str(corp.agent_id):
        raise DingTalkError(40056, "不合法的agentid")
    msg = body.get("msg") or {}
    if not isinstance(msg, dict) or not msg.get("msgtype"):
        raise DingTalkError(40035, "msg 不合法")
    users = [u for u in str(body.get("userid_list", "")).split(",") if u]
    if len(users) > 100:
        raise DingTalkError(40035, "userid_list 最多100个")
    day = datetime.fromtimestamp(db.clock.time(), tz=timezone.utc).strftime("%Y-%m-%d")
    digest = hashlib.sha256(json.dumps(msg, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    with db.session() as s:
        for userid in users:
            # the host accepts and silently drops the same content to the same user twice in a day
            if not s.scalar(select(DtMessage.id).where(DtMessage.corp_id == corp.corp_id, DtMessage.userid == userid,
                                                       DtMessage.day == day, DtMessage.digest == digest)):
                s.add(DtMessage(corp_id=corp.corp_id, userid=userid, day=day, digest=digest, msg=msg))
    return {"task_id": secrets.randbelow(10**12)}


@v1("POST", "v1.0/crm/personalCustomers")
def crm_create(db, corp, body):
    """add-crm-personal-customers: POST /v1.0/crm/personalCustomers."""
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
    """update-crm-personal-customers: PUT /v1.0/crm/personalCustomers (owner change via permission.ownerStaffIds)."""
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
    """obtains-crm-individual-customers-in-batches-based-on-specified-query: GET ?maxResults<=100&nextToken=."""
    size = int(body.get("maxResults", 100))
    if not 1 <= size <= 100:
        raise DingTalkError("InvalidParameter.MaxResults", "maxResults 须在1-100之间")
    start = int(body.get("nextToken") or 0)
    with db.session() as s:
        rows = list(s.scalars(select(DtCrmCustomer).where(DtCrmCustomer.corp_id == corp.corp_id)
                              .order_by(DtCrmCustomer.instance_id).offset(max(0, start)).limit(size + 1)))
    more = len(rows) > size
    return {"values": [{"instanceId": r.instance_id, "data": r.data, "permission": {"ownerStaffIds": r.owner_ids},
                        "gmtModified": int(r.updated_at * 1000)} for r in rows[:size]],
            "hasMore": more, "nextToken": str(start + size) if more else None}


@bp.before_request
def ip_ban():
    """The gateway's ban (over 10,000 calls in 20 s from one IP: 5 minutes on every API) answers an HTML page."""
    sbx = _sandbox()
    if sbx.dingtalk_budgets.ip_banned(request.remote_addr or "", sbx.clock.time()):
        return Response("<html><body><h1>Access Denied</h1><p>punish: deny</p></body></html>", status=403,
                        mimetype="text/html")
    return None
