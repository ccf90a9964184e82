"""The WeCom platform as the product registers it: hosts, callback parsing and crypto, capabilities."""
from __future__ import annotations

from connectors.runtime import Runtime
from connectors.wecom import events
from connectors.wecom.crypto import WeComCrypto
from connectors.wecom.host import CAPABILITIES, PLATFORM, WeComHost
from scrm.host import BadSignature, CorpAccess, Platform


def callback_crypto(access: CorpAccess) -> WeComCrypto:
    """The receive id is the corp id: a message encrypted for another corp is refused."""
    if not access.callback_token or not access.callback_aes_key:
        raise BadSignature("not_configured", "the corp has no callback token / EncodingAESKey")
    return WeComCrypto(access.callback_token, access.callback_aes_key, access.corp_id)


def platform(runtime: Runtime) -> Platform:
    """One descriptor per app: every corp's host shares the app's runtime (token store, limiter, HTTP session)."""
    return Platform(name=PLATFORM, capabilities=CAPABILITIES, host=lambda access: WeComHost(access, runtime),
                    parse=events.parse, callback_crypto=callback_crypto)
