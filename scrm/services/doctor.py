"""Checks of a deployment (`scrm doctor`, GET /api/v1/doctor): configuration, database and migrations, broker,
workers, beat, each corp's host with its credentials, callback URLs, work left in the inbox and follow-ups. Each
check says ok, or the problem and what to do."""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, select, text

from scrm.extensions import db
from scrm.models import Corp, Followup, InboxEvent

BEAT_KEY = "scrm:beat:last_run"
BEAT_FILE = "beat-last-run"
BEAT_LATE_SECONDS = 120
LOOPBACK = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


@dataclass
class Check:
    name: str
    ok: bool
    message: str
    corp_key: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _production() -> bool:
    return current_app.config.get("ENV_NAME") == "production"


def record_beat(now: float | None = None) -> None:
    """Note that beat's schedule ran (the inbox sweep calls this): in Redis when configured, else a file of the
    instance folder (the embedded server's beat thread)."""
    stamp = str(now if now is not None else time.time())
    redis_url = current_app.config.get("REDIS_URL")
    try:
        if redis_url:
            import redis

            redis.Redis.from_url(redis_url, socket_timeout=2).set(BEAT_KEY, stamp)
            return
        os.makedirs(current_app.instance_path, exist_ok=True)
        with open(os.path.join(current_app.instance_path, BEAT_FILE), "w") as fh:
            fh.write(stamp)
    except Exception:  # a heartbeat never breaks the sweep it rides on
        current_app.logger.warning("could not record beat's heartbeat", exc_info=True)


def last_beat() -> float | None:
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        import redis

        raw = redis.Redis.from_url(redis_url, socket_timeout=2).get(BEAT_KEY)
        return float(raw) if raw else None
    try:
        with open(os.path.join(current_app.instance_path, BEAT_FILE)) as fh:
            return float(fh.read().strip())
    except (OSError, ValueError):
        return None


def check_configuration() -> list[Check]:
    cfg = current_app.config
    checks = []
    settings = cfg.get("SCRM_SETTINGS")
    if _production() and not getattr(settings, "SECRET_KEY", "x"):
        checks.append(Check("secret key", False, "SCRM_SECRET_KEY is not set: set a long random value"))
    else:
        checks.append(Check("secret key", True, "set" if getattr(settings, "SECRET_KEY", "") else
                            "generated in the instance folder (set SCRM_SECRET_KEY in production)"))
    base = cfg.get("BASE_URL", "")
    host = urlsplit(base).hostname or ""
    if _production() and (host in LOOPBACK or not base.startswith("https://")):
        checks.append(Check("base URL", False, f"SCRM_BASE_URL is {base}: in production the hosts need a public "
                                               "https address; set SCRM_BASE_URL to it"))
    else:
        checks.append(Check("base URL", True, base))
    return checks


def check_database() -> list[Check]:
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        if "alembic_version" in reason:
            return [Check("database", True, "reachable"),
                    Check("migrations", False, "the database has no migrations applied: run `flask db upgrade`")]
        return [Check("database", False, f"cannot reach it ({reason}): check SCRM_DATABASE_URL")]
    head = _migration_head()
    if head is None or current == head:
        return [Check("database", True, "reachable"), Check("migrations", True, f"at head {current}")]
    return [Check("database", True, "reachable"),
            Check("migrations", False, f"at {current}, head is {head}: run `flask db upgrade`")]


def _migration_head() -> str | None:
    try:
        from alembic.script import ScriptDirectory
        from alembic.config import Config

        folder = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "migrations")
        if not os.path.isdir(folder):
            return None
        config = Config()
        config.set_main_option("script_location", folder)
        return ScriptDirectory.from_config(config).get_current_head()
    except Exception:
        return None


