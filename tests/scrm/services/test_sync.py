"""Full sync against the sandbox: complete, idempotent, resumable after a crash, and repairing drift."""
import pytest
from sqlalchemy import func, select

from sandbox.wecom.models import Follow
from scrm.extensions import db
from scrm.host import HostUnavailable
from scrm.models import Customer, Employee, GroupChat, Relationship, RelationshipTag, SyncRun, Tag, TimelineEntry
from scrm.services import sync
from scrm.services.corps import host_for, register_corp


def count(model, *where):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def corp(app, sandbox, monkeypatch):
    monkeypatch.setattr(sync, "EMPLOYEE_BATCH", 5)  # several employee batches and pages on a small org
    monkeypatch.setattr(sync, "PAGE", 20)
    sbx = sandbox.create_corp("wecom")
    seeded = sandbox.seed(sbx, employees=12, customers=150, group_chats=3)
    corp = register_corp(platform="wecom", name="沙箱", corp_id=sbx.corp_id, agent_id=sbx.agent_id,
                         secret=sbx.secret, api_base=sandbox.wecom_base)
    corp.seeded, corp.sbx = seeded, sbx
    return corp


def follows(sandbox, corp_id):
    with sandbox.db.session() as s:
        return s.scalar(select(func.count()).select_from(Follow).where(Follow.corp_id == corp_id))


def test_a_full_sync_reads_everything_and_a_second_changes_nothing(corp, sandbox):
    run = sync.run_sync(sync.start(corp).id)
    expected = follows(sandbox, corp.corp_id)
    assert run.status == "done"
    assert count(Employee, Employee.status == "active") == 12
    assert count(Customer) == 150 == run.counts["customers_created"]
    assert count(Relationship, Relationship.status == "active") == expected == run.counts["relationships_created"]
    assert count(TimelineEntry, TimelineEntry.kind == "added") == expected
    assert count(Tag) > 0 and count(RelationshipTag) > 0
    assert count(GroupChat) == 3
    entries = count(TimelineEntry)
    again = sync.run_sync(sync.start(corp).id)
    assert again.id != run.id
    assert (again.counts["customers_created"], again.counts["relationships_created"], again.counts["reconciled"]) \
        == (0, 0, 0)
    assert count(Relationship) == expected and count(TimelineEntry) == entries


class Crashing:
    """The real host, failing on the n-th customers page like a worker killed mid-sync."""

    def __init__(self, host, fail_at):
        self.host, self.fail_at, self.pages = host, fail_at, 0

    def __getattr__(self, name):
        return getattr(self.host, name)

    def list_customers(self, *args, **kwargs):
        self.pages += 1
        if self.pages == self.fail_at:
            raise HostUnavailable(-1, "system busy")
        return self.host.list_customers(*args, **kwargs)


def test_a_crashed_sync_resumes_from_its_checkpoint(corp, sandbox):
    crashing = Crashing(host_for(corp), fail_at=4)
    run = sync.start(corp)
    with pytest.raises(HostUnavailable):
        sync.run_sync(run.id, host=crashing)
    db.session.expire_all()
    failed = db.session.get(SyncRun, run.id)
    assert failed.status == "failed" and failed.checkpoint["stage"] == "customers"
    assert failed.counts["relationships"] > 0
    resumed = Crashing(host_for(corp), fail_at=-1)
    assert sync.start(corp).id == run.id
    done = sync.run_sync(run.id, host=resumed)
    assert done.status == "done"
    total_pages = resumed.pages + 3  # three pages were committed before the crash
    full = Crashing(host_for(corp), fail_at=-1)
    sync.run_sync(sync.start(corp).id, host=full)
    assert total_pages == full.pages  # nothing before the checkpoint was fetched again
    expected = follows(sandbox, corp.corp_id)
    assert count(Relationship) == expected == count(TimelineEntry, TimelineEntry.kind == "added")


