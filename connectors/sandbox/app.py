"""The sandbox Flask app, its corps, the in-process rate/concurrency gate, and the control surface.

Hosts: `/wecom/cgi-bin/...` (connectors.sandbox.wecom) and `/dingtalk/...` (connectors.sandbox.dingtalk when present).
Control: `/_control/...` JSON, mirrored in-process by `Control(db)`.
"""
from __future__ import annotations

import importlib
import secrets
import string
import threading
import weakref
from collections import Counter
from contextlib import contextmanager
from typing import Any, Iterator

from flask import Blueprint, Flask, abort, current_app, jsonify, request
from sqlalchemy import JSON, Double, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from connectors.sandbox.core import Base, SandboxDB

PLATFORMS = ("wecom", "dingtalk")
DEFAULT_PER_MINUTE = 10000
CORP_FIELDS = ("name", "secret", "agent_id", "app_key", "callback_url", "callback_token", "callback_aes_key",
               "token_ttl", "limits")


class Corp(Base):
    """A sandbox tenant: a WeCom corp with one self-built app, or a DingTalk org with one app."""

    __tablename__ = "sbx_corp"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    corp_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    secret: Mapped[str] = mapped_column(String(128))
    agent_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    app_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    callback_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    callback_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    callback_aes_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    token_ttl: Mapped[int] = mapped_column(Integer, default=7200)
    limits: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Double, default=0.0)

    def __repr__(self) -> str:  # secrets stay out of logs
        return f"Corp({self.platform}:{self.corp_id})"

    def limit(self, key: str, default: Any) -> Any:
        return (self.limits or {}).get(key, default)

    def per_minute(self, api: str) -> int:
        """The per-minute budget of one API: a per-API override, else the corp's default, else 10000."""
        limits = self.limits or {}
        return int(limits.get(api, limits.get("per_minute", DEFAULT_PER_MINUTE)))

    def as_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "corp_id": self.corp_id, "id": self.id,
                **{f: getattr(self, f) for f in CORP_FIELDS}}


