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
