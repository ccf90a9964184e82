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
    from sandbox.control import StaleDatabase

    try:
        sandbox = create_sandbox_app(app.config["SANDBOX_DATABASE_URL"])
    except StaleDatabase as exc:
        raise ConfigError(str(exc)) from None
    app.extensions["scrm.sandbox"] = sandbox
    app.extensions["sandbox.corp_alias"] = _host_corp_id
    app.extensions["sandbox.channel_scan"] = lambda corp, channel, **params: play_channel_scan(
        app, corp, channel, **params)
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


#: the sandbox corps' names (the product adds "（沙箱）" once) and the corp keys they are connected under, so the
#: README's examples can name them
SANDBOX_NAMES = {"wecom": "星火科技", "dingtalk": "云帆商贸"}
SANDBOX_KEYS = {"wecom": "sandbox-wecom", "dingtalk": "sandbox-dingtalk"}


def _control(app: Flask):
    return app.extensions["scrm.sandbox"].extensions["sandbox_control"]


def _sandbox_api_base(app: Flask, platform: str) -> str:
    return f"{app.config['BASE_URL']}/sandbox/{platform}"


def _free_key(wanted: str) -> str:
    from scrm.services import corps

    taken = {c.corp_key for c in corps.list_corps()}
    return next(key for key in (wanted, *(f"{wanted}-{n}" for n in range(2, 1000))) if key not in taken)


def connect_sandbox_corp(app: Flask, platform: str, *, employees: int = 20, customers: int = 300,
                         seed: int | None = None) -> dict:
    """Create a sandbox corp, seed it, and connect it to this product like an admin connects a real one."""
    from scrm.services import corps

    control = _control(app)
    sbx = control.create_corp(platform, name=SANDBOX_NAMES[platform])
    corp = corps.register_corp(
        platform=platform, name=f"{sbx.name}（沙箱）", corp_id=sbx.corp_id, agent_id=sbx.agent_id,
        app_key=sbx.app_key, secret=sbx.secret, callback_token=sbx.callback_token,
        callback_aes_key=sbx.callback_aes_key, api_base=_sandbox_api_base(app, platform),
        corp_key=_free_key(SANDBOX_KEYS[platform]))
    control.update_corp(sbx.corp_id, callback_url=corps.callback_url(corp))
    counts = control.seed(sbx.corp_id, employees=employees, customers=customers, rng=seed)
    return {**corps.describe(corp), "seeded": counts}


def sandbox_corps(app: Flask) -> list:
    """The product's corps that live in this sandbox (their host corp is one of its corps)."""
    from scrm.services import corps

    hosted = {(c.platform, c.corp_id) for c in _control(app).corps()}
    return [c for c in corps.list_corps() if (c.platform, c.corp_id) in hosted]


def follow_address(app: Flask) -> list[str]:
    """Point the sandbox corps at the address this server runs on, both ways: the product calls the emulated host
    at `<BASE_URL>/sandbox/<platform>`, the emulated host delivers callbacks to this server's callback URL. A
    sandbox connected on another port keeps working; the corp keys that were moved."""
    from scrm.services import corps

    control, moved = _control(app), []
    for corp in sandbox_corps(app):
        api_base, callback = _sandbox_api_base(app, corp.platform), corps.callback_url(corp)
        if corp.api_base != api_base or control.corp(corp.corp_id).callback_url != callback:
            corps.update_corp(corp.corp_key, api_base=api_base)
            control.update_corp(corp.corp_id, callback_url=callback)
            moved.append(corp.corp_key)
    return moved


def play_channel_scan(app: Flask, corp_value: str, channel_id: int, *, customers: int = 1, over: float = 0,
                      wait: bool = True) -> dict:
    """Customers scan one of the product's channels: on WeCom the sandbox plays scans of its contact way (the
    host sends the add callbacks); on DingTalk, which has no contact ways, each customer opens the channel's landing
    page and sends its form, as a phone would (each from an address of its own)."""
    import random
    import re

    from sandbox.names import nickname
    from scrm.errors import NotFound
    from scrm.services import channels, corps

    try:
        corp = corps.get_corp(corp_value)
    except NotFound:
        corp = next((c for c in sandbox_corps(app) if c.corp_id == corp_value), None)
        if corp is None:
            raise LookupError(f"no corp {corp_value!r} (use its corp_key: `scrm corp list`)") from None
    try:
        channel = channels.get_channel(corp, channel_id)
    except NotFound:
        raise LookupError(f"no channel {channel_id} in corp {corp.corp_key} (`GET /api/v1/channels`)") from None
    if corp.platform == "wecom":
        if not channel.config_id:
            raise LookupError(f"channel {channel_id} has no contact way on the host (paused or deleted)")
        return _control(app).play(corp.corp_id, "scan", config_ids=[channel.config_id], customers=customers,
                                  over=over, wait=wait)
    client, added, rng = app.test_client(), [], random.Random()
    for n in range(customers):
        env = {"REMOTE_ADDR": f"198.51.100.{n % 250 + 1}"}
        page = client.get(f"/h5/c/{channel.code}", environ_base=env)
        fields = dict(re.findall(r'name="(csrf_token|t)" value="([^"]*)"', page.get_data(as_text=True)))
        if page.status_code != 200 or "csrf_token" not in fields:
            raise LookupError(f"the landing page of channel {channel_id} answered {page.status_code}")
        sent = client.post(f"/h5/c/{channel.code}", environ_base=env, data={
            **fields, "name": nickname(rng), "mobile": f"139{rng.randrange(10**8):08d}", "consent": "yes"})
        added.append(sent.status_code)
    return {"customers": customers, "landing_page": f"/h5/c/{channel.code}",
            "submitted": sum(1 for code in added if code == 303), "answers": sorted(set(added))}


def sync_new_sandbox_corps(app: Flask, echo=click.echo) -> None:
    """Read every sandbox corp that was never synced (the first `make run`): its employees, tags, customers and
    group chats, so the lists and the README's examples have data at once."""
    from scrm.services import sync

    for corp in sandbox_corps(app):
        if sync.ever_finished(corp):
            continue
        echo(f"syncing {corp.name} ({corp.corp_key}) from the sandbox ...")
        run = sync.run_sync(sync.start(corp).id)
        echo(f"synced {corp.corp_key}: " + ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items())))


@click.command("connect")
@click.option("--platform", type=click.Choice(["wecom", "dingtalk", "both"]), default="both", show_default=True)
@click.option("--employees", default=20, show_default=True)
@click.option("--customers", default=300, show_default=True)
@click.option("--seed", "rng_seed", type=int, default=None, help="random seed, for a repeatable organisation")
@click.option("--if-empty", is_flag=True, help="do nothing when a corp is already connected")
@with_appcontext
def sandbox_connect_command(platform, employees, customers, rng_seed, if_empty):
    """Create, seed and connect sandbox corps (the emulated hosts mounted at /sandbox)."""
    from scrm.services import corps

    app = current_app._get_current_object()
    if "scrm.sandbox" not in app.extensions:
        raise click.ClickException("the sandbox is off (SCRM_SANDBOX=0)")
    if if_empty and corps.list_corps():
        return
    for name in (["wecom", "dingtalk"] if platform == "both" else [platform]):
        info = connect_sandbox_corp(app, name, employees=employees, customers=customers, seed=rng_seed)
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
