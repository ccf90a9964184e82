"""The message framing WeCom and DingTalk callbacks share (WeCom doc 91144; DingTalk callback-event-message-body-
encryption-and-decryption): sha1 signature over the sorted strings; AES-256-CBC with IV = key[:16] over
random(16) + uint32_be(len(msg)) + msg + trailer, PKCS#7-padded to 32-byte blocks (so the pad byte may be 17..32).

The trailer is WeCom's receive id or DingTalk's owner key; each host's crypto class checks it.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from scrm.host import BadSignature, MalformedPayload

BLOCK = 32
PREFIX = 16
_ALPHABET = string.ascii_letters + string.digits


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """sha1 over the four strings sorted and concatenated, lowercase hex."""
    parts = sorted([str(token), str(timestamp), str(nonce), str(encrypt)])
    return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()


def check_signature(token: str, msg_signature: str | None, timestamp: str | None, nonce: str | None,
                    encrypt: str) -> None:
    """Constant-time check; BadSignature when missing or wrong."""
    if not msg_signature or timestamp is None or nonce is None:
        raise BadSignature("signature", "missing signature, timestamp or nonce")
    expected = signature(token, str(timestamp), str(nonce), encrypt).encode("ascii")
    if not hmac.compare_digest(expected, str(msg_signature).lower().encode("utf-8")):
        raise BadSignature("signature")


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte key behind a 43-character EncodingAESKey."""
    if not isinstance(encoding_aes_key, str) or len(encoding_aes_key) != 43:
        raise ValueError("EncodingAESKey must be 43 characters")
    try:
        return base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error:
        raise ValueError("EncodingAESKey is not base64") from None


def _cipher(key: bytes) -> Cipher:
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def random_prefix() -> bytes:
    # ASCII letters and digits, like Tencent's own library, so lax receivers that decode the whole block still work
    return "".join(secrets.choice(_ALPHABET) for _ in range(PREFIX)).encode("ascii")


def seal(key: bytes, plaintext: str, trailer: str, prefix: bytes | None = None) -> str:
    """Frame, pad and encrypt one message; base64 without newlines."""
    prefix = random_prefix() if prefix is None else bytes(prefix)
    if len(prefix) != PREFIX:
        raise ValueError("random prefix must be 16 bytes")
    msg = plaintext.encode("utf-8")
    data = prefix + struct.pack(">I", len(msg)) + msg + trailer.encode("utf-8")
    padding = BLOCK - len(data) % BLOCK
    encryptor = _cipher(key).encryptor()
    return base64.b64encode(encryptor.update(data + bytes([padding]) * padding) + encryptor.finalize()).decode()


def unseal(key: bytes, encrypt: str) -> tuple[str, str]:
    """Decrypt and unframe; returns (message, trailer). Every malformed part raises MalformedPayload."""
    try:
        raw = base64.b64decode(encrypt, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedPayload("base64") from None
    if not raw or len(raw) % 16:
        raise MalformedPayload("base64", "ciphertext is not whole AES blocks")
    decryptor = _cipher(key).decryptor()
    plain = decryptor.update(raw) + decryptor.finalize()
    n = plain[-1]
    if not 1 <= n <= BLOCK or n > len(plain) or plain[-n:] != bytes([n]) * n:
        raise MalformedPayload("padding")
    plain = plain[:-n]
    if len(plain) < PREFIX + 4:
        raise MalformedPayload("length", "shorter than the fixed header")
    (size,) = struct.unpack(">I", plain[PREFIX:PREFIX + 4])
    start = PREFIX + 4
    if start + size > len(plain):  # a wrong key yields a huge length: never trust it
        raise MalformedPayload("length", "message length past the end")
    try:
        return plain[start:start + size].decode("utf-8"), plain[start + size:].decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPayload("encoding", "not UTF-8") from None