def test_reconcile_repairs_a_missed_delete(corp, sandbox):
    sync.run_sync(sync.start(corp).id)
    played = sandbox.play(corp.sbx, "customer_deletes_employee")  # no callback URL: the event is lost
    gone_user, gone_customer = played["result"]["userid"], played["result"]["external_userid"]
    run = sync.run_sync(sync.start(corp, "customers").id)
    assert run.counts["reconciled"] == 1
    rel = db.session.scalar(select(Relationship).join(Employee).join(Customer).where(
        Employee.host_id == gone_user, Customer.host_id == gone_customer))
    assert (rel.status, rel.end_reason) == ("removed_by_customer", "not_on_host")
    entry = db.session.scalar(select(TimelineEntry).where(TimelineEntry.relationship_id == rel.id,
                                                          TimelineEntry.kind == "removed"))
    assert entry.payload == {"source": "reconcile", "reason": "not_on_host"}


def test_only_a_known_stage_is_accepted(corp):
    from scrm.errors import ValidationError

    with pytest.raises(ValidationError):
        sync.start(corp, "everything")


def test_a_dingtalk_corp_syncs_contacts_in_one_pass_and_skips_what_it_cannot_read(app, sandbox):
    sbx = sandbox.create_corp("dingtalk")
    sandbox.seed(sbx, employees=7, customers=40)
    corp = register_corp(platform="dingtalk", name="钉钉沙箱", corp_id=sbx.corp_id, agent_id=sbx.agent_id,
                         app_key=sbx.app_key, secret=sbx.secret, api_base=sandbox.dingtalk_base)
    run = sync.run_sync(sync.start(corp).id)
    assert run.status == "done" and run.counts["group_chats"] == 0
    assert count(Employee) == 7 and count(Customer) == 40 == count(Relationship, Relationship.status == "active")
    assert count(RelationshipTag) > 0  # labels became tags


def _handled_by_a_callback(corp, record):
    """What the add handler writes for one friendship, in its own transaction (another worker)."""
    from scrm.db import unit_of_work
    from scrm.services import relations
    from scrm.services.org import ensure_employee

    with unit_of_work():
        customer = relations.upsert_customer(corp, record.customer)
        employee = ensure_employee(corp, record.follows[0].employee_id, host_for(corp))
        relations.apply_follow(corp, customer, employee, record.follows[0], host_for(corp))


def test_a_sync_beside_live_callbacks_neither_fails_nor_counts_twice(app, corp, sandbox, monkeypatch):
    import threading

    sync.run_sync(sync.start(corp, "employees").id)
    host, real_insert, seen = host_for(corp), sync.insert, {"pages": 0, "raced": None}

    class Paging:
        def __getattr__(self, name):
            return getattr(host, name)

        def list_customers(self, *args, **kwargs):
            page = host.list_customers(*args, **kwargs)
            seen["pages"] += 1
            seen["record"] = page.items[0] if seen["pages"] == 2 and page.items else None
            return page

    def callback_in_another_worker(record):
        with app.app_context():
            _handled_by_a_callback(db.session.get(type(corp), corp.id), record)

    def racing_insert(model):
        # between the page's read of what exists and its insert, a worker records one of its friendships
        if model in (Customer, Relationship) and seen.get("record") is not None and seen["raced"] is None:
            seen["raced"] = seen.pop("record")
            worker = threading.Thread(target=callback_in_another_worker, args=(seen["raced"],))
            worker.start()
            worker.join()
        return real_insert(model)

    monkeypatch.setattr(sync, "insert", racing_insert)
    run = sync.run_sync(sync.start(corp, "customers").id, host=Paging())
    assert seen["raced"] is not None and run.status == "done"
    expected = follows(sandbox, corp.corp_id)
    assert count(Relationship) == expected
    assert count(TimelineEntry, TimelineEntry.kind == "added") == expected - 1  # the callback's row is not the sync's


