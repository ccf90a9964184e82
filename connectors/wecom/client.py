"""WeCom server API client: wechatpy's `WeChatClient` shape, with shared tokens, limits, retries and typed errors.

wechatpy keeps tokens in process-local state and replays 40001/40014/42001 without a cap; here tokens live in the
runtime's shared store (single-flight refresh), a rejected token is refreshed and the call retried once, wrong
credentials fail at once, and every call passes the per-corp limiter and a bounded backoff. The API areas add what
wechatpy 1.8.18 lacks, with method names that mirror the vendor endpoints.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
from typing import Any, Callable
from urllib.parse import quote, urlencode

import requests
from optionaldict import optionaldict
from wechatpy.enterprise import WeChatClient
from wechatpy.enterprise.client.api import (WeChatExternalContact, WeChatExternalContactGroupChat, WeChatJSAPI,
                                            WeChatOAuth)

from connectors.retry import call_with_backoff
from connectors.runtime import Runtime
from scrm.host import (CorpAccess, HostCredentialsError, HostError, HostNotFound, HostPermissionError,
                       HostRateLimited, HostUnavailable)

API_HOST = "https://qyapi.weixin.qq.com"
OAUTH_AUTHORIZE = "https://open.weixin.qq.com/connect/oauth2/authorize"
WEB_LOGIN = "https://login.work.weixin.qq.com/wwlogin/sso/login"
TAG_EDIT_APIS = frozenset({"externalcontact/remark", "externalcontact/mark_tag"})
TAG_EDIT_GROUP = "wecom:tag_edit"
LIMIT_PREFIX = "wecom:"
TAG_EDIT_CONCURRENCY = 5
QR_API = "qr_code"  # label of the contact-way QR download, which is no cgi-bin API
QR_MAX_BYTES = 2 * 1024 * 1024  # a QR code is a few KB; anything this big is not one

TOKEN_REJECTED = frozenset({40014, 42001})
CREDENTIALS = frozenset({40001, 40013, 40091})
RATE_LIMITED = frozenset({45009, 45033})
#: 45009 blocks the API for the window that tripped (doc 90312): 60 s for the per-minute limit; a second block right
#: after the first means the per-hour limit, 60 min.
FREQUENCY_LIMITED, BLOCK_SECONDS, HOUR_BLOCK_SECONDS = 45009, 60.0, 3600.0
PERMISSION = frozenset({48002, 60011, 84074})
NOT_FOUND = frozenset({40096, 84061, 60111})


def error_for(errcode: int, errmsg: str = "", api: str | None = None) -> HostError:
    """The typed exception for a WeCom errcode (doc 90455)."""
    if errcode in CREDENTIALS:
        cls: type[HostError] = HostCredentialsError
    elif errcode in RATE_LIMITED:
        cls = HostRateLimited
    elif errcode == -1:
        cls = HostUnavailable
    elif errcode in PERMISSION:
        cls = HostPermissionError
    elif errcode in NOT_FOUND:
        cls = HostNotFound
    else:
        cls = HostError
    return cls(errcode, errmsg, api=api)


class _TokenRejected(HostError):
    """40014 / 42001: the cached token is no longer accepted."""


class _RedactSecrets(logging.Filter):
    """urllib3 logs request lines at DEBUG, and WeCom puts corpsecret and access_token in the query string."""

    _pattern = re.compile(r"((?:corpsecret|access_token)=)[^&\s\"]+")

    def _scrub(self, value: Any) -> Any:
        return self._pattern.sub(r"\1***", value) if isinstance(value, str) else value

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._scrub(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: self._scrub(v) for k, v in record.args.items()}
        record.msg = self._scrub(record.msg)
        return True


_urllib3_log = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, _RedactSecrets) for f in _urllib3_log.filters):
    _urllib3_log.addFilter(_RedactSecrets())


# ---------------------------------------------------------------- API areas


class ExternalContact(WeChatExternalContact):
    """客户联系 (externalcontact/*): wechatpy's methods plus the ones it lacks."""

    def get(self, external_userid: str, cursor: str | None = None) -> dict:
        """GET externalcontact/get, one page of followers (doc 92114)."""
        params = optionaldict(external_userid=external_userid, cursor=cursor or None)
        return self._get("externalcontact/get", params=params)

    def batch_get_by_user(self, userid_list: list[str], cursor: str | None = None, limit: int = 100) -> dict:
        """POST externalcontact/batch/get_by_user (doc 92994)."""
        data = optionaldict(userid_list=list(userid_list), cursor=cursor or None, limit=limit)
        return self._post("externalcontact/batch/get_by_user", data=data)

    def remark(self, userid: str, external_userid: str, remark: str | None = None, description: str | None = None,
               remark_company: str | None = None, remark_mobiles: list[str] | None = None,
               remark_pic_mediaid: str | None = None) -> dict:
        """POST externalcontact/remark (doc 92694); fields left None stay unchanged."""
        data = optionaldict(userid=userid, external_userid=external_userid, remark=remark, description=description,
                            remark_company=remark_company, remark_mobiles=remark_mobiles,
                            remark_pic_mediaid=remark_pic_mediaid)
        return self._post("externalcontact/remark", data=data)

    def get_corp_tag_list(self, tag_ids: list[str] | None = None, group_ids: list[str] | None = None) -> dict:
        """POST externalcontact/get_corp_tag_list (doc 96320); group ids win over tag ids."""
        data = optionaldict(tag_id=list(tag_ids) if tag_ids else None, group_id=list(group_ids) if group_ids else None)
        return self._post("externalcontact/get_corp_tag_list", data=data)

    def add_contact_way(self, type: int, scene: int, style: int | None = None, remark: str | None = None,
                        skip_verify: bool = True, state: str | None = None, user: list[str] | None = None,
                        party: list[int] | None = None, **extra: Any) -> dict:
        """POST externalcontact/add_contact_way (doc 92572); `extra` carries is_temp, expires_in, conclusions..."""
        data = optionaldict(type=type, scene=scene, style=style, remark=remark, skip_verify=skip_verify, state=state,
                            user=user, party=party, **extra)
        return self._post("externalcontact/add_contact_way", data=data)

    def update_contact_way(self, config_id: str, **fields: Any) -> dict:
        """POST externalcontact/update_contact_way (doc 92572); only the given fields change."""
        return self._post("externalcontact/update_contact_way", data=optionaldict(config_id=config_id, **fields))

    def add_msg_template(self, template: dict) -> dict:
        """POST externalcontact/add_msg_template (doc 92135); wechatpy 1.8.18 posts this to send_welcome_msg."""
        return self._post("externalcontact/add_msg_template", data=template)

    def get_groupmsg_list_v2(self, chat_type: str, start_time: int, end_time: int, creator: str | None = None,
                             filter_type: int = 2, limit: int = 100, cursor: str | None = None) -> dict:
        """POST externalcontact/get_groupmsg_list_v2 (doc 93338); the span is at most one month."""
        data = optionaldict(chat_type=chat_type, start_time=int(start_time), end_time=int(end_time), creator=creator,
                            filter_type=filter_type, limit=limit, cursor=cursor or None)
        return self._post("externalcontact/get_groupmsg_list_v2", data=data)

    def get_groupmsg_task(self, msgid: str, limit: int = 1000, cursor: str | None = None) -> dict:
        """POST externalcontact/get_groupmsg_task (doc 93338)."""
        data = optionaldict(msgid=msgid, limit=limit, cursor=cursor or None)
        return self._post("externalcontact/get_groupmsg_task", data=data)

    def get_groupmsg_send_result(self, msgid: str, userid: str, limit: int = 1000,
                                 cursor: str | None = None) -> dict:
        """POST externalcontact/get_groupmsg_send_result (doc 93338)."""
        data = optionaldict(msgid=msgid, userid=userid, limit=limit, cursor=cursor or None)
        return self._post("externalcontact/get_groupmsg_send_result", data=data)

    def transfer_customer(self, handover_userid: str, takeover_userid: str, external_userid: list[str],
                          transfer_success_msg: str | None = None) -> dict:
        """POST externalcontact/transfer_customer, on-job transfer (doc 92125)."""
        data = optionaldict(handover_userid=handover_userid, takeover_userid=takeover_userid,
                            external_userid=list(external_userid), transfer_success_msg=transfer_success_msg)
        return self._post("externalcontact/transfer_customer", data=data)

    def transfer_result(self, handover_userid: str, takeover_userid: str, cursor: str | None = None) -> dict:
        """POST externalcontact/transfer_result (doc 94088)."""
        data = optionaldict(handover_userid=handover_userid, takeover_userid=takeover_userid, cursor=cursor or None)
        return self._post("externalcontact/transfer_result", data=data)

    def resigned_transfer_customer(self, handover_userid: str, takeover_userid: str,
                                   external_userid: list[str]) -> dict:
        """POST externalcontact/resigned/transfer_customer, customers of a departed member (doc 94081)."""
        data = {"handover_userid": handover_userid, "takeover_userid": takeover_userid,
                "external_userid": list(external_userid)}
        return self._post("externalcontact/resigned/transfer_customer", data=data)

    def resigned_transfer_result(self, handover_userid: str, takeover_userid: str, cursor: str | None = None) -> dict:
        """POST externalcontact/resigned/transfer_result (doc 94082)."""
        data = optionaldict(handover_userid=handover_userid, takeover_userid=takeover_userid, cursor=cursor or None)
        return self._post("externalcontact/resigned/transfer_result", data=data)

    def get_unassigned_list(self, page_id: int | None = None, page_size: int = 1000,
                            cursor: str | None = None) -> dict:
        """POST externalcontact/get_unassigned_list (doc 92273); cursor paging replaces page_id."""
        data = optionaldict(page_id=page_id, page_size=page_size, cursor=cursor or None)
        return self._post("externalcontact/get_unassigned_list", data=data)


class GroupChat(WeChatExternalContactGroupChat):
    """客户群 (doc 92120-92122), plus the transfers of owners' chats."""

    def get(self, chat_id: str, need_name: bool = True) -> dict:
        """POST externalcontact/groupchat/get (doc 92122)."""
        return self._post("externalcontact/groupchat/get", data={"chat_id": chat_id, "need_name": int(need_name)})

    def transfer(self, chat_id_list: list[str], new_owner: str) -> dict:
        """POST externalcontact/groupchat/transfer, chats of departed owners (doc 92127)."""
        return self._post("externalcontact/groupchat/transfer",
                          data={"chat_id_list": list(chat_id_list), "new_owner": new_owner})

    def onjob_transfer(self, chat_id_list: list[str], new_owner: str) -> dict:
        """POST externalcontact/groupchat/onjob_transfer, chats of current members (doc 95703)."""
        return self._post("externalcontact/groupchat/onjob_transfer",
                          data={"chat_id_list": list(chat_id_list), "new_owner": new_owner})


class OAuth(WeChatOAuth):
    """Web login inside WeCom (doc 96441 / 96442)."""

    def authorize_url(self, redirect_uri: str, state: str | None = None, agent_id: str | int | None = None,
                      scope: str = "snsapi_base") -> str:
        """The OAuth2 authorize URL with agentid (doc 96441)."""
        client: WeComClient = self._client
        agent = client.access.agent_id if agent_id is None else agent_id
        parts = [f"appid={quote(client.corp_id, safe='')}", f"redirect_uri={quote(redirect_uri, safe='')}",
                 "response_type=code", f"scope={quote(scope, safe='')}"]
        if state:
            parts.append(f"state={quote(state, safe='')}")
        if agent not in (None, ""):
            parts.append(f"agentid={quote(str(agent), safe='')}")
        return f"{client.oauth_base}?{'&'.join(parts)}#wechat_redirect"

    def web_login_url(self, redirect_uri: str, state: str) -> str:
        """The web login (scan to log in) page of a self-built app: login_type=CorpApp with the corp and agent;
        its code is exchanged like an OAuth code (doc 98151)."""
        client: WeComClient = self._client
        query = urlencode({"login_type": "CorpApp", "appid": client.corp_id, "agentid": client.access.agent_id,
                           "redirect_uri": redirect_uri, "state": state})
        return f"{client.web_login_base}?{query}"

    def get_user_info(self, code: str) -> dict:
        """GET auth/getuserinfo (doc 96442), not wechatpy's legacy user/getuserinfo."""
        return self._get("auth/getuserinfo", params={"code": code})


class JSAPI(WeChatJSAPI):
    """JS-SDK tickets and signatures (doc 96909); tickets live in the shared store."""

    def _ticket_keys(self) -> tuple[str, str]:
        """Where the corp ticket and this app's ticket are cached (two apps of one corp must not share the latter)."""
        client: WeComClient = self._client
        return (f"wecom:{client.corp_key}:ticket:corp",
                f"wecom:{client.corp_key}:ticket:agent:{client.access.agent_id}")

    def get_jsapi_ticket(self) -> str:
        """The corp ticket for wx.config, cached per corp."""
        client: WeComClient = self._client
        return client.runtime.tokens.get_or_fetch(self._ticket_keys()[0], lambda: _ticket(self.get_ticket()))

    def get_agent_jsapi_ticket(self) -> str:
        """The app ticket for wx.agentConfig, cached per agent."""
        client: WeComClient = self._client
        return client.runtime.tokens.get_or_fetch(self._ticket_keys()[1], lambda: _ticket(self.get_agent_ticket()))

    def forget_tickets(self) -> None:
        """Drop both cached tickets, so the next signature uses fresh ones (a page whose config failed)."""
        client: WeComClient = self._client
        for key in self._ticket_keys():
            client.runtime.tokens.delete(key)

    def config_params(self, url: str, *, nonce: str | None = None, timestamp: int | None = None) -> dict[str, Any]:
        """Parameters for wx.config (corp ticket), without jsApiList, which the page chooses."""
        client: WeComClient = self._client
        nonce, timestamp = nonce or _nonce(), int(client.now()) if timestamp is None else int(timestamp)
        signature = sign_jsapi(self.get_jsapi_ticket(), nonce, timestamp, url)
        return {"beta": True, "appId": client.corp_id, "timestamp": timestamp, "nonceStr": nonce,
                "signature": signature}

    def agent_config_params(self, url: str, *, nonce: str | None = None,
                            timestamp: int | None = None) -> dict[str, Any]:
        """Parameters for wx.agentConfig (app ticket), without jsApiList."""
        client: WeComClient = self._client
        nonce, timestamp = nonce or _nonce(), int(client.now()) if timestamp is None else int(timestamp)
        signature = sign_jsapi(self.get_agent_jsapi_ticket(), nonce, timestamp, url)
        return {"corpid": client.corp_id, "agentid": client.access.agent_id, "timestamp": timestamp,
                "nonceStr": nonce, "signature": signature}


def sign_jsapi(ticket: str, nonce: str, timestamp: int | str, url: str) -> str:
    """sha1 of the fixed-order string of doc 96909, over the URL without its fragment."""
    page = url.split("#", 1)[0]
    raw = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={page}"
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()


def _ticket(result: dict) -> tuple[str, int]:
    return result["ticket"], int(result.get("expires_in") or 7200)


def _nonce() -> str:
    return secrets.token_urlsafe(12)


# ---------------------------------------------------------------- the client


class WeComClient(WeChatClient):
    """One corp's API client; share `runtime` between clients so tokens and limits are shared."""

    external_contact = ExternalContact()
    external_contact_group_chat = GroupChat()
    oauth = OAuth()
    jsapi = JSAPI()

    def __init__(self, access: CorpAccess, runtime: Runtime, *, now: Callable[[], float] = time.time,
                 http: requests.Session | None = None):
        super().__init__(access.corp_id, access.secret, timeout=runtime.timeout, auto_retry=False)
        self._http = http or runtime.http()
        self.access = access
        self.runtime = runtime
        self.corp_key = access.corp_key
        self.now = now
        root = access.api_base.rstrip("/") if access.api_base else API_HOST
        self.API_BASE_URL = f"{root}/cgi-bin/"
        self.oauth_base = f"{access.api_base.rstrip('/')}/connect/oauth2/authorize" if access.api_base \
            else OAUTH_AUTHORIZE
        self.web_login_base = f"{access.api_base.rstrip('/')}/wwlogin/sso/login" if access.api_base else WEB_LOGIN
        self.token_key = f"wecom:{access.corp_key}:token"

    def __repr__(self) -> str:
        return f"WeComClient({self.corp_key})"

    # tokens ------------------------------------------------------------

    @property
    def access_token(self) -> str:
        return self.runtime.tokens.get_or_fetch(self.token_key, self.fetch_access_token)

    def fetch_access_token(self) -> tuple[str, int]:
        """GET gettoken (doc 91039); returns (token, expires_in) for the shared store."""
        params = {"corpid": self.corp_id, "corpsecret": self.secret}
        result = self._send("GET", self.API_BASE_URL + "gettoken", "gettoken", params, None)
        token = result.get("access_token")
        if not token:
            raise HostUnavailable("no_token", "gettoken answered without a token", api="gettoken")
        return token, int(result.get("expires_in") or 7200)

    # requests ----------------------------------------------------------

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        base = kwargs.pop("api_base_url", self.API_BASE_URL)
        if url_or_endpoint.startswith(("http://", "https://")):
            url = url_or_endpoint
            api = url.split("/cgi-bin/", 1)[-1]
        else:
            url, api = base + url_or_endpoint, url_or_endpoint
        api = api.split("?", 1)[0]
        params = dict(kwargs.pop("params", None) or {})
        data = kwargs.pop("data", None)
        # multipart uploads (media/upload) come as requests' `files`; give contents as bytes, so a retry resends them
        files = kwargs.pop("files", None)
        processor = kwargs.pop("result_processor", None)
        body = json.dumps(data, ensure_ascii=False).encode("utf-8") if isinstance(data, dict) else data
        result = self._call(method.upper(), url, api, params, body, files)
        return processor(result) if processor else result

    def _call(self, method: str, url: str, api: str, params: dict, body: bytes | None,
              files: dict | None = None) -> dict:
        refreshed = False

        def attempt() -> dict:
            nonlocal refreshed
            token = self.access_token
            try:
                return self._send(method, url, api, {**params, "access_token": token}, body, files)
            except _TokenRejected as rejected:
                if refreshed:
                    raise HostError(rejected.errcode, rejected.errmsg, api=api) from None
                refreshed = True
            token = self.runtime.tokens.get_or_fetch(self.token_key, self.fetch_access_token, stale=token)
            try:
                return self._send(method, url, api, {**params, "access_token": token}, body, files)
            except _TokenRejected as rejected:
                raise HostError(rejected.errcode, rejected.errmsg, api=api) from None

        return call_with_backoff(attempt, attempts=self.runtime.attempts, sleep=self.runtime.sleep)

    def _send(self, method: str, url: str, api: str, params: dict, body: bytes | None,
              files: dict | None = None) -> dict:
        """One HTTP exchange: throttle, send, and turn the answer into a dict or a typed error."""
        limiter = self.runtime.limiter
        # budgets are keyed "wecom:<api path>", so a per-API limit or a "wecom:default" can be configured
        limiter.throttle(self.corp_key, f"{LIMIT_PREFIX}{api}")
        if api in TAG_EDIT_APIS:
            with limiter.concurrency(self.corp_key, TAG_EDIT_GROUP, TAG_EDIT_CONCURRENCY):
                resp = self._http_exchange(method, url, api, params, body, files)
        else:
            resp = self._http_exchange(method, url, api, params, body, files)
        _check_status(resp, api)
        try:
            # strict=False: names typed on phones can carry raw control characters, which the host does not escape
            result = json.loads(resp.content.decode("utf-8"), strict=False)
        except (UnicodeDecodeError, ValueError):
            raise HostUnavailable("bad_json", "the host did not answer JSON", api=api) from None
        if not isinstance(result, dict):
            raise HostUnavailable("bad_json", "the host did not answer a JSON object", api=api)
        try:
            errcode = int(result.get("errcode") or 0)
        except (TypeError, ValueError):
            raise HostUnavailable("bad_json", "errcode is not a number", api=api) from None
        if errcode in TOKEN_REJECTED:
            raise _TokenRejected(errcode, str(result.get("errmsg", "")), api=api)
        if errcode == FREQUENCY_LIMITED:
            blocked = limiter.block(self.corp_key, f"{LIMIT_PREFIX}{api}", BLOCK_SECONDS, HOUR_BLOCK_SECONDS)
            raise HostRateLimited(errcode, str(result.get("errmsg", "")), api=api, retry_after=blocked)
        if errcode:
            raise error_for(errcode, str(result.get("errmsg", "")), api)
        return result

    def _http_exchange(self, method: str, url: str, api: str, params: dict, body: bytes | None,
                       files: dict | None = None, *, stream: bool = False) -> requests.Response:
        headers = {"Content-Type": "application/json; charset=utf-8"} if body is not None else None
        # files (multipart: requests sets its own Content-Type) and stream only where used; JSON calls keep the defaults
        extra: dict[str, Any] = {"files": files} if files else {}
        if stream:
            extra["stream"] = True
        try:
            return self._http.request(method, url, params=params, data=body, headers=headers,
                                      timeout=self.runtime.timeout, **extra)
        except requests.RequestException as exc:
            # `from None`: requests' messages repeat the URL, and with it the secret or token in its query
            raise _unavailable(exc, api, url) from None

    # public files ------------------------------------------------------

    def fetch_image(self, url: str, limit: int = QR_MAX_BYTES) -> bytes:
        """GET a public image, a contact way's `qr_code` (doc 92572): no token; image/* of at most `limit` bytes."""

        def attempt() -> bytes:
            resp = self._http_exchange("GET", url, QR_API, {}, None, stream=True)
            with resp:
                if resp.status_code == 404:  # a deleted or expired contact way's picture
                    raise HostNotFound("http_404", api=QR_API)
                _check_status(resp, QR_API)
                kind = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
                if not kind.startswith("image/"):
                    raise HostError("not_image", kind or "no Content-Type", api=QR_API)
                declared = resp.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise HostError("too_large", f"over {limit} bytes", api=QR_API)
                chunks, size = [], 0
                try:
                    # the declared length may be absent or wrong: count what actually arrives
                    for chunk in resp.iter_content(64 * 1024):
                        size += len(chunk)
                        if size > limit:
                            raise HostError("too_large", f"over {limit} bytes", api=QR_API)
                        chunks.append(chunk)
                except requests.RequestException as exc:
                    raise _unavailable(exc, QR_API, url) from None
            return b"".join(chunks)

        return call_with_backoff(attempt, attempts=self.runtime.attempts, sleep=self.runtime.sleep)


def _unavailable(exc: requests.RequestException, api: str, url: str) -> HostUnavailable:
    """A network failure or timeout as HostUnavailable, with the URL tried (HostUnavailable drops its query)."""
    if isinstance(exc, requests.Timeout):
        return HostUnavailable("timeout", api=api, url=url)
    return HostUnavailable("network", type(exc).__name__, api=api, url=url)


def _check_status(resp: requests.Response, api: str) -> None:
    """HTTP statuses other than 200 as typed errors: 5xx and 429 are transient."""
    if resp.status_code >= 500:
        raise HostUnavailable(f"http_{resp.status_code}", api=api)
    if resp.status_code == 429:
        raise HostRateLimited("http_429", api=api)
    if resp.status_code != 200:
        raise HostError(f"http_{resp.status_code}", api=api)
