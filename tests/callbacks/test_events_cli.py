"""`scrm events list|show|replay` as the engineer on call uses them."""
import json

from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.host import platforms
from scrm.models import InboxEvent, Relationship
from scrm.services import inbox
from tests import wecom_payloads as wx
from tests.builders import make_corp


def store(corp, payload, handled=True):
    return inbox.store(corp, platforms().parse("wecom", payload), handled=handled)[0]


def test_list_show_and_replay_dead_events(app, fake_host):
    corp = make_corp()
    fake_host.add_employee("zhangsan")
    fake_host.add_friend("zhangsan", "wm001", name="小明")
    dead = store(corp, wx.added("zhangsan", "wm001"))
    ignored = store(corp, wx.unknown(), handled=False)
    with unit_of_work():
        row = db.session.get(InboxEvent, dead)
        row.status, row.attempts, row.last_error = "dead", 8, "HostCredentialsError: 40001"
    runner = app.test_cli_runner()

    listed = json.loads(runner.invoke(args=["events", "list", "--json"]).output)
    assert [(r["id"], r["status"]) for r in listed] == [(ignored, "ignored"), (dead, "dead")]
    only_dead = runner.invoke(args=["events", "list", "--status", "dead", "--corp", corp.corp_key]).output
    assert "HostCredentialsError" in only_dead and "some_future_event" not in only_dead

    shown = json.loads(runner.invoke(args=["events", "show", str(dead)]).output)
    assert shown["payload"].startswith("<xml>") and shown["dedupe_key"].startswith("wecom:")
    assert runner.invoke(args=["events", "show", "999999"]).exit_code != 0

    result = runner.invoke(args=["events", "replay", "--status", "dead"])
    assert "replayed 1 event(s)" in result.output
    db.session.expire_all()
    assert db.session.get(InboxEvent, dead).status == "done"
    assert db.session.scalar(select(Relationship)).status == "active"


def test_replay_needs_ids_or_a_status(app):
    result = app.test_cli_runner().invoke(args=["events", "replay"])
    assert result.exit_code != 0 and "give event ids or --status" in result.output
