"""Funnel benchmark on MariaDB: 1,000,000 relationships (the customer-list benchmark's corp), every customer with a
stage history, `GET /api/v1/funnel` through the JSON API.

Prints p50 and max of: the whole corp (admin), one channel, one region's department, one month, and a manager of
one region. Target: well under 2 s each.

    .venv/bin/python -m bench.funnel [--relationships 1000000] [--requests 3] [--keep]
"""
from __future__ import annotations

import argparse
import importlib.util
import random
import time
from pathlib import Path

from sqlalchemy import func, select, text

from bench.customer_queries import drop_unless_kept, manager_token, open_database, p, populate

# (stage now, the moves that led there: to_stage, hours after the customer was created; the id spreads the times)
HISTORIES = [
    ("intent", [("contacted", 1), ("intent", 5)]),
    ("won", [("contacted", 1), ("intent", 5), ("won", 30)]),
]


def _migration(name: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent.parent / "migrations"
                                                  / "versions" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def histories(db) -> int:
    """Stage changes in SQL for the customers the list benchmark left in intent or won, and a tenth of the corp
    moved to lost after being contacted."""
    conn = db.session.connection()
    for stage, moves in HISTORIES:
        before = "new"
        for to_stage, hours in moves:
            conn.execute(text(
                "INSERT INTO stage_change (corp_id, customer_id, from_stage, to_stage, changed_at) "
                "SELECT corp_id, id, :before, :to, created_at + INTERVAL (:hours * 60 + MOD(id, 97)) MINUTE "
                "FROM customer WHERE stage = :stage"), {"before": before, "to": to_stage, "hours": hours,
                                                        "stage": stage})
            before = to_stage
    for to_stage, hours in (("contacted", 2), ("lost", 48)):
        conn.execute(text(
            "INSERT INTO stage_change (corp_id, customer_id, from_stage, to_stage, changed_at) "
            "SELECT corp_id, id, :before, :to, created_at + INTERVAL (:hours * 60 + MOD(id, 89)) MINUTE "
            "FROM customer WHERE stage = 'new' AND MOD(id, 10) = 3"),
            {"before": "new" if to_stage == "contacted" else "contacted", "to": to_stage, "hours": hours})
    conn.execute(text("UPDATE customer SET stage = 'lost' WHERE stage = 'new' AND MOD(id, 10) = 3"))
    # rows written around the ORM: work out what the funnel reads as migration 0015 does for existing histories
    _migration("0015_funnel_facts").backfill(conn)
    db.session.commit()
    db.session.execute(text("ANALYZE TABLE customer, stage_change"))
    return db.session.scalar(select(func.count()).select_from(text("stage_change")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--relationships", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database for another run")
    args = parser.parse_args()
    server, name = open_database(f"scrm_bench_funnel_{args.relationships}")
    from flask_migrate import upgrade

    from scrm.app import create_app
    from scrm.extensions import db
    from scrm.models import Channel, Corp, Department
    from scrm.services import access
    from scrm.services.corps import register_corp

    app = create_app()
    rng = random.Random(7)
    with app.app_context():
        upgrade()
        corp = db.session.scalar(select(Corp))
        if corp is None:
            corp = register_corp(platform="wecom", name="bench", corp_id="wwbench", agent_id="1", secret="s")
            info = populate(db, corp, args.relationships, rng)
            changes = histories(db)
            print(f"populated {info['customers']} customers, {info['relationships']} relationships, {changes} stage "
                  f"changes in {info['seconds']:.0f}s")
        channel = db.session.scalar(select(Channel.id).order_by(Channel.id))
        region = db.session.scalar(select(Department.id).where(Department.host_id == "r3"))
        token = access.create_token(corp, "admin")
        manager = manager_token(db, corp, access)
    client = app.test_client()

    def timed(bearer: str, **params) -> list[float]:
        times = []
        for _ in range(args.requests):
            started = time.perf_counter()
            resp = client.get("/api/v1/funnel", headers={"Authorization": f"Bearer {bearer}"}, query_string=params)
            times.append(time.perf_counter() - started)
            assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return times, resp.json

    from datetime import date, timedelta
    today = date.today()
    for label, bearer, params in (
            ("whole corp (admin)", token, {}),
            ("one channel", token, {"channel_id": channel}),
            ("one region's department", token, {"department_id": region}),
            ("added in the last 30 days", token, {"from": (today - timedelta(days=29)).isoformat()}),
            ("manager of a region", manager, {})):
        times, body = timed(bearer, **params)
        print(f"{label}: p50 {p(times, 50):.0f} ms, max {max(times) * 1000:.0f} ms "
              f"({body['totals']['customers']} customers; target well under 2000 ms)")
    drop_unless_kept(server, name, args.keep)


if __name__ == "__main__":
    main()
