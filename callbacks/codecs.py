"""Per-corp callback crypto (cached briefly, so an acknowledgement costs one INSERT and no lookup), and the
platform's payload parser (the one the inbox re-parses with); both come from the app's platform descriptors."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import current_app

from scrm.errors import NotFound
from scrm.events import ParsedCallback
from scrm.host import platforms
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
    crypto = platforms().get(platform).callback_crypto(corps.corp_access(corp))
    entry = CallbackCorp(corp.id, corp.platform, corp.corp_key, crypto)
    cache[(platform, corp_key)] = (time.monotonic() + CACHE_SECONDS, entry)
    return entry


def parse(platform: str, plaintext: str) -> ParsedCallback:
    return platforms().parse(platform, plaintext)
