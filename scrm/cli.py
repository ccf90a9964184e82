"""The product's commands (serve, worker, beat, corp, sync, token), attached to an app's CLI by `register_commands`;
the `scrm` console script that runs them is `scrm.console`."""
from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import exc as sa_exc, text

from scrm.cli_handovers import handover_group
from scrm.cli_users import user_group
from scrm.cli_welcomes import welcomes_group
from scrm.config import mask_url, record_served_address
from scrm.services.corps import host_problem as host_error_line


def reason(exc: Exception) -> str:
    """The first line of a database driver's error."""
    return str(getattr(exc, "orig", exc)).splitlines()[0]


def check_database() -> None:
    """Fail fast with one line when the configured database cannot be reached."""
    from scrm.extensions import db

    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        url = mask_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
        raise click.ClickException(f"cannot reach the database at {url} (SCRM_DATABASE_URL): {reason(exc)}") from None


def _celery_argv(kind: str, extra: list[str]) -> list[str]:
    if current_app.config["TASKS_EAGER"]:
        raise click.ClickException(
            "tasks run in-process in embedded mode; set SCRM_REDIS_URL (or SCRM_BROKER_URL) to run a "
            f"separate {kind}")
    celery = shutil.which("celery", path=os.path.dirname(sys.executable)) or "celery"
    return [celery, "-A", "tasks.worker:celery", kind, *extra]


class Server:
    """The threaded development server; in the embedded default it first points the sandbox corps at its own
    address and, once listening, syncs the sandbox corps never synced (the host is this same server), then runs
    beat's schedule in a thread. `/readyz` answers 503 until that first sync is over."""

    def __init__(self, app: Flask, host: str, port: int):
        self.app, self.host, self.port = app, host, port

    def run(self) -> None:
        from werkzeug.serving import make_server

        app = self.app
        server = make_server(self.host, self.port, app, threaded=True)  # a port in use: werkzeug says so, exits 1
        click.echo(f"SCRM on http://{self.host}:{self.port}  (database "
                   f"{mask_url(app.config['SQLALCHEMY_DATABASE_URI'])})")
        syncing = "scrm.sandbox" in app.extensions
        if syncing:
            from scrm import embedded

            for key in embedded.follow_address(app):
                click.echo(f"sandbox corp {key} now at {app.config['BASE_URL']}")
            app.extensions["scrm.starting"] = "syncing the sandbox corps"
            threading.Thread(target=self._first_sync, name="sandbox-sync", daemon=True).start()
        if app.config["TASKS_EAGER"]:
            EmbeddedBeat(app).start()
        if not syncing:
            self._ready()
        server.serve_forever()

    def _first_sync(self) -> None:
        from scrm import embedded

        try:
            with self.app.app_context():
                embedded.sync_new_sandbox_corps(self.app)
        except Exception as exc:  # the service still serves; the reason is on the sync run and in the log
            self.app.logger.exception("the first sync of the sandbox corps failed")
            click.echo(f"the first sync of the sandbox corps failed: {exc}; run `scrm sync --corp KEY` again",
                       err=True)
        finally:
            self.app.extensions.pop("scrm.starting", None)
            self._ready()

    def _ready(self) -> None:
        click.echo(f"ready: open {self.app.config['BASE_URL']}/")


class EmbeddedBeat:
    """Beat's schedule run by a thread of the server when there is no broker (the embedded default): the inbox and
    follow-up sweeps (retries, lost work), the channels' minute sweep (expiry, working hours), the nightly
    reconcile, each as often as beat runs it in production."""

    def __init__(self, app: Flask):
        from celery.schedules import maybe_schedule

        self.app = app
        celery = app.extensions["celery"]
        self.now = celery.now
        self.entries = [(celery.tasks[entry["task"]], maybe_schedule(entry["schedule"], app=celery))
                        for entry in celery.conf.beat_schedule.values()]
        self.last_run = [self.now()] * len(self.entries)

    def tick(self) -> list[str]:
        """Run the tasks that are due; their names."""
        ran = []
        for n, (task, schedule) in enumerate(self.entries):
            if not schedule.is_due(self.last_run[n]).is_due:
                continue
            self.last_run[n] = self.now()
            try:
                with self.app.app_context():
                    task.apply(throw=True)
                ran.append(task.name)
            except Exception:  # keep the schedule going; the error is logged
                self.app.logger.exception("%s failed", task.name)
        return ran

    def start(self) -> None:
        import time

        def loop() -> None:
            while True:
                time.sleep(1)
                self.tick()

        threading.Thread(target=loop, name="embedded-beat", daemon=True).start()


