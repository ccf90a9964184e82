"""The control surface: create and change corps, move the clock, seed organisations, play scenarios.

`Control(sandbox)` is the surface in-process (the product and the tests call it); `control_bp` serves the same
as JSON under `/_control/...` of the sandbox's app, guarded by the app's `SANDBOX_CONTROL_TOKEN` when set.
"""
from __future__ import annotations

import secrets
import string
import threading
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy import select

from sandbox import delivery, scenarios, seed
from sandbox.core import CORP_FIELDS, PLATFORMS, Base, Corp
from sandbox.state import Sandbox


def new_aes_key() -> str:
    """A 43-character EncodingAESKey, alphanumeric like the ones the hosts' consoles generate."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))


class StaleDatabase(RuntimeError):
    """The sandbox's database was made by an older sandbox: a table lacks columns this one needs."""


def check_schema(engine) -> None:
    """The sandbox creates its tables but never migrates them (its data is emulated): say plainly when a database
    from an older version lacks columns, instead of failing later on the first query that reads them."""
    from sqlalchemy import inspect

    found = inspect(engine)
    for table in Base.metadata.sorted_tables:
        have = {c["name"] for c in found.get_columns(table.name)}
        missing = sorted(set(table.c.keys()) - have)
        if missing:
            raise StaleDatabase(
                f"the sandbox database {engine.url.render_as_string(hide_password=True)} was made by an older "
                f"version (table {table.name} lacks {', '.join(missing)}): delete it (for the embedded default: "
                f"`rm instance/sandbox.db instance/scrm.db`, then `make run`) so it is created afresh")


class Control:
    """Create and change corps, move the clock, seed data and play scenarios; the product calls this in-process."""

    def __init__(self, sandbox: Sandbox):
        Base.metadata.create_all(sandbox.db.engine)  # every table is declared once this module is imported
        check_schema(sandbox.db.engine)
        self.sandbox = sandbox
        self.db = sandbox.db

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
        self.sandbox.gate.reset(corp_id)
        return self.update_corp(corp_id, limits=current)

    def advance(self, seconds: float) -> float:
        self.db.clock.advance(seconds)
        return self.db.clock.time()

    def reset_clock(self) -> float:
        self.db.clock.reset()
        return self.db.clock.time()

    def calls(self, corp_id: str) -> dict[str, int]:
        """How many times each API was called for the corp by this process's server (e.g. gettoken)."""
        return self.sandbox.gate.counts(corp_id)

    def seed(self, corp_id: str, **params: Any) -> dict[str, int]:
        return seed.seed(self.db, self.corp(corp_id), **params)

    def play(self, corp_id: str, name: str, /, *, wait: bool = False, background: bool = False,
             **params: Any) -> dict[str, Any]:
        """Run a scenario; background=True returns at once (a paced scan can take a minute)."""
        corp = self.corp(corp_id)
        known = scenarios.ACTIONS["wecom"]  # a DingTalk corp's play names its unknown action itself
        if corp.platform == "wecom" and name not in known:
            raise ValueError(f"unknown scenario {name!r}; known: {', '.join(sorted(known))}")
        if background:
            threading.Thread(target=scenarios.play, args=(self.sandbox, corp, name), kwargs=params, daemon=True,
                             name=f"sbx-play-{name}").start()
            return {"scenario": name, "background": True}
        return scenarios.play(self.sandbox, corp, name, wait=wait, **params)

    def deliveries(self, corp_id: str, limit: int = 100) -> list[dict[str, Any]]:
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
