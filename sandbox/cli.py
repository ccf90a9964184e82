"""`sandbox` commands: serve the emulator, create corps, seed organisations, play scenarios, move the clock."""
from __future__ import annotations

import json
import os
import time
from typing import Any

import click

from sandbox.app import create_sandbox_app, open_sandbox
from sandbox.control import Control

DEFAULT_DB = "sqlite:///instance/sandbox.db"


def _db_url(explicit: str | None) -> str:
    """--db, else the product's sandbox database (its setting SCRM_SANDBOX_DATABASE_URL, when these commands run
    as `scrm sandbox …`), else instance/sandbox.db."""
    if explicit:
        return explicit
    from flask import current_app, has_app_context

    if has_app_context() and current_app.config.get("SANDBOX_DATABASE_URL"):
        return current_app.config["SANDBOX_DATABASE_URL"]
    return DEFAULT_DB


def _control(db: str | None) -> Control:
    url = _db_url(db)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        os.makedirs(os.path.dirname(url[len("sqlite:///"):]) or ".", exist_ok=True)
    return Control(open_sandbox(url))


def _corp_id(control: Control, value: str) -> str:
    """A sandbox corp id, or the product's corp_key of a corp connected to the sandbox (mapped by the product)."""
    from flask import current_app, has_app_context

    try:
        return control.corp(value).corp_id
    except LookupError:
        alias = current_app.extensions.get("sandbox.corp_alias") if has_app_context() else None
        return (alias(value) if alias else None) or value


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


db_option = click.option("--db", "db", default=None, help="sandbox database URL (default: the product's)")


@click.group("sandbox")
def sandbox() -> None:
    """The WeCom / DingTalk emulator."""


@sandbox.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5050, show_default=True, type=int)
@db_option
def serve(host: str, port: int, db: str | None) -> None:
    """Serve the sandbox standalone (WeCom at /wecom, DingTalk at /dingtalk, control at /_control)."""
    from werkzeug.serving import run_simple

    url = _db_url(db)
    _control(url)
    click.echo(f"sandbox on http://{host}:{port}  (database {url.split('@')[-1]})")
    run_simple(host, port, create_sandbox_app(url), threaded=True, use_reloader=False)


@sandbox.command("create-corp")
@click.option("--platform", type=click.Choice(["wecom", "dingtalk"]), default="wecom", show_default=True)
@click.option("--corp", "corp_id", default=None, help="corp id (generated when left out)")
@click.option("--callback-url", default=None)
@click.option("--token-ttl", default=None, type=int)
@db_option
def create_corp(platform: str, corp_id: str | None, callback_url: str | None, token_ttl: int | None,
                db: str | None) -> None:
    """Create a sandbox corp and print its credentials."""
    fields = {k: v for k, v in {"callback_url": callback_url, "token_ttl": token_ttl}.items() if v is not None}
    _echo(_control(db).create_corp(platform, corp_id=corp_id, **fields).as_dict())


@sandbox.command()
@click.option("--corp", "corp_id", required=True, help="the product's corp_key, or the sandbox corp id")
@click.option("--customers", default=300, show_default=True, type=int)
@click.option("--employees", default=20, show_default=True, type=int)
@click.option("--seed", "rng_seed", default=None, type=int, help="random seed, for a repeatable organisation")
@db_option
def seed(corp_id: str, customers: int, employees: int, rng_seed: int | None, db: str | None) -> None:
    """Build a believable organisation (bulk inserts: 100,000 customers in minutes)."""
    started = time.monotonic()
    try:
        control = _control(db)
        counts = control.seed(_corp_id(control, corp_id), employees=employees, customers=customers, rng=rng_seed)
    except LookupError as exc:
        raise click.ClickException(f"{exc}; create it first with `sandbox create-corp`") from None
    _echo({**counts, "seconds": round(time.monotonic() - started, 1)})


@sandbox.command()
@click.argument("scenario")
@click.option("--corp", "corp_id", required=True, help="the product's corp_key, or the sandbox corp id")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="scenario parameter, e.g. -p customers=200 -p codes=3 -p over=60")
@click.option("--channel", "channel_id", type=int, default=None,
              help="scan: customers scan this channel of the product (its id; -p customers=N)")
@click.option("--wait/--no-wait", default=True, show_default=True, help="wait for the callbacks to be delivered")
@db_option
def play(scenario: str, corp_id: str, params: tuple[str, ...], channel_id: int | None, wait: bool,
         db: str | None) -> None:
    """Play a scenario or a single action (scan, churn, leave, join, tag_edit, group_chat, refuse_transfer, ...).

    `scan --channel ID` has customers scan one of the product's channels (run it as `scrm sandbox play`)."""
    kwargs: dict[str, Any] = {}
    for item in params:
        key, sep, raw = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--param")
        kwargs[key.strip()] = _value(raw)
    if channel_id is not None:
        _play_channel(scenario, corp_id, channel_id, kwargs, wait)
        return
    try:
        control = _control(db)
        result = control.play(_corp_id(control, corp_id), scenario, wait=wait, **kwargs)
    except (LookupError, ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None
    _echo(result)


def _play_channel(scenario: str, corp: str, channel_id: int, kwargs: dict[str, Any], wait: bool) -> None:
    from flask import current_app, has_app_context

    scan = current_app.extensions.get("sandbox.channel_scan") if has_app_context() else None
    if scenario != "scan":
        raise click.UsageError("--channel goes with the scan action only")
    if scan is None:
        raise click.UsageError("--channel names a channel of the product: run this as `scrm sandbox play`")
    unknown = set(kwargs) - {"customers", "over"}
    if unknown:
        raise click.UsageError(f"scan --channel takes -p customers=N and -p over=SECONDS, not {sorted(unknown)}")
    try:
        _echo(scan(corp, channel_id, wait=wait, **kwargs))
    except (LookupError, ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None


@sandbox.command()
@click.argument("seconds", type=float)
@db_option
def advance(seconds: float, db: str | None) -> None:
    """Move the sandbox clock forward (token expiry, welcome codes, 24 h takeovers)."""
    _echo({"now": _control(db).advance(seconds)})