def register_commands(app: Flask) -> None:
    """Attach the product's commands to the app's CLI."""

    @app.cli.command("serve")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=5000, show_default=True, type=int)
    @with_appcontext
    def serve(host: str, port: int) -> None:
        """Serve HTTP with a threaded server (use gunicorn `scrm.wsgi:app` in production)."""
        check_database()
        app = current_app._get_current_object()
        if not app.config["SCRM_SETTINGS"].BASE_URL:  # no SCRM_BASE_URL: this address, for every command
            shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
            app.config["BASE_URL"] = f"http://{shown}:{port}"
            record_served_address(Path(app.instance_path), app.config["BASE_URL"])
        Server(app, host, port).run()

    @app.cli.command("worker", context_settings={"ignore_unknown_options": True})
    @click.option("--queues", "-Q", default="urgent,bulk", show_default=True)
    @click.option("--concurrency", "-c", type=int, default=None)
    @click.option("--nice", type=click.IntRange(0, 19), default=0, show_default=True,
                  help="lower the worker's CPU priority (bulk workers: syncs never slow callbacks and welcomes)")
    @click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
    @with_appcontext
    def worker(queues: str, concurrency: int | None, nice: int, celery_args: tuple[str, ...]) -> None:
        """Run a Celery worker on the given queues."""
        check_database()
        extra = ["-Q", queues, "--loglevel", "INFO"]
        if concurrency:
            extra += ["-c", str(concurrency)]
        if nice:
            os.nice(nice)
        argv = _celery_argv("worker", extra + list(celery_args))
        os.execv(argv[0], argv) if os.path.isabs(argv[0]) else os.execvp(argv[0], argv)

    @app.cli.command("beat")
    @with_appcontext
    def beat() -> None:
        """Run Celery beat (periodic sweeps, reconciles)."""
        schedule = os.path.join(current_app.instance_path, "celerybeat-schedule")
        os.makedirs(current_app.instance_path, exist_ok=True)
        argv = _celery_argv("beat", ["--loglevel", "INFO", "--schedule", schedule])
        os.execv(argv[0], argv) if os.path.isabs(argv[0]) else os.execvp(argv[0], argv)

    app.cli.add_command(corp_group)
    app.cli.add_command(sync_command)
    app.cli.add_command(token_group)
    app.cli.add_command(followups_group)
    app.cli.add_command(doctor_command)
    app.cli.add_command(welcomes_group)
    app.cli.add_command(handover_group)
    app.cli.add_command(user_group)


@click.group("corp")
def corp_group() -> None:
    """Connect and inspect corps (tenants)."""


@corp_group.command("add")
@click.option("--platform", type=click.Choice(["wecom", "dingtalk"]), required=True)
@click.option("--name", required=True)
@click.option("--corp-id", required=True, help="WeCom CorpID or DingTalk corpId")
@click.option("--agent-id", help="the app's AgentId")
@click.option("--app-key", help="DingTalk Client ID (AppKey)")
@click.option("--secret", envvar="SCRM_CORP_SECRET", help="the app secret (or env SCRM_CORP_SECRET)")
@click.option("--callback-token")
@click.option("--callback-aes-key")
@click.option("--api-base", help="point the corp at another API root, e.g. the sandbox")
@with_appcontext
def corp_add(platform, name, corp_id, agent_id, app_key, secret, callback_token, callback_aes_key, api_base):
    """Register a corp; prints JSON with its corp_key and callback URL."""
    from scrm.errors import DomainError
    from scrm.services import corps

    check_database()
    if not secret:
        secret = click.prompt("app secret", hide_input=True)
    try:
        corp = corps.register_corp(platform=platform, name=name, corp_id=corp_id, agent_id=agent_id,
                                   app_key=app_key, secret=secret, callback_token=callback_token,
                                   callback_aes_key=callback_aes_key, api_base=api_base)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(corps.describe(corp), ensure_ascii=False, indent=2))


@corp_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def corp_list(as_json: bool) -> None:
    """List corps."""
    from scrm.services import corps

    check_database()
    rows = [corps.describe(c) for c in corps.list_corps()]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['corp_key']:18} {r['platform']:9} {r['name']}  {r['callback_url']}")


