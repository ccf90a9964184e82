"""A host write never runs inside a unit of work that holds row locks or could still fail to commit after the
host has changed: channel codes, their contact way's list, the rules after an add and the landing page's
registration call the host with no unit open, and a record that fails afterwards leaves no contact way behind."""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.models import Channel, Relationship, RelationshipTag, utcnow
from scrm.services import channels, landing
from tests import wecom_payloads as wx
from tests.fakes import inside
from tests.scrm.services.test_channels import corp, emp, spec, tag, welcome_channel  # noqa: F401 (fixture)
from tests.scrm.services.test_processing import count, ingest


@pytest.fixture
def failing_commit():
    """Make the next commit fail (a lost connection, a deadlock) once."""
    armed = {"left": 0}

    def before_commit(session):
        if armed["left"]:
            armed["left"] -= 1
            raise RuntimeError("the database went away")

    event.listen(Session, "before_commit", before_commit)
    yield armed
    event.remove(Session, "before_commit", before_commit)


def test_channel_codes_call_the_host_outside_any_unit(corp, fake_host, host_writes):
    channel = channels.create_channel(corp, spec(corp))
    channels.update_channel(corp, channel.id, {"members": [{"employee_id": emp(corp, "wang")}]})
    channels.pause_channel(corp, channel.id)
    channels.resume_channel(corp, channel.id)
    channels.delete_channel(corp, channel.id)
    assert [s["method"] for s in host_writes] == ["create_channel_code", "update_channel_code", "delete_channel_code",
                                                  "create_channel_code", "delete_channel_code"]
    assert inside(host_writes) == []


def test_rebalance_holds_no_lock_while_the_host_updates_the_list(corp, fake_host, host_writes):
    channel = channels.create_channel(corp, spec(corp))
    with unit_of_work():
        db.session.get(Channel, channel.id).listed_user_ids = ["zhang"]  # out of date: li is on duty too
    assert channels.rebalance(corp, channel.id) is True
    assert fake_host.called("update_channel_code")[-1]["spec"].user_ids == ["zhang", "li"]
    assert db.session.get(Channel, channel.id).listed_user_ids == ["zhang", "li"]
    assert inside(host_writes) == []
    assert channels.rebalance(corp, channel.id) is False  # nothing to change: no host call


def test_rebalance_pushes_again_when_another_writer_recorded_a_list_meanwhile(corp, fake_host, monkeypatch):
    channel = channels.create_channel(corp, spec(corp))
    with unit_of_work():
        db.session.get(Channel, channel.id).listed_user_ids = ["zhang"]
    original = fake_host.update_channel_code
    raced = []

    def update_then_race(config_id, code_spec):
        original(config_id, code_spec)
        if not raced:  # another worker records its list between our host call and our record
            raced.append(1)
            with unit_of_work():
                db.session.get(Channel, channel.id).listed_user_ids = ["li"]

    monkeypatch.setattr(fake_host, "update_channel_code", update_then_race)
    assert channels.rebalance(corp, channel.id) is True
    assert [c["spec"].user_ids for c in fake_host.called("update_channel_code")] == [["zhang", "li"], ["zhang", "li"]]
    assert db.session.get(Channel, channel.id, populate_existing=True).listed_user_ids == ["zhang", "li"]


def test_the_rules_after_an_add_tell_the_host_outside_any_unit(corp, fake_host, host_writes):
    channel = welcome_channel(corp, members=[{"employee_id": emp(corp, "zhang")}], temporary=True)
    fake_host.add_friend("zhang", "wm1", state=channel.state)
    ingest(corp, wx.added("zhang", "wm1", state=channel.state))
    assert [s["method"] for s in host_writes] == ["create_channel_code", "upload_image", "send_welcome", "mark_tags",
                                                  "set_remark", "delete_channel_code"]
    assert inside(host_writes) == []
    rel = db.session.scalar(select(Relationship))
    assert rel.remark and count(RelationshipTag, RelationshipTag.relationship_id == rel.id) == 2
    assert db.session.get(Channel, channel.id).status == "used"


def test_a_remark_a_salesperson_records_meanwhile_is_not_overwritten_by_the_template(app, corp, fake_host,
                                                                                    monkeypatch):
    channel = welcome_channel(corp, members=[{"employee_id": emp(corp, "zhang")}])
    original = fake_host.set_remark

    def elsewhere():  # another process, its own session: the salesperson writes a remark of their own
        with app.app_context():
            with unit_of_work():
                db.session.scalar(select(Relationship)).remark = "销售写的"

    def set_remark(employee_id, customer_id, **fields):
        original(employee_id, customer_id, **fields)
        if fields.get("remark", "").startswith(channel.name):
            worker = threading.Thread(target=elsewhere)
            worker.start()
            worker.join()

    monkeypatch.setattr(fake_host, "set_remark", set_remark)
    fake_host.add_friend("zhang", "wm1", state=channel.state)
    ingest(corp, wx.added("zhang", "wm1", state=channel.state))
    assert db.session.scalar(select(Relationship.remark)) == "销售写的"


