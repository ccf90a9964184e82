"""Encryption at rest for corp credentials, with a key derived from SCRM_SECRET_KEY."""
from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretBox:
    """Fernet (AES-128-CBC + HMAC-SHA256) keyed by HKDF(secret_key); values are tagged with a version prefix."""

    PREFIX = "v1:"

    def __init__(self, secret_key: str):
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"scrm-secret-box",
                       info=b"corp-credentials").derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, plaintext: str) -> str:
        return self.PREFIX + self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        if not sealed.startswith(self.PREFIX):
            raise ValueError("not a sealed value")
        try:
            return self._fernet.decrypt(sealed[len(self.PREFIX):].encode()).decode()
        except InvalidToken:
            raise ValueError("sealed value does not open with this SCRM_SECRET_KEY") from None