def check_tasks() -> list[Check]:
    cfg = current_app.config
    if cfg.get("TASKS_EAGER"):
        checks = [Check("tasks", True, "tasks run in-process (embedded mode: no broker, no workers)")]
    else:
        checks = _check_broker_and_workers()
    beat = last_beat_safe()
    if beat is None:
        where = "the server's beat thread (`scrm serve`)" if cfg.get("TASKS_EAGER") else "`scrm beat`"
        checks.append(Check("beat", False, f"no run recorded yet: is {where} running?"))
    else:
        age = time.time() - beat
        when = datetime.fromtimestamp(beat, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        if age > BEAT_LATE_SECONDS:
            checks.append(Check("beat", False, f"last ran {when} ({age:.0f} s ago): is `scrm beat` running?"))
        else:
            checks.append(Check("beat", True, f"last ran {when} ({age:.0f} s ago)"))
    return checks


def last_beat_safe() -> float | None:
    try:
        return last_beat()
    except Exception:
        return None


def _check_broker_and_workers() -> list[Check]:
    from scrm.config import mask_url

    celery = current_app.extensions["celery"]
    broker = mask_url(current_app.config.get("BROKER_URL") or "")
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return [Check("broker", False, f"cannot reach {broker} ({type(exc).__name__}): is Redis running? "
                                       "check SCRM_REDIS_URL / SCRM_BROKER_URL")]
    checks = [Check("broker", True, broker)]
    try:
        inspect = celery.control.inspect(timeout=1.0)
        pings = inspect.ping() or {}
        queues = inspect.active_queues() or {} if pings else {}
    except Exception as exc:
        return checks + [Check("workers", False, f"could not ask them ({type(exc).__name__})")]
    if not pings:
        return checks + [Check("workers", False, "no worker answered: start `scrm worker` (queues urgent,bulk)")]
    served = sorted({q["name"] for qs in queues.values() for q in qs})
    missing = [q for q in ("urgent", "bulk") if q not in served]
    message = f"{len(pings)} alive, queues {', '.join(served) or '-'}"
    if missing:
        return checks + [Check("workers", False, f"{message}: no worker serves {', '.join(missing)}; start "
                                                 f"`scrm worker -Q {','.join(missing)}`")]
    return checks + [Check("workers", True, message)]


def check_corp(corp: Corp) -> list[Check]:
    """The corp's host reached with its credentials (a token fetched), and its callback URL."""
    from scrm.host import HostError
    from scrm.services.corps import callback_url, forget_token, host_for, host_problem as host_error_line

    checks = []
    try:
        host = host_for(corp)
        forget_token(corp)  # fetch a fresh one: the check is of the credentials as they are now
        host.check_credentials()
        checks.append(Check("host", True, f"{corp.platform} token fetched" +
                            (f" from {corp.api_base}" if corp.api_base else ""), corp.corp_key))
    except HostError as exc:
        checks.append(Check("host", False, host_error_line(exc, corp), corp.corp_key))
    url = callback_url(corp)
    loopback = (urlsplit(url).hostname or "") in LOOPBACK
    if _production() and loopback:
        checks.append(Check("callback URL", False, f"{url}: the host cannot reach a loopback address; set "
                                                   "SCRM_BASE_URL to the public address", corp.corp_key))
    else:
        checks.append(Check("callback URL", True, url, corp.corp_key))
    return checks


def check_work(corp_id: int | None = None) -> list[Check]:
    def count(model, status):
        query = select(func.count()).select_from(model).where(model.status == status)
        if corp_id is not None:
            query = query.where(model.corp_id == corp_id)
        return db.session.scalar(query) or 0

    pending, dead = count(InboxEvent, "pending"), count(InboxEvent, "dead")
    dead_followups = count(Followup, "dead")
    return [
        Check("inbox", dead == 0, f"{pending} pending, {dead} dead" +
              (": inspect with `scrm events list --status dead`, replay with `scrm events replay --status dead`"
               if dead else "")),
        Check("follow-ups", dead_followups == 0, f"{dead_followups} dead" +
              (": inspect with `scrm followups list --status dead`, retry with `scrm followups retry ID…`"
               if dead_followups else "")),
    ]


def run_checks() -> list[Check]:
    """Every check of the deployment and of every corp."""
    checks = check_configuration() + check_database()
    if not all(c.ok for c in checks if c.name == "database"):
        return checks
    checks += check_tasks()
    for corp in db.session.scalars(select(Corp).order_by(Corp.id)):
        checks += [Check(f"{c.name} of {corp.name} ({corp.corp_key})", c.ok, c.message, c.corp_key)
                   for c in check_corp(corp)]
    return checks + check_work()


def corp_checks(corp: Corp) -> list[Check]:
    """The checks an admin of one corp may see: the service's, and this corp's only."""
    return check_configuration() + check_database() + check_tasks() + check_corp(corp) + check_work(corp.id)
