"""Connect corps (tenants) and find the host connector for one."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import delete, func, select

from scrm.db import transactional, unit_of_work
from scrm.errors import Conflict, NotFound, ValidationError
from scrm.extensions import db
from scrm.host import CorpAccess, Host, HostCredentialsError, HostUnavailable, platforms
from scrm.models import PLATFORMS, Corp, utcnow

_AES_KEY = re.compile(r"^[A-Za-z0-9]{43}$")
_TOKEN = re.compile(r"^[A-Za-z0-9]{1,32}$")


def _validate(platform: str, name: str, corp_id: str, secret: str, agent_id: str | None, app_key: str | None,
              callback_token: str | None, callback_aes_key: str | None, api_base: str | None) -> None:
    if platform not in PLATFORMS:
        raise ValidationError("platform", f"must be one of {', '.join(PLATFORMS)}")
    for field, value in (("name", name), ("corp_id", corp_id), ("secret", secret)):
        if not value or not value.strip():
            raise ValidationError(field, "is required")
    if platform == "dingtalk" and not app_key:
        raise ValidationError("app_key", "is required for DingTalk (the app's Client ID)")
    if platform == "wecom" and not agent_id:
        raise ValidationError("agent_id", "is required for WeCom (the self-built app's AgentId)")
    if callback_aes_key is not None and not _AES_KEY.match(callback_aes_key):
        raise ValidationError("callback_aes_key", "must be the 43 letters and digits of the EncodingAESKey")
    if callback_token is not None and not _TOKEN.match(callback_token):
        raise ValidationError("callback_token", "must be 1 to 32 letters and digits")
    if api_base is not None and not re.match(r"^https?://", api_base):
        raise ValidationError("api_base", "must be an http(s) URL")


@transactional
def register_corp(*, platform: str, name: str, corp_id: str, secret: str, agent_id: str | None = None,
                  app_key: str | None = None, callback_token: str | None = None,
                  callback_aes_key: str | None = None, api_base: str | None = None,
                  options: dict | None = None, corp_key: str | None = None) -> Corp:
    """Register a corp with its credentials sealed at rest."""
    _validate(platform, name, corp_id, secret, agent_id, app_key, callback_token, callback_aes_key, api_base)
    exists = db.session.scalar(select(Corp).where(Corp.platform == platform, Corp.corp_id == corp_id))
    if exists:
        raise Conflict(f"{platform} corp {corp_id} is already registered as {exists.corp_key}")
    corp = Corp(platform=platform, name=name.strip(), corp_id=corp_id.strip(), agent_id=agent_id,
                app_key=app_key, secret=secret, callback_token=callback_token,
                callback_aes_key=callback_aes_key, api_base=api_base.rstrip("/") if api_base else None,
                options=options or {})
    if corp_key:
        if not re.match(r"^[a-z0-9-]{3,32}$", corp_key):
            raise ValidationError("corp_key", "must be 3 to 32 lowercase letters, digits or dashes")
        corp.corp_key = corp_key
    db.session.add(corp)
    db.session.flush()
    return corp


_UNSET = object()
UPDATABLE = ("name", "secret", "callback_token", "callback_aes_key", "agent_id", "app_key", "api_base")


def update_corp(corp_key: str, **changes) -> Corp:
    """Change a corp's name, credentials or API root (`api_base=None`: the real host), validated as at
    registration. A new secret (or corp API root) drops the corp's cached access token, so the next call fetches
    one with the new credentials."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise ValidationError(sorted(unknown)[0], "cannot be changed")
    with unit_of_work():
        corp = get_corp(corp_key)
        merged = {f: getattr(corp, f) for f in UPDATABLE}
        merged.update({k: v.strip() if isinstance(v, str) else v for k, v in changes.items()})
        if merged["api_base"]:
            merged["api_base"] = merged["api_base"].rstrip("/")
        _validate(corp.platform, merged["name"], corp.corp_id, merged["secret"], merged["agent_id"],
                  merged["app_key"], merged["callback_token"], merged["callback_aes_key"], merged["api_base"])
        token_changes = any(k in changes and merged[k] != getattr(corp, k) for k in ("secret", "app_key", "api_base",
                                                                                     "agent_id"))
        for field, value in merged.items():
            if getattr(corp, field) != value:
                setattr(corp, field, value)
    if token_changes:
        forget_token(corp)
    return corp


def forget_token(corp: Corp) -> None:
    """Drop the corp's cached host access token (the connectors keep it as `<platform>:<corp_key>:token`)."""
    runtime = current_app.extensions.get("scrm.host_runtime")
    if runtime is not None:
        runtime.tokens.delete(f"{corp.platform}:{corp.corp_key}:token")


def _corp_tables():
    """Every table holding a corp's rows, children first, each with how its rows are found: its own corp_id column,
    or the foreign key to a table that has one (a link table such as channel_member)."""
    from scrm.models import Base

    found = []
    for table in reversed(Base.metadata.sorted_tables):
        if table.name == Corp.__tablename__:
            continue
        if "corp_id" in table.c:
            found.append((table, None))
            continue
        for fk in table.foreign_keys:
            if "corp_id" in fk.column.table.c:
                found.append((table, fk))
                break
    return found


