import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from scrm.db import transactional, unit_of_work
from scrm.models import Corp, Customer, Employee, Relationship
from scrm.services.corps import register_corp

from tests.builders import make_corp, make_customer, make_employee


def test_duplicate_relationship_is_rejected(db):
    corp = make_corp()
    emp, cust = make_employee(corp), make_customer(corp)
    with unit_of_work():
        db.session.add(Relationship(corp_id=corp.id, employee_id=emp.id, customer_id=cust.id))
    with pytest.raises(IntegrityError):
        with unit_of_work():
            db.session.add(Relationship(corp_id=corp.id, employee_id=emp.id, customer_id=cust.id))
    assert db.session.scalar(select(Relationship).where(Relationship.customer_id == cust.id)) is not None


def test_many_employees_follow_one_customer(db):
    corp = make_corp()
    cust = make_customer(corp)
    employees = [make_employee(corp) for _ in range(3)]
    with unit_of_work():
        for emp in employees:
            db.session.add(Relationship(corp_id=corp.id, employee_id=emp.id, customer_id=cust.id))
    assert len(db.session.scalars(select(Relationship).where(Relationship.customer_id == cust.id)).all()) == 3


def test_emoji_nickname_round_trips(db):
    corp = make_corp()
    name = "小王🐶🎉𠀋 O'Neil <b>"
    cust_id = make_customer(corp, name=name).id
    db.session.expunge_all()
    assert db.session.get(Customer, cust_id).name == name
    raw = db.session.execute(text("SELECT name FROM customer WHERE id = :i"), {"i": cust_id}).scalar_one()
    assert raw == name


def test_tag_names_differing_only_by_emoji_or_case_stay_distinct(db):
    corp = make_corp()
    with unit_of_work():
        db.session.add_all([Customer(corp_id=corp.id, host_id=h, name="x") for h in ("wmAbc", "wmABC")])
    assert db.session.query(Customer).count() == 2


def test_corp_secrets_are_sealed_at_rest(db):
    corp = register_corp(platform="wecom", name="示例", corp_id="ww1", agent_id="1000002",
                         secret="app-secret-VALUE", callback_token="tok123",
                         callback_aes_key="a" * 43)
    raw = db.session.execute(text("SELECT secret, callback_token, callback_aes_key FROM corp WHERE id = :i"),
                             {"i": corp.id}).one()
    for stored, plain in zip(raw, ("app-secret-VALUE", "tok123", "a" * 43)):
        assert plain not in stored and stored.startswith("v1:")
    db.session.expunge_all()
    again = db.session.get(Corp, corp.id)
    assert (again.secret, again.callback_token, again.callback_aes_key) == ("app-secret-VALUE", "tok123", "a" * 43)
    assert "app-secret" not in repr(again)


def test_sealed_value_does_not_open_with_another_key():
    from scrm.secrets_box import SecretBox

    sealed = SecretBox("k1" * 20).seal("secret")
    assert SecretBox("k1" * 20).open(sealed) == "secret"
    with pytest.raises(ValueError):
        SecretBox("k2" * 20).open(sealed)


def test_unit_of_work_rolls_back_everything_on_error(db):
    corp = make_corp()

    @transactional
    def add_two_then_fail():
        db.session.add(Employee(corp_id=corp.id, host_id="a", name="A"))
        with unit_of_work():  # nested: joins the outer unit
            db.session.add(Employee(corp_id=corp.id, host_id="b", name="B"))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        add_two_then_fail()
    assert db.session.scalars(select(Employee)).all() == []


def test_nested_unit_commits_once_at_the_outermost(db, monkeypatch):
    corp = make_corp()
    commits = []
    monkeypatch.setattr(db.session, "commit", lambda: commits.append(1))
    with unit_of_work():
        with unit_of_work():
            db.session.add(Employee(corp_id=corp.id, host_id="c", name="C"))
    assert commits == [1]


def test_a_nested_unit_is_a_savepoint(db):
    """A failed nested unit undoes its own writes and the outer unit goes on (SQLite: it joins the outer unit)."""
    corp = make_corp()
    with unit_of_work():
        db.session.add(Employee(corp_id=corp.id, host_id="kept", name="留下"))
        with pytest.raises(RuntimeError):
            with unit_of_work():
                db.session.add(Employee(corp_id=corp.id, host_id="undone", name="撤销"))
                db.session.flush()
                raise RuntimeError("boom")
    kept = set(db.session.scalars(select(Employee.host_id).where(Employee.corp_id == corp.id)))
    savepoints = db.session.get_bind().dialect.name != "sqlite"
    assert kept == ({"kept"} if savepoints else {"kept", "undone"})


def test_corp_keys_never_read_as_a_command_line_option(monkeypatch):
    from scrm.models import corp as corp_model

    keys = iter(["-leading-dash", "plainkey"])
    monkeypatch.setattr(corp_model.secrets, "token_urlsafe", lambda n: next(keys))
    assert corp_model.new_corp_key() == "plainkey"
