"""DingTalk server API client: legacy `oapi` endpoints and v1.0 `api` endpoints, on `requests`.

`dingtalk-sdk` is unmaintained and goes through legacy gateways, so this is a thin client of our own: one token
(v1.0 oauth2/accessToken) shared across processes, one retry after a rejected token, every call through the
per-corp limiter and a bounded backoff, and errcodes mapped to typed errors. Docs: open.dingtalk.com/document/.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from typing import Any, Callable
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

import requests

from connectors.retry import call_with_backoff
from connectors.runtime import Runtime
from scrm.host import (CorpAccess, HostCredentialsError, HostError, HostNotFound, HostPermissionError,
                       HostQuotaExceeded, HostRateLimited, HostUnavailable)

OAPI = "https://oapi.dingtalk.com"
API = "https://api.dingtalk.com"
LOGIN = "https://login.dingtalk.com/oauth2/auth"
TOKEN_REJECTED = {40001, 40014, 42001, "InvalidAuthentication"}
_CREDENTIALS = {40089, 40013, 40095, 40093, "invalidClientIdOrSecret", "InvalidClientIdOrSecret"}
#: 90001-90006: the legacy bans of a server, an org or an app for calling too often (doc server-api-error-codes-1)
_RATE = {90018, 90002, 90001, 90003, 90004, 90005, 90006, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
         "Forbidden.AccessDenied.QpmLimitForAppkeyAndApi", "Forbidden.AccessDenied.QpsLimitForApi",
         "request.too.frequent"}
_QUOTA = {90020, "Forbidden.AccessDenied.ApiCountLimitForOrg", "daily.call.limit"}
_PERMISSION = {60011, 88, 60205, "Forbidden.AccessDenied.AccessTokenPermissionDenied"}
#: 88 鉴权异常 says "read sub_code": a rejected token (sub_code 40014) arrives inside it
SEE_SUB_CODE = 88
_SUB_CODE = re.compile(r"subcode=(-?\d+)")
_NOT_FOUND = {33012, 60121, 60111, 60003}
IP_BAN_API, IP_BAN_SECONDS, ANY_CORP = "dingtalk:*", 300.0, "*"  # the IP ban covers every API of every corp


def error_for(code: int | str, message: str, api: str) -> HostError:
    """The typed error for a DingTalk errcode (legacy) or code (v1.0)."""
    for codes, cls in ((_RATE, HostRateLimited), (_QUOTA, HostQuotaExceeded), (_CREDENTIALS, HostCredentialsError),
                       (_PERMISSION, HostPermissionError), (_NOT_FOUND, HostNotFound)):
        if code in codes:
            return cls(code, message, api=api)
    if code == -1:
        return HostUnavailable(code, message, api=api)
    return HostError(code, message, api=api)


class _TokenRejected(Exception):
    pass


def _sub_code(data: dict, message: str) -> tuple[int, str]:
    """errcode 88's real reason: `sub_code` (also spelled subCode / subcode, or only inside errmsg as
    `subcode=40014`) with its `sub_msg`; 88 itself when none is given."""
    raw = next((data[k] for k in ("sub_code", "subCode", "subcode") if data.get(k) not in (None, "")), None)
    if raw is None:
        found = _SUB_CODE.search(message)
        raw = found.group(1) if found else None
    try:
        code = int(raw)
    except (TypeError, ValueError):
        return SEE_SUB_CODE, message
    return code, str(data.get("sub_msg") or data.get("subMsg") or message)


def sign_jsapi(ticket: str, nonce: str, timestamp: str, url: str, algorithm: str = "sha256") -> str:
    """dd.config signature: hash of jsapi_ticket=&noncestr=&timestamp=&url= (url without #..., query decoded).

    DingTalk's sample (decodeUrl) decodes the query with java.net.URLDecoder, form decoding: `+` is a space."""
    parts = urlsplit(url)
    clean = urlunsplit((parts.scheme, parts.netloc, parts.path, unquote_plus(parts.query), ""))
    plain = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={clean}"
    return hashlib.new(algorithm, plain.encode("utf-8")).hexdigest()


class DingTalkClient:
    """One corp's (one app's) API client; share `runtime` between clients so tokens and limits are shared."""

    def __init__(self, access: CorpAccess, runtime: Runtime, *, http: requests.Session | None = None,
                 now: Callable[[], float] = time.time):
        self.access = access
        self.runtime = runtime
        self.corp_key = access.corp_key
        self.http = http or runtime.http()
        self.now = now
        root = access.api_base.rstrip("/") if access.api_base else None
        self.oapi_base = f"{root}/oapi" if root else OAPI
        self.api_base = f"{root}/api" if root else API
        self.login_base = f"{root}/login/oauth2/auth" if root else LOGIN
        self.token_key = f"dingtalk:{access.corp_key}:token"

    def __repr__(self) -> str:
        return f"DingTalkClient({self.corp_key})"

    # ---------------------------------------------------------------- tokens

    def fetch_access_token(self) -> tuple[str, int]:
        """POST /v1.0/oauth2/accessToken (doc obtain-the-access-token-of-an-internal-app); or the legacy
        GET gettoken (doc obtain-orgapp-token) when the corp's option `token_api` is "legacy"."""
        if self.access.options.get("token_api") == "legacy":
            data = self._exchange("GET", f"{self.oapi_base}/gettoken", "gettoken",
                                  params={"appkey": self.access.app_key, "appsecret": self.access.secret})
            return data["access_token"], int(data.get("expires_in") or 7200)
        body = {"appKey": self.access.app_key, "appSecret": self.access.secret}
        data = self._exchange("POST", f"{self.api_base}/v1.0/oauth2/accessToken", "v1.0/oauth2/accessToken",
                              json_body=body, v1=True)
        return data["accessToken"], int(data.get("expireIn") or 7200)

    @property
    def access_token(self) -> str:
        return self.runtime.tokens.get_or_fetch(self.token_key, self.fetch_access_token)

    # ---------------------------------------------------------------- transport

    def oapi(self, path: str, body: dict | None = None, *, method: str = "POST", params: dict | None = None) -> dict:
        """Call a legacy endpoint: ?access_token=, answer {errcode, errmsg, ...}."""
        return self._call(path, lambda token: self._exchange(
            method, f"{self.oapi_base}/{path}", path, json_body=body, params={**(params or {}), "access_token": token}))

    def v1(self, path: str, body: dict | None = None, *, method: str = "POST", params: dict | None = None) -> dict:
        """Call a v1.0 endpoint: header x-acs-dingtalk-access-token, HTTP 4xx {code, message} on error."""
        return self._call(path, lambda token: self._exchange(
            method, f"{self.api_base}/{path}", path, json_body=body, params=params, v1=True,
            headers={"x-acs-dingtalk-access-token": token}))

    def _call(self, api: str, send: Callable[[str], dict]) -> dict:
        def attempt() -> dict:
            token = self.access_token
            try:
                return send(token)
            except _TokenRejected:
                token = self.runtime.tokens.get_or_fetch(self.token_key, self.fetch_access_token, stale=token)
            try:
                return send(token)
            except _TokenRejected as exc:
                raise HostError(exc.args[0], "token rejected twice", api=api) from None

        return call_with_backoff(attempt, attempts=self.runtime.attempts, sleep=self.runtime.sleep)

    def _exchange(self, method: str, url: str, api: str, *, json_body: dict | None = None,
                  params: dict | None = None, headers: dict | None = None, v1: bool = False) -> dict:
        self.runtime.limiter.throttle(self.corp_key, f"dingtalk:{api}", blocked_by=((ANY_CORP, IP_BAN_API),))
        if json_body is not None:
            headers = {**(headers or {}), "Content-Type": "application/json; charset=utf-8"}
        try:
            resp = self.http.request(method, url, params=params, headers=headers,
                                     data=None if json_body is None else json.dumps(json_body, ensure_ascii=False)
                                     .encode("utf-8"),
                                     timeout=self.runtime.timeout)
        except requests.Timeout:
            # `from None`: requests' message repeats the URL with the token; HostUnavailable keeps it without the query
            raise HostUnavailable("timeout", api=api, url=url) from None
        except requests.RequestException as exc:
            raise HostUnavailable("network", type(exc).__name__, api=api, url=url) from None
        if resp.status_code >= 500:
            raise HostUnavailable(f"http_{resp.status_code}", api=api)
        try:
            data = resp.json()
        except ValueError:
            if "html" in resp.headers.get("Content-Type", "").lower():
                raise self._banned(api) from None
            raise HostUnavailable("bad_json", "the host did not answer JSON", api=api) from None
        if not isinstance(data, dict):
            raise HostUnavailable("bad_json", "the host did not answer a JSON object", api=api)
        if data.get("punish") == "deny":
            raise self._banned(api)
        if v1:
            if resp.status_code >= 400 or (resp.status_code != 200 and "code" in data):
                code = data.get("code") or f"http_{resp.status_code}"
                if code in TOKEN_REJECTED or resp.status_code == 401:
                    raise _TokenRejected(code)
                raise error_for(code, str(data.get("message", "")), api)
            return data
        errcode = data.get("errcode", 0)
        try:
            errcode = int(errcode)
        except (TypeError, ValueError):
            raise HostUnavailable("bad_json", "errcode is not a number", api=api) from None
        message = str(data.get("errmsg", ""))
        if errcode == SEE_SUB_CODE:
            errcode, message = _sub_code(data, message)
        if errcode in TOKEN_REJECTED:
            raise _TokenRejected(errcode)
        if errcode:
            raise error_for(errcode, message, api)
        return data

    def _banned(self, api: str) -> HostRateLimited:
        """The gateway bans the server's IP from every API for 5 minutes (over 10,000 calls in 20 s): an HTML page
        or {"punish": "deny", ...} instead of an answer. The ban is the IP's: every corp's calls wait it out."""
        blocked = self.runtime.limiter.block(ANY_CORP, IP_BAN_API, IP_BAN_SECONDS)
        return HostRateLimited("ip_banned", "the DingTalk gateway bans this server for a while", api=api,
                               retry_after=blocked)

    # ---------------------------------------------------------------- API areas

    def get_user(self, user_id: str) -> dict:
        """topapi/v2/user/get (doc query-user-details)."""
        return self.oapi("topapi/v2/user/get", {"userid": user_id, "language": "zh_CN"})["result"]

    def list_sub_departments(self, dept_id: int | str) -> list[dict]:
        """topapi/v2/department/listsub (doc user-management-acquires-the-list-departments)."""
        return self.oapi("topapi/v2/department/listsub", {"dept_id": int(dept_id)}).get("result") or []

    def list_user_ids(self, dept_id: int | str) -> list[str]:
        """topapi/user/listid (doc query-the-list-of-department-userids)."""
        return self.oapi("topapi/user/listid", {"dept_id": int(dept_id)})["result"].get("userid_list") or []

    def list_users(self, dept_id: int | str, cursor: int = 0, size: int = 100) -> dict:
        """topapi/v2/user/list (doc queries-the-complete-information-of-a-department-user)."""
        return self.oapi("topapi/v2/user/list", {"dept_id": int(dept_id), "cursor": cursor, "size": size})["result"]

    def get_user_info(self, code: str) -> dict:
        """topapi/v2/user/getuserinfo: a free-login code to the user (doc obtain-the-userid-of-a-user-...)."""
        return self.oapi("topapi/v2/user/getuserinfo", {"code": code})["result"]

    def login_page_url(self, redirect_uri: str, state: str) -> str:
        """The QR login page of the app (doc obtain-identity-credentials): scope openid, the app's client id; it
        sends the browser back with `authCode` and `state`."""
        query = urlencode({"redirect_uri": redirect_uri, "response_type": "code", "client_id": self.access.app_key,
                           "scope": "openid", "state": state, "prompt": "consent"})
        return f"{self.login_base}?{query}"

    def web_login_user(self, auth_code: str) -> dict:
        """A QR login's authCode to the member: the user's access token (POST /v1.0/oauth2/userAccessToken), their
        unionId (GET /v1.0/contact/users/me with that token), then the userid (topapi/user/getbyunionid)."""
        grant = self._exchange("POST", f"{self.api_base}/v1.0/oauth2/userAccessToken", "v1.0/oauth2/userAccessToken",
                               json_body={"clientId": self.access.app_key, "clientSecret": self.access.secret,
                                          "code": auth_code, "grantType": "authorization_code"}, v1=True)
        me = self._exchange("GET", f"{self.api_base}/v1.0/contact/users/me", "v1.0/contact/users/me", v1=True,
                            headers={"x-acs-dingtalk-access-token": grant["accessToken"]})
        found = self.oapi("topapi/user/getbyunionid", {"unionid": me["unionId"]})["result"]
        return {"userid": found.get("userid"), "name": me.get("nick"), "unionid": me["unionId"]}

    def extcontact_list(self, offset: int = 0, size: int = 100) -> list[dict]:
        """topapi/extcontact/list (doc obtain-the-external-contact-list)."""
        return self.oapi("topapi/extcontact/list", {"offset": offset, "size": size}).get("results") or []

    def extcontact_get(self, user_id: str) -> dict:
        """topapi/extcontact/get."""
        return self.oapi("topapi/extcontact/get", {"user_id": user_id})["result"]

    def extcontact_create(self, contact: dict) -> str:
        """topapi/extcontact/create (doc add-enterprise-external-contacts)."""
        return str(self.oapi("topapi/extcontact/create", {"contact": contact})["userid"])

    def extcontact_update(self, contact: dict) -> None:
        """topapi/extcontact/update (doc update-enterprise-external-contacts)."""
        self.oapi("topapi/extcontact/update", {"contact": contact})

    def extcontact_delete(self, user_id: str) -> None:
        """topapi/extcontact/delete."""
        self.oapi("topapi/extcontact/delete", {"user_id": user_id})

    def list_label_groups(self, offset: int = 0, size: int = 100) -> list[dict]:
        """topapi/extcontact/listlabelgroups (doc obtains-a-list-of-external-contact-tags)."""
        return self.oapi("topapi/extcontact/listlabelgroups", {"offset": offset, "size": size}).get("results") or []

    def send_work_notification(self, user_ids: list[str], msg: dict) -> str:
        """topapi/message/corpconversation/asyncsend_v2 (doc asynchronous-sending-of-enterprise-session-messages)."""
        data = self.oapi("topapi/message/corpconversation/asyncsend_v2",
                         {"agent_id": int(self.access.agent_id), "userid_list": ",".join(user_ids), "msg": msg})
        return str(data.get("task_id", ""))

    def create_personal_customer(self, body: dict) -> str:
        """POST /v1.0/crm/personalCustomers (doc add-crm-personal-customers)."""
        return str(self.v1("v1.0/crm/personalCustomers", body)["instanceId"])

    def update_personal_customer(self, body: dict) -> str:
        """PUT /v1.0/crm/personalCustomers (doc update-crm-personal-customers): e.g. permission.ownerStaffIds."""
        return str(self.v1("v1.0/crm/personalCustomers", body, method="PUT")["instanceId"])

    def jsapi_ticket(self) -> str:
        """POST /v1.0/oauth2/jsapiTickets, cached per app like the token (doc create-a-jsapi-ticket)."""
        def fetch() -> tuple[str, int]:
            data = self.v1("v1.0/oauth2/jsapiTickets", {})
            return data["jsapiTicket"], int(data.get("expireIn") or 7200)
        return self.runtime.tokens.get_or_fetch(self.jsapi_ticket_key, fetch)

    @property
    def jsapi_ticket_key(self) -> str:
        return f"dingtalk:{self.corp_key}:ticket:jsapi"

    def jsapi_config(self, url: str) -> dict[str, Any]:
        """dd.config parameters; the hash is sha256 (current docs) or sha1 (older), per corp option `jsapi_hash`."""
        nonce, timestamp = secrets.token_hex(8), str(int(self.now() * 1000))
        algorithm = self.access.options.get("jsapi_hash", "sha256")
        return {"agentId": self.access.agent_id, "corpId": self.access.corp_id, "timeStamp": timestamp,
                "nonceStr": nonce, "signature": sign_jsapi(self.jsapi_ticket(), nonce, timestamp, url, algorithm),
                "type": 0}