class Gate:
    """Per-corp API budgets per sandbox-clock minute, in-flight slots, and call counts (one server process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}
        self._inflight: Counter[tuple[str, str]] = Counter()
        self.calls: Counter[tuple[str, str]] = Counter()

    def hit(self, corp_id: str, api: str, budget: int, now: float) -> bool:
        """Count one call; False when the corp already spent this minute's budget for the API."""
        window = int(now // 60)
        with self._lock:
            self.calls[(corp_id, api)] += 1
            seen, count = self._windows.get((corp_id, api), (window, 0))
            if seen != window:
                count = 0
            if count >= budget:
                self._windows[(corp_id, api)] = (window, count)
                return False
            self._windows[(corp_id, api)] = (window, count + 1)
            return True

    @contextmanager
    def slot(self, corp_id: str, group: str, limit: int) -> Iterator[bool]:
        """Yield True while holding one of `limit` in-flight slots, False when all are taken."""
        key = (corp_id, group)
        with self._lock:
            granted = self._inflight[key] < limit
            if granted:
                self._inflight[key] += 1
        try:
            yield granted
        finally:
            if granted:
                with self._lock:
                    self._inflight[key] -= 1

    def counts(self, corp_id: str) -> dict[str, int]:
        with self._lock:
            return {api: n for (cid, api), n in self.calls.items() if cid == corp_id}

    def reset(self, corp_id: str | None = None, *, calls: bool = False) -> None:
        """Start the corp's budgets afresh (and its call counts when asked)."""
        with self._lock:
            for store in (self._windows, self.calls) if calls else (self._windows,):
                for key in [k for k in store if corp_id is None or k[0] == corp_id]:
                    del store[key]


_gates: "weakref.WeakKeyDictionary[SandboxDB, Gate]" = weakref.WeakKeyDictionary()
_gates_lock = threading.Lock()


def gate(db: SandboxDB) -> Gate:
    """The gate shared by every request served from this sandbox database object."""
    with _gates_lock:
        found = _gates.get(db)
        if found is None:
            found = _gates[db] = Gate()
        return found


def _host_modules() -> list[Any]:
    """Import every module that declares sandbox tables, so create_all sees them."""
    mods = [importlib.import_module("connectors.sandbox.wecom"), importlib.import_module("connectors.sandbox.delivery")]
    try:
        mods.append(importlib.import_module("connectors.sandbox.dingtalk"))
    except ModuleNotFoundError as exc:
        if exc.name != "connectors.sandbox.dingtalk":
            raise
    return mods


def open_db(url: str) -> SandboxDB:
    """Open (and create the tables of) a sandbox database."""
    _host_modules()
    return SandboxDB(url)


def new_aes_key() -> str:
    """A 43-character EncodingAESKey, alphanumeric like the ones the hosts' consoles generate."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))


class Control:
    """Create and change corps, move the clock, seed data and play scenarios; the product calls this in-process."""

    def __init__(self, db: SandboxDB):
        _host_modules()
        Base.metadata.create_all(db.engine)
        self.db = db

    def create_corp(self, platform: str = "wecom", *, corp_id: str | None = None, **fields: Any) -> Corp:
        if platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {PLATFORMS}")
        unknown = set(fields) - set(CORP_FIELDS)
        if unknown:
            raise ValueError(f"unknown corp fields: {sorted(unknown)}")
        wecom = platform == "wecom"
        corp = Corp(
            platform=platform,
            corp_id=corp_id or (f"ww{secrets.token_hex(8)}" if wecom else f"ding{secrets.token_hex(8)}"),
            name=fields.pop("name", None) or ("沙箱企业" if wecom else "沙箱组织"),
            secret=fields.pop("secret", None) or secrets.token_urlsafe(32),
            agent_id=str(fields.pop("agent_id", None) or (1000002 if wecom else secrets.randbelow(10**9) + 10**9)),
            app_key=fields.pop("app_key", None) or (None if wecom else f"ding{secrets.token_hex(8)}"),
            callback_token=fields.pop("callback_token", None) or secrets.token_hex(8),
            callback_aes_key=fields.pop("callback_aes_key", None) or new_aes_key(),
            token_ttl=int(fields.pop("token_ttl", None) or 7200),
            limits=dict(fields.pop("limits", None) or {}),
            callback_url=fields.pop("callback_url", None),
            created_at=self.db.clock.time(),
        )
        with self.db.session() as s:
            s.add(corp)
        return corp

    def corp(self, corp_id: str) -> Corp:
        with self.db.session() as s:
            corp = s.scalar(select(Corp).where(Corp.corp_id == corp_id))
        if corp is None:
            raise LookupError(f"no sandbox corp {corp_id!r}")
        return corp

    def corps(self) -> list[Corp]:
        with self.db.session() as s:
            return list(s.scalars(select(Corp).order_by(Corp.id)))

    def update_corp(self, corp_id: str, **fields: Any) -> Corp:
        unknown = set(fields) - set(CORP_FIELDS)
        if unknown:
            raise ValueError(f"unknown corp fields: {sorted(unknown)}")
        with self.db.session() as s:
            corp = s.scalar(select(Corp).where(Corp.corp_id == corp_id))
            if corp is None:
                raise LookupError(f"no sandbox corp {corp_id!r}")
            for key, value in fields.items():
                setattr(corp, key, value)
        self.db.generation.set(add=1)
        return corp

    def set_limits(self, corp_id: str, limits: dict[str, Any], *, replace: bool = False) -> Corp:
        """Change budgets: {"per_minute": n, "<api path>": n, "edit_concurrency": 5, "edit_service_time": s,
        "latency": {"<api path>": seconds}}."""
        current = {} if replace else dict(self.corp(corp_id).limits or {})
        current.update(limits)
        gate(self.db).reset(corp_id)
        return self.update_corp(corp_id, limits=current)

    def advance(self, seconds: float) -> float:
        self.db.clock.advance(seconds)
        return self.db.clock.time()

    def reset_clock(self) -> float:
        self.db.clock.reset()
        return self.db.clock.time()

    def calls(self, corp_id: str) -> dict[str, int]:
        """How many times each API was called for the corp by this process's server (e.g. gettoken)."""
        return gate(self.db).counts(corp_id)

    def seed(self, corp_id: str, **params: Any) -> dict[str, int]:
        from connectors.sandbox import seed

        return seed.seed(self.db, self.corp(corp_id), **params)

    def play(self, corp_id: str, name: str, /, *, wait: bool = False, background: bool = False,
             **params: Any) -> dict[str, Any]:
        """Run a scenario; background=True returns at once (a paced scan can take a minute)."""
        from connectors.sandbox import scenarios

        corp = self.corp(corp_id)
        if corp.platform == "wecom" and name not in scenarios.ACTIONS:
            raise ValueError(f"unknown scenario {name!r}; known: {', '.join(sorted(scenarios.ACTIONS))}")
        if background:
            threading.Thread(target=scenarios.play, args=(self.db, corp, name), kwargs=params, daemon=True,
                             name=f"sbx-play-{name}").start()
            return {"scenario": name, "background": True}
        return scenarios.play(self.db, corp, name, wait=wait, **params)

    def deliveries(self, corp_id: str, limit: int = 100) -> list[dict[str, Any]]:
        from connectors.sandbox import delivery

        return delivery.recent(self.db, corp_id, limit)


# ---------------------------------------------------------------- HTTP

control_bp = Blueprint("sandbox_control", __name__)


def _control() -> Control:
    return current_app.extensions["sandbox_control"]


@control_bp.before_request
def _guard() -> None:
    token = current_app.config.get("SANDBOX_CONTROL_TOKEN")
    if token and not secrets.compare_digest(request.headers.get("X-Sandbox-Token", ""), token):
        abort(403)


@control_bp.errorhandler(LookupError)
def _not_found(exc: LookupError):
    return jsonify(error=str(exc)), 404


@control_bp.errorhandler(ValueError)
@control_bp.errorhandler(TypeError)
def _bad_request(exc: Exception):
    return jsonify(error=str(exc)), 400


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


@control_bp.post("/corps")
def create_corp():
    body = _body()
    corp = _control().create_corp(body.pop("platform", "wecom"), corp_id=body.pop("corp_id", None), **body)
    return jsonify(corp.as_dict()), 201


@control_bp.get("/corps")
def list_corps():
    return jsonify(corps=[{"platform": c.platform, "corp_id": c.corp_id, "name": c.name} for c in _control().corps()])


@control_bp.get("/corps/<corp_id>")
def get_corp(corp_id: str):
    return jsonify(_control().corp(corp_id).as_dict())


@control_bp.patch("/corps/<corp_id>")
def update_corp(corp_id: str):
    return jsonify(_control().update_corp(corp_id, **_body()).as_dict())


@control_bp.put("/corps/<corp_id>/limits")
def set_limits(corp_id: str):
    body = _body()
    replace = bool(request.args.get("replace"))
    return jsonify(limits=_control().set_limits(corp_id, body, replace=replace).limits)


@control_bp.get("/corps/<corp_id>/calls")
def calls(corp_id: str):
    return jsonify(calls=_control().calls(corp_id))


@control_bp.get("/corps/<corp_id>/deliveries")
def deliveries(corp_id: str):
    return jsonify(deliveries=_control().deliveries(corp_id, int(request.args.get("limit", 100))))


@control_bp.post("/corps/<corp_id>/seed")
def seed_corp(corp_id: str):
    return jsonify(_control().seed(corp_id, **_body()))


@control_bp.post("/corps/<corp_id>/play/<name>")
def play(corp_id: str, name: str):
    body = _body()
    return jsonify(_control().play(corp_id, name, wait=bool(body.pop("wait", False)),
                                   background=bool(body.pop("background", False)), **body))


@control_bp.get("/clock")
def get_clock():
    return jsonify(now=_control().db.clock.time())


@control_bp.post("/clock")
def move_clock():
    body = _body()
    control = _control()
    now = control.reset_clock() if body.get("reset") else control.advance(float(body.get("advance", 0)))
    return jsonify(now=now)


def create_sandbox_app(db_url: str, *, control_token: str | None = None) -> Flask:
    """The sandbox as a WSGI app: mount it under /sandbox or serve it standalone."""
    modules = _host_modules()
    app = Flask("connectors.sandbox")
    app.config["SANDBOX_CONTROL_TOKEN"] = control_token
    app.json.ensure_ascii = False
    db = SandboxDB(db_url)
    app.extensions["sandbox"] = db
    app.extensions["sandbox_control"] = Control(db)
    for module in modules:
        bp = getattr(module, "bp", None)
        if bp is not None:
            app.register_blueprint(bp, url_prefix="/" + module.__name__.rsplit(".", 1)[1])
    app.register_blueprint(control_bp, url_prefix="/_control")
    return app
