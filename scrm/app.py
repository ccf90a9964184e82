"""The composition root: `create_app` builds the Flask app and wires every room together."""
from __future__ import annotations

import logging

from flask import Flask

from scrm.config import PROJECT_ROOT, Settings, build_flask_config
from scrm.extensions import db, migrate
from scrm.secrets_box import SecretBox


def create_app(config: dict | None = None, settings: Settings | None = None) -> Flask:
    """Build the app from SCRM_* settings; `config` overrides resolved Flask config keys (tests use it)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=settings.INSTANCE_PATH, instance_relative_config=False)
    app.config.update(build_flask_config(settings))
    if config:
        app.config.update(config)
    app.json.ensure_ascii = False  # Chinese names read as Chinese in every JSON answer
    _configure_logging(app)
    from scrm import proxies

    app.wsgi_app = proxies.wrap(app.wsgi_app, app.config["TRUSTED_PROXIES"])

    app.extensions["scrm.secret_box"] = SecretBox(app.config["SECRET_KEY"])
    import scrm.models  # noqa: F401  (registers every table on the metadata)

    db.init_app(app)
    _sqlite_pragmas(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)

    from tasks.celery_app import init_celery

    init_celery(app)

    _wire_hosts(app)

    from scrm.i18n import init_babel

    init_babel(app)
    _compress(app)
    from callbacks.views import bp as callbacks_bp
    from console.views import bp as console_bp
    from h5 import microapp, sidebar  # noqa: F401  (their pages join the staff blueprint)
    from h5.staff import bp as h5_staff_bp
    from h5.views import bp as h5_bp
    from scrm import health, home

    app.register_blueprint(health.bp)
    app.register_blueprint(callbacks_bp)
    app.register_blueprint(h5_bp)
    app.register_blueprint(h5_staff_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(home.bp)
    from scrm.api import init_api

    init_api(app)
    from scrm import embedded

    if app.config["SANDBOX"]:
        embedded.mount_sandbox(app)

    from callbacks.cli import events_group, stream_command
    from scrm.cli import register_commands

    register_commands(app)
    app.cli.add_command(events_group)
    app.cli.add_command(stream_command)
    app.cli.add_command(embedded.sandbox_commands())
    return app


def _compress(app: Flask) -> None:
    """Styles and scripts compressed for clients that accept it (brotli or gzip), with or without a compressing
    proxy in front: the sidebar's WeUI is 188 KB as it is and 23 KB compressed. Pages and JSON are not: they carry
    CSRF tokens or secrets beside text a visitor chose, which compression would let an observer guess (BREACH)."""
    from flask_compress import Compress

    app.config.setdefault("COMPRESS_MIMETYPES", ["text/css", "application/javascript", "text/javascript",
                                                 "image/svg+xml"])
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "gzip"])  # static files are streamed
    app.config.setdefault("COMPRESS_MIN_SIZE", 1024)
    Compress(app)


def _wire_hosts(app: Flask) -> None:
    """One port, several hosts: each platform's descriptor, sharing this app's runtime (tokens, limiter)."""
    from connectors.dingtalk import platform as dingtalk
    from connectors.runtime import make_runtime
    from connectors.wecom import platform as wecom
    from scrm.host import Platforms

    runtime = make_runtime(app.config["REDIS_URL"])
    app.extensions["scrm.host_runtime"] = runtime
    found = Platforms()
    for module in (wecom, dingtalk):
        found.register(module.platform(runtime))
    found.init_app(app)


def _configure_logging(app: Flask) -> None:
    from scrm import logs

    logs.install()  # before anything logs: no credential of a query string or body reaches a log line
    level = getattr(logging, str(app.config["LOG_LEVEL"]).upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app.logger.setLevel(level)


def _sqlite_pragmas(app: Flask) -> None:
    """SQLite in embedded mode: enforce foreign keys, and let readers run while a writer commits (WAL)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=15000")
        cur.close()
