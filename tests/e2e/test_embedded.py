"""The embedded default end to end: SQLite, in-process tasks, the sandbox mounted at /sandbox of the same server."""
import socket
import threading

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from scrm.extensions import db
from scrm.models import Customer, Employee, InboxEvent, Relationship, TimelineEntry


@pytest.fixture
def embedded(make_app, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = make_app(SANDBOX=True, SANDBOX_DATABASE_URL=f"sqlite:///{tmp_path / 'sandbox.db'}",
                   BASE_URL=f"http://127.0.0.1:{port}", TASKS_EAGER=True)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with app.app_context():
        yield app
        app.extensions["scrm.sandbox"].extensions["sandbox"].deliverer.wait(timeout=120)  # callbacks still owed
        from tests.conftest import _clean_tables

        _clean_tables()
    server.shutdown()
    server.server_close()


def test_customers_scanning_a_code_become_attributed_relationships(embedded):
    from scrm.embedded import connect_sandbox_corp

    info = connect_sandbox_corp(embedded, "wecom", employees=3, customers=5)
    assert info["api_base"].endswith("/sandbox/wecom") and info["seeded"]["employees"] == 3
    control = embedded.extensions["scrm.sandbox"].extensions["sandbox_control"]
    played = control.play(info["corp_id"], "scan", customers=4, codes=2, over=0, wait=True)
    assert played
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(InboxEvent).where(InboxEvent.status == "done")) == 4
    rels = db.session.scalars(select(Relationship)).all()
    assert len(rels) == 4 and all(r.status == "active" and r.state for r in rels)
    assert db.session.scalar(select(func.count()).select_from(TimelineEntry)) == 4
    assert db.session.scalar(select(func.count()).select_from(Customer).where(Customer.name != "")) == 4
    assert db.session.scalar(select(func.count()).select_from(Employee)) >= 1


def test_a_customer_deleting_the_salesperson_ends_the_relationship(embedded):
    from scrm.embedded import connect_sandbox_corp

    info = connect_sandbox_corp(embedded, "wecom", employees=2, customers=0)
    control = embedded.extensions["scrm.sandbox"].extensions["sandbox_control"]
    control.play(info["corp_id"], "scan", customers=1, codes=1, over=0, wait=True)
    control.play(info["corp_id"], "customer_deletes_employee", wait=True)
    db.session.expire_all()
    rel = db.session.scalar(select(Relationship))
    assert rel.status == "removed_by_customer"
    kinds = [e.kind for e in db.session.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]
    assert kinds == ["added", "removed"]


def test_a_dingtalk_departure_reaches_the_product_as_a_signed_callback(embedded):
    from scrm.embedded import connect_sandbox_corp

    info = connect_sandbox_corp(embedded, "dingtalk", employees=3, customers=4)
    control = embedded.extensions["scrm.sandbox"].extensions["sandbox_control"]
    joined = control.play(info["corp_id"], "employee_joins", name="新同事", wait=True)
    assert joined["delivered"] == 1  # the product answered the encrypted "success" the host checks
    userid = joined["result"]["userid"]
    left = control.play(info["corp_id"], "employee_leaves", userid=userid, wait=True)
    assert left["delivered"] == 1
    db.session.expire_all()
    emp = db.session.scalar(select(Employee).where(Employee.host_id == userid))
    assert (emp.name, emp.status) == ("新同事", "departed")
    assert db.session.scalar(select(func.count()).select_from(InboxEvent).where(InboxEvent.status == "done")) == 2


def test_sandbox_commands_take_the_products_corp_key(embedded):
    from scrm.embedded import connect_sandbox_corp

    info = connect_sandbox_corp(embedded, "wecom", employees=2, customers=0)
    result = embedded.test_cli_runner().invoke(args=["sandbox", "play", "scan", "--corp", info["corp_key"],
                                                     "-p", "customers=2", "-p", "codes=1", "-p", "over=0"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Relationship)) == 2


