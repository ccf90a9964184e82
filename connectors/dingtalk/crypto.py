"""DingTalk callback crypto (event subscription, HTTP push): verify, decrypt, encrypt the `success` reply.

Like WeCom's but not identical: the trailer is the owner key (the app's appKey for console-subscribed events, the
corpId for the legacy register_call_back API), timestamps are often milliseconds, and the signature parameter is
`msg_signature` or `signature`. AES-256-CBC, IV = key[:16], PKCS#7 to 32-byte blocks (pad byte 1..32).
Doc: open.dingtalk.com/document/development/callback-event-message-body-encryption-and-decryption
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import struct
import time
from typing import Mapping, Sequence

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from scrm.host import BadSignature, MalformedPayload, WrongReceiver

BLOCK = 32
PREFIX = 16


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """sha1 over the four values sorted and joined."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode("utf-8")).hexdigest()


def _pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    if not data:
        raise MalformedPayload("padding", "empty plaintext")
    n = data[-1]
    if not 1 <= n <= BLOCK or data[-n:] != bytes([n]) * n:
        raise MalformedPayload("padding", "bad PKCS#7 padding")
    return data[:-n]


class DingTalkCrypto:
    """One app's callback crypto; `owner_key` may list several accepted trailers (the first is used to encrypt)."""

    def __init__(self, token: str, aes_key: str, owner_key: str | Sequence[str]):
        if not isinstance(aes_key, str) or len(aes_key) != 43:
            raise ValueError("aes_key must be 43 characters")
        try:
            self._key = base64.b64decode(aes_key + "=", validate=True)
        except binascii.Error:
            raise ValueError("aes_key is not base64") from None
        self._token = token
        self.owner_keys = [owner_key] if isinstance(owner_key, str) else [k for k in owner_key if k]
        if not self.owner_keys:
            raise ValueError("an owner key is required")

    def __repr__(self) -> str:
        return f"DingTalkCrypto({self.owner_keys[0]!r})"

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def decrypt(self, msg_signature: str | None, timestamp: str | None, nonce: str | None, encrypt: str) -> str:
        """Verify the signature in constant time, decrypt, check the owner key; return the plaintext JSON text."""
        if not msg_signature or timestamp is None or nonce is None:
            raise BadSignature("signature", "missing signature, timestamp or nonce")
        expected = signature(self._token, str(timestamp), str(nonce), encrypt).encode("ascii")
        if not hmac.compare_digest(expected, str(msg_signature).lower().encode("utf-8")):
            raise BadSignature("signature")
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedPayload("base64") from None
        if not raw or len(raw) % 16:
            raise MalformedPayload("base64", "ciphertext is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = _unpad(decryptor.update(raw) + decryptor.finalize())
        if len(plain) < PREFIX + 4:
            raise MalformedPayload("length", "shorter than the fixed header")
        (size,) = struct.unpack(">I", plain[PREFIX:PREFIX + 4])
        start = PREFIX + 4
        if start + size > len(plain):  # a wrong key gives a huge length: never trust it
            raise MalformedPayload("length", "message length past the end")
        msg, owner = plain[start:start + size], plain[start + size:]
        try:
            text, owner_text = msg.decode("utf-8"), owner.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPayload("encoding", "not UTF-8") from None
        if not any(hmac.compare_digest(owner_text.encode(), k.encode()) for k in self.owner_keys):
            raise WrongReceiver("owner_key")
        return text

    def decrypt_body(self, body: bytes, query: Mapping[str, str]) -> str:
        """Decrypt a callback POST: JSON body {"encrypt": ...}, signature in `msg_signature` or `signature`."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise MalformedPayload("json", "body is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("encrypt"), str) or not data["encrypt"]:
            raise MalformedPayload("no_encrypt", "body has no encrypt string")
        sig = query.get("msg_signature") or query.get("signature")
        ts = query.get("timestamp") or query.get("timeStamp")
        return self.decrypt(sig, ts, query.get("nonce"), data["encrypt"])

    def encrypt(self, plaintext: str, nonce: str, timestamp: str,
                random_prefix: bytes | None = None) -> tuple[str, str]:
        """Encrypt for the first owner key; returns (encrypt base64 without newlines, signature)."""
        prefix = secrets.token_bytes(PREFIX) if random_prefix is None else bytes(random_prefix)
        if len(prefix) != PREFIX:
            raise ValueError("random prefix must be 16 bytes")
        msg = plaintext.encode("utf-8")
        data = prefix + struct.pack(">I", len(msg)) + msg + self.owner_keys[0].encode("utf-8")
        encryptor = self._cipher().encryptor()
        encrypt = base64.b64encode(encryptor.update(_pad(data)) + encryptor.finalize()).decode("ascii")
        return encrypt, signature(self._token, str(timestamp), str(nonce), encrypt)

    def reply(self, plaintext: str = "success", nonce: str | None = None, timestamp: str | None = None) -> dict:
        """The JSON answer DingTalk expects: {msg_signature, timeStamp, nonce, encrypt}."""
        nonce = nonce or secrets.token_hex(4)
        timestamp = timestamp or str(int(time.time() * 1000))
        encrypt, sig = self.encrypt(plaintext, nonce, timestamp)
        return {"msg_signature": sig, "timeStamp": timestamp, "nonce": nonce, "encrypt": encrypt}