@corp_group.command("show")
@click.argument("corp_key")
@with_appcontext
def corp_show(corp_key: str) -> None:
    """Show one corp (never its secrets)."""
    from scrm.errors import NotFound
    from scrm.services import corps

    check_database()
    try:
        corp = corps.get_corp(corp_key)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(corps.describe(corp), ensure_ascii=False, indent=2))


@corp_group.command("update")
@click.argument("corp_key")
@click.option("--name")
@click.option("--secret", is_flag=False, flag_value="", default=None,
              help="a new app secret: give it, or --secret alone to be prompted, or env SCRM_CORP_SECRET")
@click.option("--callback-token")
@click.option("--callback-aes-key")
@click.option("--agent-id")
@click.option("--app-key")
@click.option("--api-base", help="point the corp at another API root, e.g. the sandbox")
@click.option("--real-host", is_flag=True, help="point the corp at the real host again")
@with_appcontext
def corp_update(corp_key, name, secret, callback_token, callback_aes_key, agent_id, app_key, api_base, real_host):
    """Change a corp's name, credentials or API root; prints the corp (never a secret)."""
    from scrm.errors import DomainError
    from scrm.services import corps

    check_database()
    if api_base and real_host:
        raise click.UsageError("give --api-base or --real-host, not both")
    if secret == "":
        secret = os.environ.get("SCRM_CORP_SECRET") or click.prompt("new app secret", hide_input=True)
    changes = {k: v for k, v in dict(name=name, secret=secret, callback_token=callback_token,
                                     callback_aes_key=callback_aes_key, agent_id=agent_id, app_key=app_key,
                                     api_base=api_base).items() if v is not None}
    if real_host:
        changes["api_base"] = None
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    try:
        corp = corps.update_corp(corp_key, **changes)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(corps.describe(corp), ensure_ascii=False, indent=2))


@corp_group.command("remove")
@click.argument("corp_key")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@with_appcontext
def corp_remove(corp_key: str, yes: bool) -> None:
    """Delete a corp and all its data in SCRM (its contact ways stay on the host)."""
    from scrm.errors import NotFound
    from scrm.services import corps

    check_database()
    try:
        corp = corps.get_corp(corp_key)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    counts = corps.removal_counts(corp)
    click.echo(f"Removing {corp.platform} corp {corp.name} ({corp.corp_key}) deletes everything SCRM holds of it:")
    click.echo("  " + ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items()))
    click.echo("  plus its tags' groups, departments, notes, timelines, syncs and media; its API tokens stop "
               "working at once.")
    click.echo("  Nothing changes on the host: its contact ways (channel QR codes) stay there; to remove them, "
               "delete the channels (DELETE /api/v1/channels/{id}) before removing the corp.")
    if not yes:
        try:
            typed = click.prompt("type the corp key to confirm", default="", show_default=False)
        except click.Abort:  # no input (end of file, Ctrl-C)
            typed = ""
        if typed.strip() != corp.corp_key:
            raise click.ClickException("not confirmed: nothing was removed")
    deleted = corps.remove_corp(corp_key)
    click.echo(json.dumps({"removed": corp_key, "deleted": deleted}, ensure_ascii=False))


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def doctor_command(as_json: bool) -> None:
    """Check the deployment: one line per check, exit status 1 when any has a problem."""
    from scrm.services import doctor

    checks = doctor.run_checks()
    if as_json:
        click.echo(json.dumps([c.as_dict() for c in checks], ensure_ascii=False, indent=2))
    else:
        for c in checks:
            click.echo(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.message}")
    if any(not c.ok for c in checks):
        sys.exit(1)


@click.command("sync")
@click.option("--corp", "corp_key", required=True)
@click.option("--only", type=click.Choice(["employees", "tags", "customers", "groups"]))
@with_appcontext
def sync_command(corp_key: str, only: str | None) -> None:
    """Read the corp's host data into SCRM (resumes an interrupted run); prints progress."""
    from scrm.errors import NotFound
    from scrm.services import corps, sync

    check_database()
    try:
        corp = corps.get_corp(corp_key)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    run = sync.start(corp, only)
    if run.checkpoint:
        click.echo(f"resuming sync {run.id} at {run.checkpoint}")

    def show(p: "sync.Progress") -> None:
        total = f"/{p.total}" if p.total else ""
        counts = ", ".join(f"{k} {v}" for k, v in sorted(p.counts.items()))
        timing = ", ".join(([f"{p.rate:.0f} {p.unit}/s"] if p.rate is not None else [])  # per stage, its unit
                           + ([f"ETA {p.eta:.0f}s"] if p.eta is not None else []))
        timing = f"  ({timing})" if timing else ""
        click.echo(f"\r{p.stage}: {p.done}{total}  {counts}{timing}  ", nl=False, err=True)

    from scrm.host import HostError

    try:
        run = sync.run_sync(run.id, progress=show)
    except HostError as exc:
        click.echo("", err=True)
        raise click.ClickException(host_error_line(exc, corp)) from None
    click.echo("", err=True)
    click.echo(json.dumps({"run": run.id, "status": run.status, "counts": run.counts}, ensure_ascii=False))