def test_the_relationship_lifecycle_table_against_the_sandbox(embedded):
    """add → removed by the customer → re-added → removed by the employee, one row with its whole history."""
    from scrm.embedded import connect_sandbox_corp
    from scrm.host import ChannelCodeSpec
    from scrm.services.corps import get_corp, host_for

    info = connect_sandbox_corp(embedded, "wecom", employees=2, customers=0)
    control = embedded.extensions["scrm.sandbox"].extensions["sandbox_control"]
    host = host_for(get_corp(info["corp_key"]))
    employee = host.list_employees()[0].user_id
    way = host.create_channel_code(ChannelCodeSpec(state="lifecycle", user_ids=[employee]))
    sbx = info["corp_id"]

    def step(action, **params):
        control.advance(60)
        played = control.play(sbx, action, wait=True, **params)
        assert played["delivered"] == len(played["events"]) == 1, played
        db.session.expire_all()
        return db.session.scalar(select(Relationship))

    added = control.play(sbx, "scan_one", config_id=way.config_id, wait=True)["result"]
    customer = added["external_userid"]
    db.session.expire_all()
    rel = db.session.scalar(select(Relationship))
    assert (rel.status, rel.state) == ("active", "lifecycle")
    assert step("customer_deletes_employee", external_userid=customer).status == "removed_by_customer"
    assert step("scan_one", config_id=way.config_id, external_userid=customer).status == "active"
    rel = step("employee_deletes_customer", external_userid=customer)
    assert (rel.status, rel.end_reason) == ("removed_by_employee", "deleted_by_employee")
    assert db.session.scalar(select(func.count()).select_from(Relationship)) == 1
    kinds = [e.kind for e in db.session.scalars(select(TimelineEntry).order_by(TimelineEntry.occurred_at))]
    assert kinds == ["added", "removed", "readded", "removed"]


def test_sandbox_corps_follow_the_address_the_service_runs_on(embedded):
    """Connected while the service ran on another port, the corps are moved both ways and host calls work."""
    from scrm.embedded import connect_sandbox_corp, follow_address
    from scrm.services import corps, sync

    served = embedded.config["BASE_URL"]
    embedded.config["BASE_URL"] = "http://127.0.0.1:9"  # an earlier run's address: nothing listens there
    info = connect_sandbox_corp(embedded, "wecom", employees=2, customers=3)
    embedded.config["BASE_URL"] = served
    assert info["corp_key"] == "sandbox-wecom" and info["name"] == "星火科技（沙箱）"
    assert follow_address(embedded) == ["sandbox-wecom"]
    assert follow_address(embedded) == []  # already there
    corp = corps.get_corp("sandbox-wecom")
    assert corp.api_base == f"{served}/sandbox/wecom"
    control = embedded.extensions["scrm.sandbox"].extensions["sandbox_control"]
    assert control.corp(corp.corp_id).callback_url == f"{served}/callbacks/wecom/sandbox-wecom"
    assert sync.run_sync(sync.start(corp).id).status == "done"
    assert control.play(corp.corp_id, "join", name="新同事", wait=True)["delivered"] == 1


def test_a_scan_of_a_channel_is_one_command_on_either_host(embedded):
    from scrm.embedded import connect_sandbox_corp, sync_new_sandbox_corps
    from scrm.models import Channel, Tag

    for platform in ("wecom", "dingtalk"):
        connect_sandbox_corp(embedded, platform, employees=3, customers=0, seed=1)
    sync_new_sandbox_corps(embedded, echo=lambda line: None)
    db.session.expire_all()
    ids = {}
    for key in ("sandbox-wecom", "sandbox-dingtalk"):
        from scrm.services import access, corps

        corp = corps.get_corp(key)
        token = access.create_token(corp, "admin")
        employee = db.session.scalar(select(Employee.id).where(Employee.corp_id == corp.id))
        tag = db.session.scalar(select(Tag.id).where(Tag.corp_id == corp.id))
        made = embedded.test_client().post("/api/v1/channels", headers={"Authorization": f"Bearer {token}"},
                                           json={"name": "海报", "members": [{"employee_id": employee}],
                                                 "tags": [tag]})
        assert made.status_code == 201, made.json
        ids[key] = made.json["id"]
    runner = embedded.test_cli_runner()
    for key, channel in ids.items():
        done = runner.invoke(args=["sandbox", "play", "scan", "--corp", key, "--channel", str(channel),
                                   "-p", "customers=2"])
        assert done.exit_code == 0, done.output
    db.session.expire_all()
    for channel in ids.values():
        state = db.session.get(Channel, channel).state
        assert db.session.scalar(select(func.count()).select_from(Relationship)
                                 .where(Relationship.state == state)) == 2
    wrong = runner.invoke(args=["sandbox", "play", "scan", "--corp", "sandbox-wecom", "--channel", "999"])
    assert wrong.exit_code != 0 and "no channel 999" in wrong.output
    other = runner.invoke(args=["sandbox", "play", "churn", "--corp", "sandbox-wecom", "--channel", "1"])
    assert other.exit_code != 0 and "--channel goes with the scan action only" in other.output
