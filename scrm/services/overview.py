"""What is running and what is connected: the facts the home page (`/`) shows a newcomer to the embedded default.

Read only, and never a secret: the database and broker locations come back with credentials and the user's home
masked, corps with their public facts (`corps.describe`), counts and the last sync, channels with their public code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from scrm.config import PROJECT_ROOT
from scrm.extensions import db
from scrm.models import Channel, Corp, Customer, Employee, SyncRun
from scrm.services import corps

#: how many channels of one corp the page lists (the newest first); the count says how many there are in all
CHANNELS_SHOWN = 10


@dataclass(frozen=True)
class ChannelFacts:
    id: int
    name: str
    status: str
    state: str
    code: str
    landing_path: str | None  # our own landing page (DingTalk: no host QR); None when the host serves the QR
    has_host_qr: bool


@dataclass(frozen=True)
class SyncFacts:
    status: str  # running | done | failed
    at: datetime  # when it finished, or when it started while running; in the corp's time zone
    error: str | None


@dataclass(frozen=True)
class CorpFacts:
    corp_key: str
    name: str
    platform: str
    corp_id: str
    callback_url: str
    on_sandbox: bool  # its api_base points to this server's /sandbox
    employees: int
    customers: int
    channels: int
    last_sync: SyncFacts | None
    shown_channels: list[ChannelFacts] = field(default_factory=list)


@dataclass(frozen=True)
class Overview:
    database: str  # masked: a kind and a location without credentials
    database_kind: str  # sqlite | mysql | …
    tasks_in_process: bool
    broker: str | None  # masked, when tasks go through one
    sandbox: bool
    base_url: str
    corps: list[CorpFacts]


def mask_url(url: str) -> str:
    """A database or broker URL safe to show: no user or password; a SQLite file inside the checkout relative to
    it, one elsewhere by its name only."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "（无法解析的地址）"
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return "sqlite（内存）"
        path = Path(parsed.database)
        try:
            return f"sqlite:///{path.resolve().relative_to(PROJECT_ROOT)}"
        except ValueError:
            return f"sqlite:///…/{path.name}"
    host = parsed.host or ""
    port = f":{parsed.port}" if parsed.port else ""
    name = f"/{parsed.database}" if parsed.database else ""
    user = "***@" if parsed.username or parsed.password else ""
    return f"{parsed.drivername}://{user}{host}{port}{name}"


def _counts(column, *where) -> dict[int, int]:
    query = select(column, func.count()).group_by(column)
    for clause in where:
        query = query.where(clause)
    return {corp_id: n for corp_id, n in db.session.execute(query)}


def _last_syncs() -> dict[int, SyncRun]:
    newest = select(func.max(SyncRun.id)).group_by(SyncRun.corp_id).scalar_subquery()
    return {run.corp_id: run for run in db.session.scalars(select(SyncRun).where(SyncRun.id.in_(newest)))}


def _channels(corp: Corp) -> list[ChannelFacts]:
    rows = db.session.scalars(select(Channel).where(Channel.corp_id == corp.id, Channel.status != "deleted")
                              .order_by(Channel.id.desc()).limit(CHANNELS_SHOWN))
    return [ChannelFacts(id=c.id, name=c.name, status=c.status, state=c.state, code=c.code,
                         landing_path=None if c.qr_url else f"/h5/c/{c.code}", has_host_qr=bool(c.qr_url))
            for c in rows]


def overview() -> Overview:
    """The running mode and every connected corp, with counts, last sync and newest channels (a few queries)."""
    config = current_app.config
    sandbox_root = f"{config['BASE_URL']}/sandbox"
    employees = _counts(Employee.corp_id, Employee.status == "active")
    customers = _counts(Customer.corp_id)
    channels = _counts(Channel.corp_id, Channel.status != "deleted")
    syncs = _last_syncs()
    found = []
    for corp in corps.list_corps():
        run = syncs.get(corp.id)
        last = None if run is None else SyncFacts(
            status=run.status, error=run.error,
            at=(run.finished_at or run.started_at).replace(tzinfo=timezone.utc).astimezone(corps.corp_zone(corp)))
        found.append(CorpFacts(
            corp_key=corp.corp_key, name=corp.name, platform=corp.platform, corp_id=corp.corp_id,
            callback_url=corps.callback_url(corp),
            on_sandbox=bool(corp.api_base and corp.api_base.startswith(sandbox_root + "/")),
            employees=employees.get(corp.id, 0), customers=customers.get(corp.id, 0),
            channels=channels.get(corp.id, 0), last_sync=last, shown_channels=_channels(corp)))
    database = config["SQLALCHEMY_DATABASE_URI"]
    eager = bool(config["TASKS_EAGER"])
    return Overview(
        database=mask_url(database), database_kind=make_url(database).get_backend_name(),
        tasks_in_process=eager, broker=None if eager or not config.get("BROKER_URL") else mask_url(
            config["BROKER_URL"]),
        sandbox="scrm.sandbox" in current_app.extensions, base_url=config["BASE_URL"], corps=found)
