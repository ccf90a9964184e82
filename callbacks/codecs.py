"""Per-corp callback crypto (cached briefly, so an acknowledgement costs one INSERT and no lookup), and the
platform's payload parser (the one the inbox re-parses with)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import current_app

from connectors.dingtalk.crypto import DingTalkCrypto
from connectors.wecom.crypto import WeComCrypto
from scrm.errors import NotFound
from scrm.events import ParsedCallback
from scrm.host import BadSignature, registry
from scrm.models import Corp
from scrm.services import corps

#: Changed callback credentials take effect within this many seconds on every web process.
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class CallbackCorp:
    """What the callback edge needs of a corp: its row id and platform, and its callback crypto."""

    id: int
    platform: str
    corp_key: str
    crypto: Any


def _require_callback_settings(corp: Corp) -> None:
    if not corp.callback_token or not corp.callback_aes_key:
        raise BadSignature("not_configured", "the corp has no callback token / EncodingAESKey")


def wecom(corp: Corp) -> WeComCrypto:
    """The receive id is the corp id: a message encrypted for another corp is refused."""
    _require_callback_settings(corp)
    return WeComCrypto(corp.callback_token, corp.callback_aes_key, corp.corp_id)


def dingtalk_owner_keys(corp: Corp) -> list[str]:
    """Console-subscribed events carry the appKey; the legacy register_call_back API carries the corpId."""
    mode = (corp.options or {}).get("callback_owner_key", "app_key")
    keys = {"app_key": [corp.app_key], "corp_id": [corp.corp_id], "either": [corp.app_key, corp.corp_id]}[mode]
    return [k for k in keys if k]


def dingtalk(corp: Corp) -> DingTalkCrypto:
    _require_callback_settings(corp)
    return DingTalkCrypto(corp.callback_token, corp.callback_aes_key, dingtalk_owner_keys(corp))


_CRYPTO = {"wecom": wecom, "dingtalk": dingtalk}


def callback_corp(platform: str, corp_key: str) -> CallbackCorp | None:
    """The corp behind a callback URL, or None when the key is unknown or of another platform."""
    cache = current_app.extensions.setdefault("scrm.callback_corps", {})
    hit = cache.get((platform, corp_key))
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    try:
        corp = corps.get_corp(corp_key)
    except NotFound:
        return None
    if corp.platform != platform:
        return None
    entry = CallbackCorp(corp.id, corp.platform, corp.corp_key, _CRYPTO[platform](corp))
    cache[(platform, corp_key)] = (time.monotonic() + CACHE_SECONDS, entry)
    return entry


def parse(platform: str, plaintext: str) -> ParsedCallback:
    return registry.parse(platform, plaintext)
