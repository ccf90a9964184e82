"""Connect corps (tenants) and find the host connector for one."""
from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from scrm.db import transactional
from scrm.errors import Conflict, NotFound, ValidationError
from scrm.extensions import db
from scrm.host import CorpAccess, Host, platforms
from scrm.models import PLATFORMS, Corp

_AES_KEY = re.compile(r"^[A-Za-z0-9]{43}$")
_TOKEN = re.compile(r"^[A-Za-z0-9]{1,32}$")


def _validate(platform: str, name: str, corp_id: str, secret: str, agent_id: str | None, app_key: str | None,
              callback_token: str | None, callback_aes_key: str | None, api_base: str | None) -> None:
    if platform not in PLATFORMS:
        raise ValidationError("platform", f"must be one of {', '.join(PLATFORMS)}")
    for field, value in (("name", name), ("corp_id", corp_id), ("secret", secret)):
        if not value or not value.strip():
            raise ValidationError(field, "is required")
    if platform == "dingtalk" and not app_key:
        raise ValidationError("app_key", "is required for DingTalk (the app's Client ID)")
    if platform == "wecom" and not agent_id:
        raise ValidationError("agent_id", "is required for WeCom (the self-built app's AgentId)")
    if callback_aes_key is not None and not _AES_KEY.match(callback_aes_key):
        raise ValidationError("callback_aes_key", "must be the 43 letters and digits of the EncodingAESKey")
    if callback_token is not None and not _TOKEN.match(callback_token):
        raise ValidationError("callback_token", "must be 1 to 32 letters and digits")
    _validate_api_base(api_base)


def _validate_api_base(api_base: str | None) -> None:
    if api_base is not None and not re.match(r"^https?://", api_base):
        raise ValidationError("api_base", "must be an http(s) URL")


@transactional
def register_corp(*, platform: str, name: str, corp_id: str, secret: str, agent_id: str | None = None,
                  app_key: str | None = None, callback_token: str | None = None,
                  callback_aes_key: str | None = None, api_base: str | None = None,
                  options: dict | None = None, corp_key: str | None = None) -> Corp:
    """Register a corp with its credentials sealed at rest."""
    _validate(platform, name, corp_id, secret, agent_id, app_key, callback_token, callback_aes_key, api_base)
    exists = db.session.scalar(select(Corp).where(Corp.platform == platform, Corp.corp_id == corp_id))
    if exists:
        raise Conflict(f"{platform} corp {corp_id} is already registered as {exists.corp_key}")
    corp = Corp(platform=platform, name=name.strip(), corp_id=corp_id.strip(), agent_id=agent_id,
                app_key=app_key, secret=secret, callback_token=callback_token,
                callback_aes_key=callback_aes_key, api_base=api_base.rstrip("/") if api_base else None,
                options=options or {})
    if corp_key:
        if not re.match(r"^[a-z0-9-]{3,32}$", corp_key):
            raise ValidationError("corp_key", "must be 3 to 32 lowercase letters, digits or dashes")
        corp.corp_key = corp_key
    db.session.add(corp)
    db.session.flush()
    return corp


@transactional
def move_api_base(corp_key: str, api_base: str | None) -> Corp:
    """Point a corp at another API root (the sandbox on another address)."""
    _validate_api_base(api_base)
    corp = get_corp(corp_key)
    corp.api_base = api_base.rstrip("/") if api_base else None
    return corp


def get_corp(corp_key: str) -> Corp:
    corp = db.session.scalar(select(Corp).where(Corp.corp_key == corp_key))
    if corp is None:
        raise NotFound(f"no corp with key {corp_key}")
    return corp


def list_corps() -> list[Corp]:
    return list(db.session.scalars(select(Corp).order_by(Corp.id)))


def callback_url(corp: Corp) -> str:
    """The URL to paste into the host console's callback (event subscription) settings."""
    return f"{current_app.config['BASE_URL']}/callbacks/{corp.platform}/{corp.corp_key}"


def describe(corp: Corp) -> dict:
    """Public facts about a corp (never its secrets)."""
    return {
        "corp_key": corp.corp_key, "platform": corp.platform, "name": corp.name, "corp_id": corp.corp_id,
        "agent_id": corp.agent_id, "app_key": corp.app_key, "api_base": corp.api_base,
        "callback_url": callback_url(corp), "created_at": corp.created_at.isoformat() + "Z",
    }


def corp_zone(corp: Corp) -> ZoneInfo:
    """The corp's time zone (option `timezone`, default Asia/Shanghai): days and working hours are local."""
    return ZoneInfo((corp.options or {}).get("timezone") or "Asia/Shanghai")


def corp_access(corp: Corp) -> CorpAccess:
    return CorpAccess(corp_key=corp.corp_key, platform=corp.platform, corp_id=corp.corp_id,
                      agent_id=corp.agent_id, secret=corp.secret, app_key=corp.app_key,
                      callback_token=corp.callback_token, callback_aes_key=corp.callback_aes_key,
                      api_base=corp.api_base, options=dict(corp.options or {}))


def host_for(corp: Corp) -> Host:
    """The host connector for this corp (WeCom, DingTalk, or whatever a test installed)."""
    return platforms().host_for(corp_access(corp))
