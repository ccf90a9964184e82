"""DingTalk callback crypto (event subscription, HTTP push): verify, decrypt, encrypt the `success` reply.

The framing is WeCom's (see connectors.framing); what differs: the trailer is the owner key (the app's appKey for
console-subscribed events, the corpId for the legacy register_call_back API), the body is JSON, timestamps are
often milliseconds, and the signature parameter is `msg_signature` or `signature`.
Doc: open.dingtalk.com/document/development/callback-event-message-body-encryption-and-decryption
"""
from __future__ import annotations

import hmac
import json
import secrets
import time
from typing import Mapping, Sequence

from connectors import framing
from connectors.framing import signature  # noqa: F401  (part of this module's interface)
from scrm.host import MalformedPayload, WrongReceiver


class DingTalkCrypto:
    """One app's callback crypto; `owner_key` may list several accepted trailers (the app key and the corp id in
    "either" mode): a reply is sealed for the one its request came with."""

    def __init__(self, token: str, aes_key: str, owner_key: str | Sequence[str]):
        self._key = framing.aes_key(aes_key)
        self._token = token
        self.owner_keys = [owner_key] if isinstance(owner_key, str) else [k for k in owner_key if k]
        if not self.owner_keys:
            raise ValueError("an owner key is required")

    def __repr__(self) -> str:
        return f"DingTalkCrypto({self.owner_keys[0]!r})"

    def open(self, msg_signature: str | None, timestamp: str | None, nonce: str | None,
             encrypt: str) -> tuple[str, str]:
        """Verify the signature in constant time, decrypt, check the owner key; return the plaintext JSON text and
        the owner key it was sealed for (the reply is sealed for the same one)."""
        framing.check_signature(self._token, msg_signature, timestamp, nonce, encrypt)
        text, owner = framing.unseal(self._key, encrypt)
        for key in self.owner_keys:
            if hmac.compare_digest(owner.encode(), key.encode()):
                return text, key
        raise WrongReceiver("owner_key")

    def decrypt(self, msg_signature: str | None, timestamp: str | None, nonce: str | None, encrypt: str) -> str:
        """The plaintext JSON text of a verified message (see `open`)."""
        return self.open(msg_signature, timestamp, nonce, encrypt)[0]

    def open_body(self, body: bytes, query: Mapping[str, str]) -> tuple[str, str]:
        """Open a callback POST: JSON body {"encrypt": ...}, signature in `msg_signature` or `signature`; the
        plaintext and its owner key."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested past the limit
            raise MalformedPayload("json", "body is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("encrypt"), str) or not data["encrypt"]:
            raise MalformedPayload("no_encrypt", "body has no encrypt string")
        sig = query.get("msg_signature") or query.get("signature")
        ts = query.get("timestamp") or query.get("timeStamp")
        return self.open(sig, ts, query.get("nonce"), data["encrypt"])

    def decrypt_body(self, body: bytes, query: Mapping[str, str]) -> str:
        """The plaintext of a callback POST (see `open_body`)."""
        return self.open_body(body, query)[0]

    def encrypt(self, plaintext: str, nonce: str, timestamp: str, random_prefix: bytes | None = None,
                owner_key: str | None = None) -> tuple[str, str]:
        """Encrypt for `owner_key` (one of the accepted ones; the first when not given); returns (encrypt base64
        without newlines, signature)."""
        if owner_key is None:
            owner_key = self.owner_keys[0]
        elif owner_key not in self.owner_keys:
            raise ValueError("not an owner key of this app")
        encrypt = framing.seal(self._key, plaintext, owner_key,
                               secrets.token_bytes(framing.PREFIX) if random_prefix is None else random_prefix)
        return encrypt, framing.signature(self._token, str(timestamp), str(nonce), encrypt)

    def reply(self, plaintext: str = "success", nonce: str | None = None, timestamp: str | None = None,
              owner_key: str | None = None) -> dict:
        """The JSON answer DingTalk expects: {msg_signature, timeStamp, nonce, encrypt}, sealed for the owner key
        the request came with (`owner_key`, as `open` returned it)."""
        nonce = nonce or secrets.token_hex(4)
        timestamp = timestamp or str(int(time.time() * 1000))
        encrypt, sig = self.encrypt(plaintext, nonce, timestamp, owner_key=owner_key)
        return {"msg_signature": sig, "timeStamp": timestamp, "nonce": nonce, "encrypt": encrypt}