def _corp_rows(table, fk, corp_id: int):
    if fk is None:
        return table.c.corp_id == corp_id
    parent = fk.column.table
    return fk.parent.in_(select(fk.column).where(parent.c.corp_id == corp_id))


REMOVAL_COUNTS = ("customer", "relationship", "employee", "channel", "api_token", "inbox_event", "followup",
                  "group_chat", "tag")


def removal_counts(corp: Corp) -> dict[str, int]:
    """What removing the corp deletes, counted by table (the tables an admin knows by name)."""
    counts = {}
    for table, fk in _corp_tables():
        if table.name in REMOVAL_COUNTS:
            counts[table.name] = db.session.scalar(select(func.count()).select_from(table)
                                                   .where(_corp_rows(table, fk, corp.id))) or 0
    return {name: counts.get(name, 0) for name in REMOVAL_COUNTS}


def remove_corp(corp_key: str) -> dict[str, int]:
    """Delete the corp and everything of it in one transaction (its tokens stop working at once); returns the rows
    deleted by table. Its contact ways stay on the host: delete its channels first to remove them there too."""
    with unit_of_work():
        corp = get_corp(corp_key)
        deleted = {}
        for table, fk in _corp_tables():
            result = db.session.execute(delete(table).where(_corp_rows(table, fk, corp.id)))
            if result.rowcount:
                deleted[table.name] = result.rowcount
        db.session.execute(delete(Corp.__table__).where(Corp.__table__.c.id == corp.id))
        db.session.expunge(corp)
    forget_token(corp)
    return deleted


def get_corp(corp_key: str) -> Corp:
    corp = db.session.scalar(select(Corp).where(Corp.corp_key == corp_key))
    if corp is None:
        raise NotFound(f"no corp with key {corp_key}")
    return corp


def list_corps() -> list[Corp]:
    return list(db.session.scalars(select(Corp).order_by(Corp.id)))


def callback_url(corp: Corp) -> str:
    """The URL to paste into the host console's callback (event subscription) settings."""
    return f"{current_app.config['BASE_URL']}/callbacks/{corp.platform}/{corp.corp_key}"


def describe(corp: Corp) -> dict:
    """Public facts about a corp (never its secrets)."""
    return {
        "corp_key": corp.corp_key, "platform": corp.platform, "name": corp.name, "corp_id": corp.corp_id,
        "agent_id": corp.agent_id, "app_key": corp.app_key, "api_base": corp.api_base,
        "callback_url": callback_url(corp), "created_at": corp.created_at.isoformat() + "Z",
    }


def corp_zone(corp: Corp) -> ZoneInfo:
    """The corp's time zone (option `timezone`, default Asia/Shanghai): days and working hours are local."""
    return ZoneInfo((corp.options or {}).get("timezone") or "Asia/Shanghai")


def local_now(corp: Corp, now: datetime | None = None) -> datetime:
    """The corp's wall-clock time (naive UTC in, local out)."""
    return (now or utcnow()).replace(tzinfo=timezone.utc).astimezone(corp_zone(corp))


def start_of_day(corp: Corp, now: datetime | None = None) -> datetime:
    """The start of the corp's local day, as naive UTC like every column: daily caps count from here."""
    midnight = local_now(corp, now).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(timezone.utc).replace(tzinfo=None)


def corp_access(corp: Corp) -> CorpAccess:
    return CorpAccess(corp_key=corp.corp_key, platform=corp.platform, corp_id=corp.corp_id,
                      agent_id=corp.agent_id, secret=corp.secret, app_key=corp.app_key,
                      callback_token=corp.callback_token, callback_aes_key=corp.callback_aes_key,
                      api_base=corp.api_base, options=dict(corp.options or {}))


def host_for(corp: Corp) -> Host:
    """The host connector for this corp (WeCom, DingTalk, or whatever a test installed)."""
    return platforms().host_for(corp_access(corp))


PLATFORM_NAMES = {"wecom": "WeCom", "dingtalk": "DingTalk"}


def host_problem(exc: Exception, corp: Corp | None = None) -> str:
    """One line that says what went wrong talking to a host and what to do about it."""
    key = corp.corp_key if corp is not None else "KEY"
    name = PLATFORM_NAMES.get(getattr(corp, "platform", ""), "the host")
    if isinstance(exc, HostCredentialsError):
        what = "app secret" if getattr(corp, "platform", "") == "dingtalk" else "corp secret"
        return f"{name} refused the {what} ({exc.errcode}): run scrm corp update {key} --secret"
    if isinstance(exc, HostUnavailable) and exc.unreachable:
        where = exc.url or (corp.api_base if corp is not None and corp.api_base else "the host")
        if corp is not None and corp.api_base:
            todo = "is the service (`make run`) running at that address?"
        else:
            todo = "check this server's network access to it (DNS, proxy, firewall), then try again"
        return f"cannot reach the host at {where} ({exc.errmsg or exc.errcode}): {todo}"
    return f"{name} answered an error at {getattr(exc, 'api', None) or 'the host'}: " \
           f"{getattr(exc, 'errcode', '')} {getattr(exc, 'errmsg', '')}".rstrip()
