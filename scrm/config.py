"""All settings, read from `SCRM_*` environment variables (and a `.env` file when present).

Typed defaults make the embedded mode work with nothing set: SQLite under `instance/`, tasks in-process, token
cache and rate limiter in memory, a generated secret key kept in `instance/`. A production config refuses unsafe
defaults and names the variable to set.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent


DEFAULT_BASE_URL = "http://127.0.0.1:5000"


class ConfigError(Exception):
    """A setting is missing or unsafe; the message names the variable."""


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class Settings:
    """Every SCRM_ variable, with its default; README.md documents each one."""

    ENV: str = "development"  # development | production | test
    INSTANCE_PATH: str = str(PROJECT_ROOT / "instance")
    DATABASE_URL: str = ""  # default: sqlite:///<instance>/scrm.db
    REDIS_URL: str = ""  # unset = embedded: in-process tasks, memory token cache and limiter
    BROKER_URL: str = ""  # default: REDIS_URL
    TASKS_EAGER: bool | None = None  # default: true when there is no broker
    SECRET_KEY: str = ""  # default in development: generated once into <instance>/secret_key
    BASE_URL: str = ""  # default: the address `scrm serve` last served on (kept in the instance), else DEFAULT_BASE_URL
    WEB_SESSION_HOURS: int = 168  # a page's sign-in (host or console) lasts this long without being used
    SANDBOX: bool | None = None  # mount the host emulator at /sandbox; default: on unless production
    SANDBOX_DATABASE_URL: str = ""  # default: sqlite:///<instance>/sandbox.db
    LOG_LEVEL: str = "INFO"
    MAX_CALLBACK_BYTES: int = 1024 * 1024
    INBOX_LEASE_SECONDS: int = 120  # a worker holds an inbox row this long; then the sweeper hands it on
    INBOX_MAX_ATTEMPTS: int = 8  # transient failures retry with backoff; then the row is dead
    INBOX_SWEEP_SECONDS: int = 5  # how often beat (or the embedded server) sweeps the inbox
    INBOX_REQUEUE_SECONDS: int = 120  # a row whose task was published this long ago is enqueued again
    INBOX_WELCOME_LEASE_SECONDS: int = 6  # the lease on an add row until its welcome is recorded (the code lives 20 s)
    FOLLOWUP_LEASE_SECONDS: int = 120  # a worker holds a follow-up (a channel's rules, a notification) this long
    FOLLOWUP_MAX_ATTEMPTS: int = 25  # transient failures retry with backoff (past host blocks); then it is dead
    HANDOVER_POLL_SECONDS: int = 300  # how often beat looks for handovers whose host results are due
    LANDING_RATE_PER_ADDRESS: str = "20 per 10 minutes"  # landing-page submissions from one client address
    LANDING_RATE_PER_CODE: str = "600 per minute"  # landing-page submissions to one channel code
    CONSOLE_LOGIN_FAILURES: str = "10 per 10 minutes"  # failed console sign-ins from one client address
    TRUSTED_PROXIES: str = ""  # reverse proxies believed about the client: a hop count or networks; none by default
    METRICS_TOKEN: str = ""  # /metrics wants `Authorization: Bearer <this>` when set
    METRICS_ALLOW: str = ""  # networks /metrics answers; default: loopback only, unless a token is set (then any)
    POSTER_FONT: str = ""  # a CJK font file for posters; default: an installed one (Debian's fonts-wqy-microhei)
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, dotenv: bool = True) -> "Settings":
        if dotenv and environ is None:
            from dotenv import load_dotenv

            load_dotenv(PROJECT_ROOT / ".env", override=False)
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = env.get(f"SCRM_{f.name}")
            if raw is None or f.name == "extra":
                continue
            if f.type in ("bool | None", "bool"):
                values[f.name] = _bool(raw)
            elif f.type == "int":
                values[f.name] = int(raw)
            else:
                values[f.name] = raw.strip()
        return cls(**values)

    @property
    def production(self) -> bool:
        return self.ENV == "production"


def mask_url(url: str) -> str:
    """Hide the password of a database or broker URL before it reaches a log or an error message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def served_address(instance: Path) -> str | None:
    """The address `scrm serve` last served on without SCRM_BASE_URL (see `record_served_address`)."""
    try:
        return (instance / "base_url").read_text().strip() or None
    except OSError:
        return None