@click.group("token")
def token_group() -> None:
    """API tokens."""


@token_group.command("create")
@click.option("--corp", "corp_key", required=True)
@click.option("--role", type=click.Choice(["admin", "manager", "sales"]), required=True)
@click.option("--employee", "employee", help="the employee's host user id (manager and sales tokens)")
@click.option("--label", default=None)
@with_appcontext
def token_create(corp_key: str, role: str, employee: str | None, label: str | None) -> None:
    """Create a token; it is printed once, alone on the last line (only its hash is stored)."""
    from scrm.errors import DomainError
    from scrm.services import access, corps
    from scrm.services.org import find_employee

    check_database()
    try:
        corp = corps.get_corp(corp_key)
        emp = find_employee(corp, employee) if employee else None
        if employee and emp is None:
            raise click.ClickException(f"no employee {employee} in corp {corp_key}")
        token = access.create_token(corp, role, employee_id=emp.id if emp else None, label=label)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{role} token for {corp.name} (store it now; it is not shown again):")
    click.echo(token)


@token_group.command("list")
@click.option("--corp", "corp_key", required=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def token_list(corp_key: str, as_json: bool) -> None:
    """List the corp's tokens: id, role, employee, created, revoked (never a secret)."""
    from scrm.errors import NotFound
    from scrm.services import access, corps

    check_database()
    try:
        rows = access.list_tokens(corps.get_corp(corp_key))
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=lambda t: t.isoformat() + "Z"))
        return
    for r in rows:
        emp = r["employee"]
        who = f"{emp['host_id']} ({emp['name']}{', departed' if emp['status'] == 'departed' else ''})" if emp else "-"
        revoked = f"revoked {r['revoked_at']:%Y-%m-%d %H:%M}Z" if r["revoked_at"] else "live"
        click.echo(f"{r['id']:>6} {r['role']:8} {who:32} created {r['created_at']:%Y-%m-%d %H:%M}Z  {revoked}"
                   + (f"  {r['label']}" if r["label"] else ""))


@token_group.command("revoke")
@click.option("--corp", "corp_key", required=True)
@click.argument("token_ids", nargs=-1, type=int, required=True)
@with_appcontext
def token_revoke(corp_key: str, token_ids: tuple[int, ...]) -> None:
    """Revoke tokens by id (see `scrm token list`); a revoked token is refused at once."""
    from scrm.errors import NotFound
    from scrm.services import access, corps

    check_database()
    try:
        corp = corps.get_corp(corp_key)
        for token_id in token_ids:
            access.revoke_token(corp, token_id)
            click.echo(f"revoked token {token_id}")
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None


@click.group("followups")
def followups_group() -> None:
    """Work left for after an event (a channel's tags and remark, notifications): list it, run it again."""


@followups_group.command("list")
@click.option("--corp", "corp_key", help="corp_key")
@click.option("--status", type=click.Choice(["pending", "running", "done", "dead"]))
@click.option("--limit", default=50, show_default=True)
@with_appcontext
def followups_list(corp_key: str | None, status: str | None, limit: int) -> None:
    """List the newest follow-ups first, with their last error."""
    from scrm.services import corps, followups

    corp_id = corps.get_corp(corp_key).id if corp_key else None
    for row in followups.list_followups(status=status, corp_id=corp_id, limit=limit):
        click.echo(f"{row.id:>8} {row.status:8} {row.attempts:>2} {row.created_at.isoformat()}Z {row.kind} "
                   f"{row.args}" + (f"  ! {row.last_error[:120]}" if row.last_error else ""))


@followups_group.command("retry")
@click.argument("ids", nargs=-1, type=int, required=True)
@with_appcontext
def followups_retry(ids: tuple[int, ...]) -> None:
    """Run follow-ups again (dead ones too), with fresh attempts."""
    from scrm.services import followups

    again = followups.retry(list(ids))
    followups.start(again)
    click.echo(f"started {len(again)} follow-up(s)")