def test_reconcile_spares_a_relationship_added_while_it_ran(corp, sandbox):
    sync.run_sync(sync.start(corp).id)
    host = host_for(corp)
    staff = sorted(db.session.scalars(select(Employee.host_id)))

    class AddingLate:  # a customer adds the first employee after that employee's page was read
        def __getattr__(self, name):
            return getattr(host, name)

        def list_customers(self, employee_ids, *args, **kwargs):
            page = host.list_customers(employee_ids, *args, **kwargs)
            if staff[0] not in employee_ids and not getattr(self, "added", False):
                self.added = True
                scan = sandbox.play(corp.sbx, "scan_one", config_id=_way(sandbox, corp, staff[0]))["result"]
                _handled_by_a_callback(corp, host.get_customer(scan["external_userid"]))
            return page

    run = sync.run_sync(sync.start(corp, "customers").id, host=AddingLate())
    assert run.counts["reconciled"] == 0
    assert count(Relationship, Relationship.status != "active") == 0


def _way(sandbox, corp, userid):
    from sandbox.wecom.models import ContactWay

    with sandbox.db.session() as s:
        way = ContactWay(config_id=f"way-{userid}", corp_id=corp.corp_id, type=1, scene=2, state="late",
                         users=[userid], parties=[], remark="", skip_verify=True, created_at=sandbox.clock.time())
        s.add(way)
    return way.config_id


def test_group_chats_are_read_by_owner_batches(corp, sandbox, monkeypatch):
    """groupchat/list without owner_filter answers 81017 past 1,000 visible members: ask 100 owners at a time."""
    monkeypatch.setattr(sync, "OWNER_BATCH", 5)
    sandbox.control.set_limits(corp.sbx.corp_id, {"groupchat_list_members": 5})
    run = sync.run_sync(sync.start(corp).id)
    assert run.status == "done" and run.counts["group_chats"] == 3 and count(GroupChat) == 3


def test_members_of_sub_departments_stay_employees(corp, sandbox):
    """user/list has no fetch_child: a sync reads every department, so nobody two levels down is marked departed."""
    from sandbox.wecom.models import Department, User

    sync.run_sync(sync.start(corp).id)
    with sandbox.db.session() as s:
        s.add(Department(corp_id=corp.corp_id, dept_id=90, name="华东", parent_id=2, order=1))
        s.add(User(corp_id=corp.corp_id, userid="DEEP", name="深层", department=[90], main_department=90, status=1))
    run = sync.run_sync(sync.start(corp).id)
    assert run.status == "done" and count(Employee, Employee.status == "active") == 13
    assert count(Employee, Employee.host_id == "DEEP", Employee.status == "active") == 1


def test_progress_rates_are_per_stage_and_in_its_unit(monkeypatch):
    from scrm.services.sync import Progress

    now = [1000.0]
    monkeypatch.setattr("scrm.services.sync.time.monotonic", lambda: now[0])
    counts = {"relationships": 13042331, "group_chats": 40}
    groups = Progress("groups", 1, 1, counts, started=1000.0, base={"relationships": 13042331, "group_chats": 0})
    assert groups.unit == "group chats" and groups.rate is None  # done in no time: no nonsense number
    now[0] = 1002.0
    assert groups.rate == 20.0  # 40 group chats in 2 s, not the relationships of the stage before
    resumed = Progress("customers", 3, 10, {"relationships": 5000}, started=1000.0, base={"relationships": 4000})
    assert resumed.unit == "relationships" and resumed.rate == 500.0  # only what this run read


def test_the_sync_command_shows_each_stage_in_its_unit(app, fake_host, monkeypatch):
    from scrm.services import sync as sync_service
    from tests.builders import make_corp

    corp = make_corp()
    monkeypatch.setattr(sync_service, "MIN_RATE_SECONDS", 0.0)
    out = app.test_cli_runner().invoke(args=["sync", "--corp", corp.corp_key])
    assert out.exit_code == 0, out.output
    assert "relationships/s" not in out.stderr.split("groups:")[-1]
    assert "employees/s" in out.stderr.split("employees:")[1].split("\r")[0]