def record_served_address(instance: Path, url: str) -> None:
    """Keep the address the embedded server runs on, so every other command (`scrm corp list`, `scrm sandbox
    play`, ...) prints and uses the same URLs without SCRM_BASE_URL being exported to it."""
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "base_url").write_text(url + "\n")


def _instance_secret(instance: Path) -> str:
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def build_flask_config(settings: Settings) -> dict:
    """Resolve defaults, check production safety, and return the Flask config mapping."""
    instance = Path(settings.INSTANCE_PATH)
    if settings.production:
        missing = [name for name, value in (
            ("SCRM_SECRET_KEY", settings.SECRET_KEY),
            ("SCRM_DATABASE_URL", settings.DATABASE_URL),
            ("SCRM_REDIS_URL", settings.REDIS_URL),
            ("SCRM_BASE_URL", settings.BASE_URL),
        ) if not value]
        if missing:
            raise ConfigError(f"production requires {', '.join(missing)} to be set")
        if len(settings.SECRET_KEY) < 32:
            raise ConfigError("SCRM_SECRET_KEY must be at least 32 characters in production")
        if settings.DATABASE_URL.startswith("sqlite"):
            raise ConfigError("SCRM_DATABASE_URL must point to MySQL in production, not SQLite")
        if settings.SANDBOX:
            raise ConfigError("SCRM_SANDBOX must be off in production")
    from scrm.proxies import networks, parse as parse_proxies

    try:
        parse_proxies(settings.TRUSTED_PROXIES)
        networks(settings.METRICS_ALLOW, "SCRM_METRICS_ALLOW")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    database_url = settings.DATABASE_URL or f"sqlite:///{instance / 'scrm.db'}"
    if database_url.startswith("sqlite"):
        instance.mkdir(parents=True, exist_ok=True)
    broker_url = settings.BROKER_URL or settings.REDIS_URL
    eager = settings.TASKS_EAGER if settings.TASKS_EAGER is not None else not broker_url
    sandbox = settings.SANDBOX if settings.SANDBOX is not None else not settings.production
    engine_options: dict = {}
    if database_url.startswith("mysql"):
        # Recycle connections before MySQL's idle timeout instead of pinging on every checkout: a ping is one
        # more round trip on each callback. A connection lost anyway fails one request (503, the host retries).
        # READ COMMITTED: a worker that lost an insert race sees the winner's row when it looks again.
        engine_options.update(pool_recycle=280, pool_size=10, max_overflow=20, isolation_level="READ COMMITTED")
    # every setting under its own name, then what is resolved from them under the names Flask and its extensions read
    config = {f.name: getattr(settings, f.name) for f in fields(settings) if f.name != "extra"}
    config.update({
        "SCRM_SETTINGS": settings,
        "ENV_NAME": settings.ENV,
        "SECRET_KEY": settings.SECRET_KEY or _instance_secret(instance),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "REDIS_URL": settings.REDIS_URL or None,
        "BROKER_URL": broker_url or None,
        "TASKS_EAGER": eager,
        "BASE_URL": (settings.BASE_URL or served_address(instance) or DEFAULT_BASE_URL).rstrip("/"),
        "SANDBOX": sandbox,
        "SANDBOX_DATABASE_URL": settings.SANDBOX_DATABASE_URL or f"sqlite:///{instance / 'sandbox.db'}",
        "MAX_CONTENT_LENGTH": settings.MAX_CALLBACK_BYTES,
        "JSON_AS_ASCII": False,
        # the H5 pages' session carries their CSRF token: not readable by scripts, not sent cross-site
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings.BASE_URL.startswith("https://"),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=max(1, settings.WEB_SESSION_HOURS)),
    })
    config.update(settings.extra)
    return config
