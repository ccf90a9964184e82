"""A corp is a tenant: one WeCom corp or DingTalk org, with its app credentials sealed at rest."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from scrm.models.base import BigId, Base, HostId, MYSQL_TABLE, Sealed, utcnow

PLATFORMS = ("wecom", "dingtalk")


def new_corp_key() -> str:
    """The public key used in callback and H5 URLs: unguessable, URL-safe, no host id leaked, and never starting
    with '-' (a command line would read it as an option)."""
    while True:
        key = secrets.token_urlsafe(12)
        if not key.startswith("-"):
            return key


class Corp(Base):
    __tablename__ = "corp"
    __table_args__ = (UniqueConstraint("platform", "corp_id"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    corp_key: Mapped[str] = mapped_column(String(32), unique=True, default=new_corp_key)
    platform: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    corp_id: Mapped[str] = mapped_column(HostId)  # WeCom CorpID / DingTalk corpId
    agent_id: Mapped[str | None] = mapped_column(String(64))
    app_key: Mapped[str | None] = mapped_column(String(128))  # DingTalk Client ID (also the callback owner key)
    secret: Mapped[str] = mapped_column(Sealed)
    callback_token: Mapped[str | None] = mapped_column(Sealed)
    callback_aes_key: Mapped[str | None] = mapped_column(Sealed)
    api_base: Mapped[str | None] = mapped_column(String(255))  # None = the real host; else e.g. the sandbox
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Corp {self.platform}:{self.corp_key} {self.name!r}>"
