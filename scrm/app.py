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
    _configure_logging(app)

    app.extensions["scrm.secret_box"] = SecretBox(app.config["SECRET_KEY"])
    import scrm.models  # noqa: F401  (registers every table on the metadata)

    db.init_app(app)
    _sqlite_pragmas(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)

    from tasks.celery_app import init_celery

    init_celery(app)

    from scrm import health

    app.register_blueprint(health.bp)

    from scrm.cli import register_commands

    register_commands(app)
    return app


def _configure_logging(app: Flask) -> None:
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
