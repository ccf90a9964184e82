"""The embedded default's host emulator: the top-level `sandbox` package mounted at /sandbox of the same server,
its `sandbox` commands, and sandbox corps connected to the product the way an admin connects a real corp."""
from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from scrm.config import ConfigError

#: The host emulator (the top-level `sandbox` package) lives in the checkout only: the embedded default and the tests
#: use it, a production install and image leave it out. So it is imported here, when asked for, and never above.
SANDBOX_MISSING = ("the sandbox (host emulator) is not installed here: production installs leave it out; "
                   "use a development checkout (`make setup`)")


def _sandbox_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("sandbox") is not None


def mount_sandbox(app: Flask) -> None:
    """Serve the host emulator under /sandbox of the same server (embedded mode and demos)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    if not _sandbox_installed():
        raise ConfigError(f"SCRM_SANDBOX is on but {SANDBOX_MISSING}")
    from sandbox.app import create_sandbox_app

    sandbox = create_sandbox_app(app.config["SANDBOX_DATABASE_URL"])
    app.extensions["scrm.sandbox"] = sandbox
    app.extensions["sandbox.corp_alias"] = _host_corp_id
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/sandbox": sandbox})


def sandbox_commands() -> click.Command:
    """The `sandbox` command group, with `connect`; where the sandbox is not installed, a command saying so."""
    if not _sandbox_installed():
        @click.command("sandbox", context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
                       add_help_option=False)
        def sandbox_missing() -> None:
            """The WeCom / DingTalk emulator (not installed here)."""
            raise click.ClickException(SANDBOX_MISSING)

        return sandbox_missing
    from sandbox.cli import sandbox as sandbox_group

    sandbox_group.add_command(sandbox_connect_command)
    return sandbox_group


def _host_corp_id(corp_key: str) -> str | None:
    """The host corp id behind one of our corp keys (lets sandbox commands take a corp_key)."""
    from scrm.errors import NotFound
    from scrm.services import corps

    try:
        return corps.get_corp(corp_key).corp_id
    except NotFound:
        return None


def connect_sandbox_corp(app: Flask, platform: str, *, employees: int = 20, customers: int = 300) -> dict:
    """Create a sandbox corp, seed it, and connect it to this product like an admin connects a real one."""
    from scrm.services import corps

    control = app.extensions["scrm.sandbox"].extensions["sandbox_control"]
    sbx = control.create_corp(platform)
    corp = corps.register_corp(
        platform=platform, name=f"{sbx.name}（沙箱）", corp_id=sbx.corp_id, agent_id=sbx.agent_id,
        app_key=sbx.app_key, secret=sbx.secret, callback_token=sbx.callback_token,
        callback_aes_key=sbx.callback_aes_key, api_base=f"{app.config['BASE_URL']}/sandbox/{platform}")
    control.update_corp(sbx.corp_id, callback_url=corps.callback_url(corp))
    counts = control.seed(sbx.corp_id, employees=employees, customers=customers)
    return {**corps.describe(corp), "seeded": counts}


@click.command("connect")
@click.option("--platform", type=click.Choice(["wecom", "dingtalk", "both"]), default="both", show_default=True)
@click.option("--employees", default=20, show_default=True)
@click.option("--customers", default=300, show_default=True)
@click.option("--if-empty", is_flag=True, help="do nothing when a corp is already connected")
@with_appcontext
def sandbox_connect_command(platform, employees, customers, if_empty):
    """Create, seed and connect sandbox corps (the emulated hosts mounted at /sandbox)."""
    from scrm.services import corps

    app = current_app._get_current_object()
    if "scrm.sandbox" not in app.extensions:
        raise click.ClickException("the sandbox is off (SCRM_SANDBOX=0)")
    if if_empty and corps.list_corps():
        return
    for name in (["wecom", "dingtalk"] if platform == "both" else [platform]):
        info = connect_sandbox_corp(app, name, employees=employees, customers=customers)
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
