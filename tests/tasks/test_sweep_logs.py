"""The sweeps run every few seconds: idle, they log nothing at INFO (the request log stays readable); when they find
work, they say so."""
import logging

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.models import Followup, utcnow
from tests.builders import make_corp


def info_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]


def test_idle_sweeps_log_nothing_at_info(app, caplog):
    caplog.set_level(logging.INFO)
    celery = app.extensions["celery"]
    for name in ("scrm.events.sweep", "scrm.followups.sweep"):
        celery.tasks[name].apply(throw=True)
    assert info_lines(caplog) == []
    caplog.clear()
    caplog.set_level(logging.DEBUG)  # at DEBUG they are still there
    celery.tasks["scrm.events.sweep"].apply(throw=True)
    assert any("scrm.events.sweep" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)


def test_beat_sending_an_idle_sweep_is_debug(app, caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("celery.beat").info("Scheduler: Sending due task %s (%s)", "sweep-inbox", "scrm.events.sweep")
    logging.getLogger("celery.beat").info("Scheduler: Sending due task %s (%s)", "reconcile-nightly", "x")
    assert info_lines(caplog) == ["Scheduler: Sending due task reconcile-nightly (x)"]


def test_a_sweep_that_finds_work_says_so(app, caplog, monkeypatch):
    corp = make_corp()
    with unit_of_work():
        row = Followup(corp_id=corp.id, kind="nothing.known", args="[]", status="running", due_at=utcnow(),
                       locked_until=utcnow().replace(year=2000))
        db.session.add(row)
    monkeypatch.setattr("scrm.services.followups.start", lambda ids, **kw: None)
    caplog.set_level(logging.INFO)
    app.extensions["celery"].tasks["scrm.followups.sweep"].apply(throw=True)
    lines = info_lines(caplog)
    assert any("starting 1 follow-up(s) again" in line for line in lines), lines
    assert any("succeeded" in line and ": 1" in line for line in lines), lines


def test_an_idle_sweep_is_not_printed_by_a_handler_without_a_level(app):
    """`logging.basicConfig` (the embedded server's log) adds a handler with no level: relabelling is not enough."""
    seen = []
    handler = logging.Handler()  # level NOTSET, as basicConfig's
    handler.emit = lambda record: seen.append(record.getMessage())
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        app.extensions["celery"].tasks["scrm.events.sweep"].apply(throw=True)
    finally:
        root.removeHandler(handler)
        root.setLevel(before)
    assert not [line for line in seen if "scrm.events.sweep" in line], seen