def test_a_registration_creates_the_contact_with_no_channel_row_locked(corp, fake_host, host_writes):
    channel = channels.create_channel(corp, spec(corp, tags=[tag("海报")], remark_template="{channel}"))
    registration = landing.register(channel.code, name="王小明", mobile="13800138000", consent=True)
    assert registration.created and [s["method"] for s in host_writes][-1] == "create_customer"
    assert inside(host_writes) == []
    rel = db.session.scalar(select(Relationship))
    assert rel.channel_id == channel.id and rel.remark == "春季海报"
    assert count(RelationshipTag, RelationshipTag.relationship_id == rel.id) == 1


def test_a_failed_record_deletes_the_new_contact_way_again(corp, fake_host, failing_commit):
    failing_commit["left"] = 1
    with pytest.raises(RuntimeError):
        channels.create_channel(corp, spec(corp))
    made = fake_host.called("create_channel_code")
    assert len(made) == 1 and fake_host.called("delete_channel_code") == [{"config_id": "cfg1"}]
    assert count(Channel) == 0


def test_a_failed_resume_record_deletes_the_new_contact_way(corp, fake_host, failing_commit):
    channel = channels.create_channel(corp, spec(corp))
    channels.pause_channel(corp, channel.id)
    failing_commit["left"] = 1
    with pytest.raises(RuntimeError):
        channels.resume_channel(corp, channel.id)
    assert fake_host.called("delete_channel_code")[-1] == {"config_id": "cfg2"}
    stored = db.session.get(Channel, channel.id, populate_existing=True)
    assert (stored.status, stored.config_id) == ("paused", None)


def test_a_failed_edit_record_sets_the_contact_way_back(corp, fake_host, failing_commit):
    channel = channels.create_channel(corp, spec(corp))
    failing_commit["left"] = 1
    with pytest.raises(RuntimeError):
        channels.update_channel(corp, channel.id, {"members": [{"employee_id": emp(corp, "wang")}]})
    assert [c["spec"].user_ids for c in fake_host.called("update_channel_code")] == [["wang"], ["zhang", "li"]]
    assert [m.employee_id for m in db.session.get(Channel, channel.id, populate_existing=True).members] == [
        emp(corp, "zhang"), emp(corp, "li")]


def test_an_expired_channel_is_recorded_before_its_contact_way_goes(corp, fake_host, host_writes):
    channel = channels.create_channel(corp, spec(corp, expires_at=utcnow() + timedelta(minutes=5)))
    config_id = channel.config_id
    assert channels.sweep(now=utcnow() + timedelta(minutes=10))["expired"] == 1
    assert fake_host.called("delete_channel_code") == [{"config_id": config_id}]
    assert db.session.get(Channel, channel.id).status == "expired" and inside(host_writes) == []


def test_the_embedded_default_runs_beats_schedule_so_an_expired_code_stops_taking_customers(app, corp, fake_host):
    """Without a broker there is no beat process: the server's beat thread runs the same schedule."""
    from scrm.cli import EmbeddedBeat

    channel = channels.create_channel(corp, spec(corp, expires_at=utcnow() + timedelta(seconds=30)))
    beat = EmbeddedBeat(app)
    assert {"scrm.events.sweep", "scrm.followups.sweep", "scrm.channels.sweep", "scrm.sync.reconcile_all",
            "scrm.handovers.poll", "scrm.handovers.pool"} == {
        task.name for task, _ in beat.entries}
    assert beat.tick() == []  # nothing is due at start
    with unit_of_work():
        db.session.get(Channel, channel.id).expires_at = utcnow() - timedelta(seconds=1)
    beat.last_run = [at - timedelta(seconds=61) for at in beat.last_run]
    assert set(beat.tick()) == {"scrm.events.sweep", "scrm.followups.sweep", "scrm.channels.sweep"}
    assert db.session.get(Channel, channel.id, populate_existing=True).status == "expired"
    assert fake_host.called("delete_channel_code")


def test_a_takeover_of_a_channels_customer_is_no_customer_of_the_channel(corp, fake_host):
    """Handed over on the host (add_way 202): the one-time code stays unused and no rule runs."""
    channel = welcome_channel(corp, members=[{"employee_id": emp(corp, "zhang")}], temporary=True)
    fake_host.add_friend("li", "wm1", state=channel.state, add_way=202)
    ingest(corp, wx.added("li", "wm1", state=channel.state))
    rel = db.session.scalar(select(Relationship))
    assert rel.channel_id == channel.id and not rel.remark
    assert fake_host.called("mark_tags") == [] and fake_host.called("set_remark") == []
    assert db.session.get(Channel, channel.id).status == "active"
