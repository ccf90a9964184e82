"""What the funnel reads is kept as the stage history is written: each change's stay in its from_stage and each
customer's set of stages reached, by set_stage and by any flush of stage changes (one written late shortens the stay
of the one after it); migration 0015's backfill works out the same from existing histories; a set too long for its
column is read from the history."""
import importlib.util
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text, update

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.models import Customer, Relationship, StageChange
from scrm.models.stage import REACHED_UNKNOWN, SEPARATOR, decode_reached, encode_reached, stay_seconds
from scrm.services import access, customers
from tests.builders import make_corp, make_customer, make_employee

T0 = datetime(2026, 11, 2, 2, 0)
H = timedelta(hours=1)
MIGRATION = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0015_funnel_facts.py"


def _history(customer_id):
    return [(c.from_stage, c.to_stage, c.stay_seconds) for c in db.session.scalars(
        select(StageChange).where(StageChange.customer_id == customer_id)
        .order_by(StageChange.changed_at, StageChange.id))]


def _reached(customer_id):
    return db.session.scalar(select(Customer.stages_reached).where(Customer.id == customer_id))


def test_set_stage_keeps_the_stays_and_the_stages_reached(app):
    corp = make_corp()
    cust = make_customer(corp, created_at=datetime.utcnow() - timedelta(seconds=90))
    assert _reached(cust.id) == ""
    customers.set_stage(corp, cust.id, "contacted")
    customers.set_stage(corp, cust.id, "lost")
    customers.set_stage(corp, cust.id, "contacted")
    history = _history(cust.id)
    assert [h[:2] for h in history] == [("new", "contacted"), ("contacted", "lost"), ("lost", "contacted")]
    assert 89 <= history[0][2] <= 95 and all(0 <= h[2] <= 5 for h in history[1:])
    assert decode_reached(_reached(cust.id)) == {"contacted", "lost"}
    db.session.expire_all()
    assert db.session.get(Customer, cust.id).stages_reached == _reached(cust.id)


def test_a_change_written_late_moves_the_next_stay(app):
    corp = make_corp()
    cust = make_customer(corp, created_at=T0)
    with unit_of_work():
        db.session.add_all([StageChange(corp_id=corp.id, customer_id=cust.id, from_stage="new", to_stage="contacted",
                                        changed_at=T0 + 2 * H),
                            StageChange(corp_id=corp.id, customer_id=cust.id, from_stage="contacted",
                                        to_stage="won", changed_at=T0 + 10 * H)])
    assert _history(cust.id) == [("new", "contacted", 7200), ("contacted", "won", 28800)]
    with unit_of_work():  # an import brings an intent in between, late
        db.session.add(StageChange(corp_id=corp.id, customer_id=cust.id, from_stage="contacted", to_stage="intent",
                                   changed_at=T0 + 4 * H))
    assert _history(cust.id) == [("new", "contacted", 7200), ("contacted", "intent", 7200),
                                 ("contacted", "won", 21600)]
    assert decode_reached(_reached(cust.id)) == {"contacted", "intent", "won"}
    with unit_of_work():
        db.session.delete(db.session.scalar(select(StageChange).where(StageChange.to_stage == "intent")))
    assert _history(cust.id) == [("new", "contacted", 7200), ("contacted", "won", 28800)]
    assert decode_reached(_reached(cust.id)) == {"contacted", "won"}


def test_the_encoding(app):
    assert encode_reached([]) == "" and decode_reached("") == set()
    assert decode_reached(encode_reached(["won", "contacted", "won"])) == {"contacted", "won"}
    assert encode_reached(["x" * 32] * 1 + [f"{n:032d}" for n in range(30)]) == REACHED_UNKNOWN
    assert encode_reached(["", "won"]) == REACHED_UNKNOWN and encode_reached([f"a{SEPARATOR}b"]) == REACHED_UNKNOWN
    assert decode_reached(REACHED_UNKNOWN) is None
    assert stay_seconds(T0 + timedelta(seconds=59.9), T0) == 59
    assert stay_seconds(T0 - timedelta(seconds=0.5), T0) == -1  # a clock set back stays negative
    assert stay_seconds(T0, None) is None


def test_a_set_too_long_to_store_is_read_from_the_history(app, client):
    corp = make_corp()
    steps = [f"{n:02d}" + "步" * 30 for n in range(25)]  # 25 stages of 32 characters: their set does not fit
    corp.options = {"stages": [*steps, "lost"]}
    with unit_of_work():
        db.session.merge(corp)
    emp = make_employee(corp, host_id="li", name="李四")
    far, near = make_customer(corp, stage=steps[0]), make_customer(corp, stage=steps[0])
    with unit_of_work():
        db.session.add_all([Relationship(corp_id=corp.id, employee_id=emp.id, customer_id=c.id, started_at=T0)
                            for c in (far, near)])
    for stage in steps[1:]:
        customers.set_stage(corp, far.id, stage)
    customers.set_stage(corp, far.id, "lost")
    customers.set_stage(corp, near.id, steps[3])
    customers.set_stage(corp, near.id, steps[1])
    assert _reached(far.id) == REACHED_UNKNOWN
    assert decode_reached(_reached(near.id)) == {steps[3], steps[1]}
    token = access.create_token(corp, "admin")
    body = client.get("/api/v1/funnel", headers={"Authorization": f"Bearer {token}"}).json
    reached = {s["stage"]: s["reached"] for s in body["stages"]}
    assert [reached[s] for s in steps[:5]] == [2, 2, 2, 2, 1] and reached[steps[-1]] == 1
    assert reached["lost"] == 1 and body["totals"]["ever_lost"] == 1 and body["totals"]["lost"] == 1


def _load_migration():
    spec = importlib.util.spec_from_file_location("funnel_facts_0015", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_backfill_works_out_what_the_writes_keep(app):
    corp = make_corp()
    made = []
    for n in range(7):  # more customers than a batch of 3, one with no history, one with a clock set back
        cust = make_customer(corp, created_at=T0 + n * H)
        with unit_of_work():
            stage = "new"
            for k, to_stage in enumerate(["contacted", "intent", "lost", "intent"][: n % 5]):
                at = T0 + n * H + (k + 1) * (-H if n == 3 and k == 0 else 2 * H)
                db.session.add(StageChange(corp_id=corp.id, customer_id=cust.id, from_stage=stage, to_stage=to_stage,
                                           changed_at=at))
                stage = to_stage
        made.append(cust.id)
    kept = {c: (_history(c), _reached(c)) for c in made}
    assert any(h[2] < 0 for history, _ in kept.values() for h in history)
    with unit_of_work():  # as before the migration: nothing worked out
        db.session.execute(update(StageChange).values(stay_seconds=None))
        db.session.execute(update(Customer).values(stages_reached=""))
    db.session.expire_all()
    with unit_of_work():
        _load_migration().backfill(db.session.connection(), batch=3)
    db.session.expire_all()
    assert {c: (_history(c), _reached(c)) for c in made} == kept
    names = {t for t in db.inspect(db.engine).get_table_names()}
    assert not {"funnel_stay_fill", "funnel_reached_fill"} & names
    assert db.session.execute(text("SELECT COUNT(*) FROM stage_change WHERE stay_seconds IS NULL")).scalar() == 0
