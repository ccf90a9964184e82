"""WeCom callback crypto (doc 91144): SHA1 signature, AES-256-CBC with IV = key[:16], PKCS#7 to 32-byte blocks.

Wire-compatible with `wechatpy.enterprise.crypto.WeChatCrypto`, but stricter: the signature compare is
constant-time, the random prefix comes from a CSPRNG, and every malformed field raises a typed error instead of
an IndexError or a silently wrong plaintext.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string
import struct
from urllib.parse import unquote

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from scrm.host import BadSignature, MalformedPayload, WrongReceiver

BLOCK = 32
PREFIX = 16
_ALPHABET = string.ascii_letters + string.digits

REPLY_TEMPLATE = (
    "<xml>\n"
    "<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n"
    "<MsgSignature><![CDATA[{signature}]]></MsgSignature>\n"
    "<TimeStamp>{timestamp}</TimeStamp>\n"
    "<Nonce><![CDATA[{nonce}]]></Nonce>\n"
    "</xml>"
)
ENVELOPE_TEMPLATE = (
    "<xml><ToUserName><![CDATA[{to}]]></ToUserName><AgentID><![CDATA[{agent_id}]]></AgentID>"
    "<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
)


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """sha1 over the four strings sorted and concatenated, lowercase hex (doc 91144)."""
    parts = sorted([str(token), str(timestamp), str(nonce), str(encrypt)])
    return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()


def _pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    n = data[-1]
    if not 1 <= n <= BLOCK or n > len(data) or data[-n:] != bytes([n]) * n:
        raise MalformedPayload("padding")
    return data[:-n]


def _random_prefix() -> bytes:
    # ASCII letters and digits, like Tencent's own library, so lax receivers that decode the whole block still work
    return "".join(secrets.choice(_ALPHABET) for _ in range(PREFIX)).encode("ascii")


class WeComCrypto:
    """Encrypt, decrypt and sign WeCom callbacks for one receive id (corp id, suite id, or "" for robots)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str):
        if not isinstance(encoding_aes_key, str) or len(encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error:
            raise ValueError("EncodingAESKey is not base64") from None
        self._key = key
        self._token = token
        self.receive_id = receive_id

    def __repr__(self) -> str:
        return f"WeComCrypto({self.receive_id!r})"

    # ---------------------------------------------------------------- signatures

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        """The msg_signature of one encrypted value."""
        return signature(self._token, timestamp, nonce, encrypt)

    def _check(self, msg_signature: str | None, timestamp: str | None, nonce: str | None, encrypt: str) -> None:
        if not msg_signature or timestamp is None or nonce is None:
            raise BadSignature("signature", "missing msg_signature, timestamp or nonce")
        expected = self.signature(timestamp, nonce, encrypt).encode("ascii")
        if not hmac.compare_digest(expected, str(msg_signature).lower().encode("utf-8")):
            raise BadSignature("signature")

    # ---------------------------------------------------------------- incoming

    def verify_url(self, msg_signature: str | None, timestamp: str | None, nonce: str | None,
                   echostr: str | None) -> str:
        """Answer the GET URL check (doc 90238): verify, decrypt echostr, return the plaintext to echo."""
        if not echostr:
            raise MalformedPayload("echostr", "missing")
        return self.decrypt(msg_signature, timestamp, nonce, normalize_echostr(echostr))

    def decrypt(self, msg_signature: str | None, timestamp: str | None, nonce: str | None, encrypt: str) -> str:
        """Verify the signature of one Encrypt value, then decrypt it and check the receive id."""
        self._check(msg_signature, timestamp, nonce, encrypt)
        return self._decrypt(encrypt)

    def decrypt_body(self, body: bytes, msg_signature: str | None, timestamp: str | None,
                     nonce: str | None) -> str:
        """Decrypt a callback POST body (the `<xml><Encrypt>` envelope of doc 90238)."""
        return self.decrypt(msg_signature, timestamp, nonce, envelope_encrypt(body))

    def _decrypt(self, encrypt: str) -> str:
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedPayload("base64") from None
        if not raw or len(raw) % 16:
            raise MalformedPayload("base64", "ciphertext is not whole AES blocks")
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).decryptor()
        plain = _unpad(decryptor.update(raw) + decryptor.finalize())
        if len(plain) < PREFIX + 4:
            raise MalformedPayload("length", "shorter than the fixed header")
        (size,) = struct.unpack(">I", plain[PREFIX:PREFIX + 4])
        start = PREFIX + 4
        if start + size > len(plain):
            raise MalformedPayload("length", "message length past the end")
        msg, receiver = plain[start:start + size], plain[start + size:]
        try:
            text, receiver_text = msg.decode("utf-8"), receiver.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPayload("encoding", "not UTF-8") from None
        if not hmac.compare_digest(receiver_text.encode("utf-8"), self.receive_id.encode("utf-8")):
            raise WrongReceiver("receive_id")
        return text

    # ---------------------------------------------------------------- outgoing

    def encrypt(self, plaintext: str, nonce: str, timestamp: str,
                random_prefix: bytes | None = None) -> tuple[str, str]:
        """Encrypt one message; returns (Encrypt base64, msg_signature)."""
        prefix = _random_prefix() if random_prefix is None else bytes(random_prefix)
        if len(prefix) != PREFIX:
            raise ValueError("random prefix must be 16 bytes")
        msg = plaintext.encode("utf-8")
        data = prefix + struct.pack(">I", len(msg)) + msg + self.receive_id.encode("utf-8")
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).encryptor()
        encrypt = base64.b64encode(encryptor.update(_pad(data)) + encryptor.finalize()).decode("ascii")
        return encrypt, self.signature(str(timestamp), str(nonce), encrypt)

    def encrypt_reply(self, plaintext: str, nonce: str, timestamp: str,
                      random_prefix: bytes | None = None) -> str:
        """The encrypted passive reply XML (doc 90238 §被动回复)."""
        encrypt, sig = self.encrypt(plaintext, nonce, timestamp, random_prefix)
        return REPLY_TEMPLATE.format(encrypt=encrypt, signature=sig, timestamp=timestamp, nonce=nonce)

    def signed_envelope(self, plaintext: str, nonce: str, timestamp: str, agent_id: str | int | None,
                        random_prefix: bytes | None = None) -> tuple[bytes, str]:
        """The callback POST body the host sends, and the msg_signature that goes in its query string."""
        encrypt, sig = self.encrypt(plaintext, nonce, timestamp, random_prefix)
        body = ENVELOPE_TEMPLATE.format(to=self.receive_id, agent_id="" if agent_id is None else agent_id,
                                        encrypt=encrypt)
        return body.encode("utf-8"), sig

    def envelope(self, plaintext: str, nonce: str, timestamp: str, agent_id: str | int | None,
                 random_prefix: bytes | None = None) -> bytes:
        """The callback POST body the host sends (sign it with `signature` over its Encrypt value)."""
        return self.signed_envelope(plaintext, nonce, timestamp, agent_id, random_prefix)[0]


def normalize_echostr(echostr: str) -> str:
    """Undo what a URL decoder may have done, or not done, to the base64 echostr."""
    if "%" in echostr:
        echostr = unquote(echostr)
    # a form decoder turns the literal '+' of base64 into a space; base64 has no spaces, so this is lossless
    return echostr.replace(" ", "+")


def envelope_encrypt(body: bytes | str) -> str:
    """The Encrypt value of a callback POST body; MalformedPayload when it is missing or the XML is bad."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except DefusedXmlException:
        raise MalformedPayload("xml_entities") from None
    except (ParseError, ValueError, TypeError):
        raise MalformedPayload("xml", "envelope is not XML") from None
    node = root.find("Encrypt")
    if node is None or not (node.text or "").strip():
        raise MalformedPayload("no_encrypt", "envelope has no Encrypt")
    return node.text.strip()
