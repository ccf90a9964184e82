"""WeCom callback crypto (doc 91144): SHA1 signature, AES-256-CBC with IV = key[:16], PKCS#7 to 32-byte blocks.

Wire-compatible with `wechatpy.enterprise.crypto.WeChatCrypto`, but stricter: the signature compare is
constant-time, the random prefix comes from a CSPRNG, and every malformed field raises a typed error instead of
an IndexError or a silently wrong plaintext.
"""
from __future__ import annotations

import hmac
from urllib.parse import unquote

from connectors import framing
from connectors.wecom.events import read_fields  # the envelope is read as hardened as the events
from connectors.framing import signature  # noqa: F401  (part of this module's interface)
from scrm.host import MalformedPayload, WrongReceiver

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


class WeComCrypto:
    """Encrypt, decrypt and sign WeCom callbacks for one receive id (corp id, suite id, or "" for robots)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str):
        self._key = framing.aes_key(encoding_aes_key)
        self._token = token
        self.receive_id = receive_id

    def __repr__(self) -> str:
        return f"WeComCrypto({self.receive_id!r})"

    # ---------------------------------------------------------------- signatures

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        """The msg_signature of one encrypted value."""
        return framing.signature(self._token, timestamp, nonce, encrypt)

    # ---------------------------------------------------------------- incoming

    def verify_url(self, msg_signature: str | None, timestamp: str | None, nonce: str | None,
                   echostr: str | None) -> str:
        """Answer the GET URL check (doc 90238): verify, decrypt echostr, return the plaintext to echo."""
        if not echostr:
            raise MalformedPayload("echostr", "missing")
        return self.decrypt(msg_signature, timestamp, nonce, normalize_echostr(echostr))

    def decrypt(self, msg_signature: str | None, timestamp: str | None, nonce: str | None, encrypt: str) -> str:
        """Verify the signature of one Encrypt value, then decrypt it and check the receive id."""
        framing.check_signature(self._token, msg_signature, timestamp, nonce, encrypt)
        text, receiver = framing.unseal(self._key, encrypt)
        if not hmac.compare_digest(receiver.encode("utf-8"), self.receive_id.encode("utf-8")):
            raise WrongReceiver("receive_id")
        return text

    def decrypt_body(self, body: bytes, msg_signature: str | None, timestamp: str | None,
                     nonce: str | None) -> str:
        """Decrypt a callback POST body (the `<xml><Encrypt>` envelope of doc 90238)."""
        return self.decrypt(msg_signature, timestamp, nonce, envelope_encrypt(body))

    # ---------------------------------------------------------------- outgoing

    def encrypt(self, plaintext: str, nonce: str, timestamp: str,
                random_prefix: bytes | None = None) -> tuple[str, str]:
        """Encrypt one message; returns (Encrypt base64, msg_signature)."""
        encrypt = framing.seal(self._key, plaintext, self.receive_id, random_prefix)
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
    encrypt = read_fields(body).get("Encrypt")
    if not isinstance(encrypt, str) or not encrypt:
        raise MalformedPayload("no_encrypt", "envelope has no Encrypt")
    return encrypt
