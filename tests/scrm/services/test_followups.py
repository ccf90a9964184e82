"""Follow-up work (a channel's rules after an add, a landing page's notification) is stored with the commit that
calls for it, retried later after transient failures (past the host's blocks), and run by the sweeper when its
task was lost; what cannot succeed ends dead with its error."""
from datetime import timedelta

from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.host import HostError, HostRateLimited
from scrm.models import Followup, RelationshipTag, utcnow
from scrm.services import followups, inbox, processing, retries
from scrm.services.channels import AFTER_ADD_TASK
from tasks.followups import sweep as sweep_followups
from tests import wecom_payloads as wx
from tests.scrm.services.test_channels import corp, tag, welcome_channel  # noqa: F401 (fixtures)
from tests.scrm.services.test_processing import count, ingest, status


def only_followup() -> Followup:
    db.session.expire_all()
    return db.session.scalar(select(Followup))


def make_due(followup_id: int) -> None:
    """Let the follow-up's time come (and the sweeper's grace for an unpublished one pass)."""
    with unit_of_work():
        row = db.session.get(Followup, followup_id)
        row.due_at = row.created_at = utcnow() - timedelta(seconds=10)


def test_the_rules_are_stored_with_the_rows_commit_and_swept_when_their_task_was_lost(corp, fake_host):
    """The process dies right after the add's commit, before its follow-up task is published: nothing is lost."""
    channel = welcome_channel(corp)
    fake_host.add_friend("zhang", "wm1", state=channel.state)
    parsed_id, _ = inbox.store(corp, _parsed(wx.added("zhang", "wm1", state=channel.state)), handled=True)
    outcome = processing.process(parsed_id)  # the task's first half only: no follow-up started
    assert outcome.status == "done" and len(outcome.followups) == 1
    row = only_followup()
    assert (row.kind, row.status, row.inbox_id) == (AFTER_ADD_TASK, "pending", parsed_id)
    assert fake_host.called("mark_tags") == []
    assert sweep_followups() == 0  # published moments ago, perhaps: not yet the sweeper's
    make_due(row.id)
    assert sweep_followups() == 1
    assert only_followup().status == "done"
    assert len(fake_host.called("mark_tags")) == 1 and len(fake_host.called("set_remark")) == 1
    assert count(RelationshipTag) == 2


def test_a_retry_in_process_happens_later_past_the_hosts_block(corp, fake_host):
    channel = welcome_channel(corp)
    fake_host.add_friend("zhang", "wm1", state=channel.state)
    fake_host.fail_next["mark_tags"] = HostRateLimited(45009, "api freq out of limit", retry_after=60)
    row = ingest(corp, wx.added("zhang", "wm1", state=channel.state))
    assert status(row) == "done"
    pending = only_followup()
    assert pending.status == "pending" and pending.attempts == 0  # a block is a deferral, not a failed attempt
    assert pending.due_at >= utcnow() + timedelta(seconds=59) and "HostRateLimited" in pending.last_error
    assert count(RelationshipTag) == 0
    assert sweep_followups() == 0  # not due before the block ends
    make_due(pending.id)
    assert sweep_followups() == 1
    assert only_followup().status == "done" and count(RelationshipTag) == 2


def test_a_rule_the_host_refuses_ends_dead_with_its_error_and_can_be_run_again(corp, fake_host):
    channel = welcome_channel(corp)
    fake_host.add_friend("zhang", "wm1", state=channel.state)
    fake_host.fail_next["mark_tags"] = HostError(40003, "invalid userid", api="externalcontact/mark_tag")
    ingest(corp, wx.added("zhang", "wm1", state=channel.state))
    dead = only_followup()
    assert dead.status == "dead" and "40003" in dead.last_error
    assert followups.count_by_status() == {"dead": 1}
    assert [f.id for f in followups.list_followups(status="dead", corp_id=corp.id)] == [dead.id]
    assert followups.retry([dead.id]) == [dead.id]
    make_due(dead.id)
    sweep_followups()
    assert only_followup().status == "done" and count(RelationshipTag) == 2


def test_transient_failures_end_dead_after_the_last_attempt(corp, fake_host, app):
    app.config["FOLLOWUP_MAX_ATTEMPTS"] = 2
    channel = welcome_channel(corp)
    fake_host.add_friend("zhang", "wm1", state=channel.state)
    fake_host.fail_next["mark_tags"] = HostRateLimited(45033, "api concurrent out of limit")
    ingest(corp, wx.added("zhang", "wm1", state=channel.state))
    row = only_followup()
    assert (row.status, row.attempts) == ("pending", 1)
    fake_host.fail_next["mark_tags"] = HostRateLimited(45033, "api concurrent out of limit")
    make_due(row.id)
    sweep_followups()
    assert (only_followup().status, only_followup().attempts) == ("dead", 2)


def test_retry_delays():
    assert 60 <= retries.delay(HostRateLimited(45009, retry_after=60), 0) <= 66
    assert retries.delay(HostRateLimited(45033), 0) <= 1
    assert not retries.transient(HostError(40003))


def _parsed(payload):
    from scrm.host import platforms

    return platforms().parse("wecom", payload)


def test_a_departure_found_by_a_sync_is_stored_with_it_and_swept(corp, fake_host):
    from scrm.services import channels, org
    from tests.scrm.services.test_channels import spec

    pool = channels.create_channel(corp, spec(corp))
    fake_host.calls.clear()
    with unit_of_work():  # a sync's unit: no inbox row, no task started
        org.mark_departed(corp, "zhang", None)
    row = only_followup()
    assert (row.kind, row.status) == (org.DEPARTED, "pending")
    make_due(row.id)
    sweep_followups()
    assert only_followup().status == "done"
    assert [c["spec"].user_ids for c in fake_host.called("update_channel_code")] == [["li"]]
    assert db.session.get(type(pool), pool.id, populate_existing=True).listed_user_ids == ["li"]
