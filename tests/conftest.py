"""Shared fixtures: `app`, `db` (clean tables per test), `client`, `redis_url`, `fake_host`.

The suite runs on SQLite with in-process tasks by default. With SCRM_TEST_LEG=mysql it runs the same tests on
SCRM_TEST_MYSQL_URL and SCRM_TEST_REDIS_URL (the Makefile runs both legs when those are set). Services that a leg
needs are never skipped in CI: a missing one fails the run.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from scrm.config import Settings

LEG = os.environ.get("SCRM_TEST_LEG", "sqlite")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _require(name: str) -> str:
    value = os.environ.get(name)
    if value:
        return value
    if IN_CI or LEG == "mysql":
        pytest.fail(f"{name} must be set for this test leg (CI never skips a missing service)")
    pytest.skip(f"{name} not set")


def pytest_collection_modifyitems(config, items):
    # Tests that need Redis, MySQL or a real worker belong to the MySQL + Redis leg; the embedded leg (SQLite,
    # tasks in-process) needs nothing else, so they are not part of it (deselected, never skipped).
    if LEG != "mysql":
        keep, drop = [], []
        for item in items:
            (drop if _needs_services(item) else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


def _needs_services(item) -> bool:
    """A test that starts a worker, or asks for Redis or MySQL: by marker, fixture, or a parameter that names one
    (the Redis variant of a test run against both stores)."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return (any(item.get_closest_marker(name) for name in ("worker", "redis", "mysql"))
            or bool({"redis_url", "mysql_url"} & set(getattr(item, "fixturenames", ())))
            or any(isinstance(v, str) and v.startswith("redis") for v in params.values()))


def pytest_report_header(config):
    return f"scrm test leg: {LEG}"


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _require("SCRM_TEST_REDIS_URL")


@pytest.fixture(scope="session")
def mysql_url() -> str:
    return _require("SCRM_TEST_MYSQL_URL")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """The leg's database, migrated to head once per session."""
    if LEG == "mysql":
        url = _require("SCRM_TEST_MYSQL_URL")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'scrm-test.db'}"
    from scrm.app import create_app
    from flask_migrate import upgrade

    app = create_app(settings=_settings(url, tmp_path_factory.mktemp("instance")))
    with app.app_context():
        upgrade()
        from scrm.extensions import db

        db.engine.dispose()
    return url


def _settings(database_url: str, instance: Path, **overrides) -> Settings:
    values = dict(ENV="test", INSTANCE_PATH=str(instance), DATABASE_URL=database_url,
                  SECRET_KEY="test-secret-key-that-is-long-enough-0123456789", TASKS_EAGER=True,
                  SANDBOX=False, BASE_URL="http://scrm.test")
    if LEG == "mysql":
        values["REDIS_URL"] = os.environ.get("SCRM_TEST_REDIS_URL", "")
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build apps on the leg's database; each is disposed after the test."""
    from scrm.app import create_app

    built = []

    def build(config: dict | None = None, **settings_overrides):
        app = create_app(config=config, settings=_settings(database_url, tmp_path / "instance", **settings_overrides))
        built.append(app)
        return app

    yield build
    from scrm.extensions import db
    from scrm.services.inbox import close_writer

    for app in built:
        with app.app_context():
            close_writer()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        _clean_tables()  # also after a test that died before its teardown
        yield app
        _clean_tables()


def _clean_tables() -> None:
    from scrm.extensions import db

    db.session.rollback()
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def db(app):
    from scrm.extensions import db as _db

    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def scratch_database_url(tmp_path):
    """An empty database of the leg's kind (for migration tests), dropped afterwards."""
    if LEG != "mysql":
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    base = make_url(_require("SCRM_TEST_MYSQL_URL"))
    name = f"{base.database}_scratch_{uuid.uuid4().hex[:8]}"
    server = create_engine(base.set(database=None))
    with server.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


@pytest.fixture
def fake_host(app):
    """Every corp talks to one in-memory host for the test; `fake_host.calls` records what it was asked."""
    from scrm.host import platforms
    from tests.fakes import FakeHost

    host = FakeHost()
    platforms(app).override(lambda access: host)
    yield host
    platforms(app).override(None)


#: The port's methods that change something on the host.
HOST_WRITES = {"create_channel_code", "update_channel_code", "delete_channel_code", "create_customer", "mark_tags",
               "set_remark", "create_tags", "edit_tag", "delete_tags", "send_welcome", "upload_image",
               "transfer_customers", "transfer_group_chats", "create_mass_message", "send_app_message"}


@pytest.fixture
def host_writes(fake_host, monkeypatch):
    """Each host write with what was open when it ran: the unit-of-work depth, flushed but uncommitted writes, and
    rows locked with SELECT … FOR UPDATE (also on SQLite, which does not render the clause). `tests.fakes.inside`
    picks those that broke the rule (docs/architecture.md: a host write runs with no unit of work open)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from scrm.db import in_unit

    open_now = {"writes": False, "locks": False}

    def flushed(session, _context):
        open_now["writes"] = True

    def executed(state):
        if state.is_select and getattr(state.statement, "_for_update_arg", None) is not None:
            open_now["locks"] = True

    def ended(session, transaction):
        if transaction.parent is None:
            open_now["writes"] = open_now["locks"] = False

    listeners = [(Session, "after_flush", flushed), (Session, "do_orm_execute", executed),
                 (Session, "after_transaction_end", ended)]
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    seen: list[dict] = []
    original = fake_host._call

    def call(method, **kwargs):
        if method in HOST_WRITES:
            seen.append({"method": method, "unit": in_unit(), **open_now})
        return original(method, **kwargs)

    monkeypatch.setattr(fake_host, "_call", call)
    yield seen
    for target, name, fn in listeners:
        event.remove(target, name, fn)



class WorkerProcess:
    """A real `celery worker` in its own process group, so a test can SIGKILL it like an OOM killer would."""

    def __init__(self, env: dict, log_path: Path):
        import signal
        import subprocess
        import sys

        self._signal = signal
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks.worker:celery", "worker", "-Q", "urgent,bulk", "-c", "1",
             "--without-gossip", "--without-mingle", "-n", f"test-{uuid.uuid4().hex[:6]}@%h"],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        os.killpg(self.proc.pid, self._signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, self._signal.SIGTERM)
            try:
                self.proc.wait(20)
            except Exception:
                os.killpg(self.proc.pid, self._signal.SIGKILL)
        self._log.close()


@pytest.fixture
def start_worker(database_url, redis_url, tmp_path):
    """Start real Celery workers on the leg's database and Redis; all are stopped after the test."""
    workers = []

    def start(**extra_env) -> WorkerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCRM_")}
        env.update(SCRM_DATABASE_URL=database_url, SCRM_REDIS_URL=redis_url, SCRM_INSTANCE_PATH=str(tmp_path),
                   SCRM_SECRET_KEY="test-secret-key-that-is-long-enough-0123456789", SCRM_LOG_LEVEL="INFO",
                   SCRM_SANDBOX="0", **{k: str(v) for k, v in extra_env.items()})
        worker = WorkerProcess(env, tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
