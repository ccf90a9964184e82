"""The DingTalk platform as the product registers it: hosts, callback parsing and crypto, capabilities."""
from __future__ import annotations

from connectors.dingtalk import events
from connectors.dingtalk.crypto import DingTalkCrypto
from connectors.dingtalk.host import CAPABILITIES, PLATFORM, DingTalkHost
from connectors.runtime import Runtime
from scrm.host import BadSignature, CorpAccess, Platform


def owner_keys(access: CorpAccess) -> list[str]:
    """Console-subscribed events carry the appKey; the legacy register_call_back API carries the corpId
    (option `callback_owner_key`: app_key, corp_id or either)."""
    mode = access.options.get("callback_owner_key", "app_key")
    keys = {"app_key": [access.app_key], "corp_id": [access.corp_id],
            "either": [access.app_key, access.corp_id]}[mode]
    return [k for k in keys if k]


def callback_crypto(access: CorpAccess) -> DingTalkCrypto:
    if not access.callback_token or not access.callback_aes_key:
        raise BadSignature("not_configured", "the corp has no callback token / EncodingAESKey")
    return DingTalkCrypto(access.callback_token, access.callback_aes_key, owner_keys(access))


def platform(runtime: Runtime) -> Platform:
    """One descriptor per app: every corp's host shares the app's runtime (token store, limiter, HTTP session)."""
    return Platform(name=PLATFORM, capabilities=CAPABILITIES, host=lambda access: DingTalkHost(access, runtime),
                    parse=events.parse, callback_crypto=callback_crypto,
                    parse_stream=events.parse_stream)
