"""Customer-list benchmark on MariaDB: 1,000,000 relationships, queried through the JSON API.

Prints p50/p95 of: the customer list filtered by two tags and a channel (one page, with its total), the total
count alone, and the customer 360. Targets: list p95 < 100 ms, count < 500 ms, 360 < 50 ms. Then the same list
and the unfiltered first page for a manager of one region (a tenth of the corp: the region's department subtree,
everyone also in the root department as on DingTalk).

    .venv/bin/python -m bench.customer_queries [--relationships 1000000] [--requests 40]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text

MYSQL = os.environ.get("BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
CHUNK = 20_000


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] * 1000


def populate(db, corp, relationships: int, rng: random.Random) -> dict:
    """Employees, tags, channels, customers (1.4 relationships each on average) and tags on relationships."""
    from scrm.models import Channel, Customer, Employee, Relationship, RelationshipTag, Tag, TagGroup

    conn = db.session.connection()
    conn.execute(insert(Employee), [dict(corp_id=corp.id, host_id=f"E{i:05d}", name=f"员工{i}", status="active")
                                    for i in range(1000)])
    employees = list(db.session.scalars(select(Employee.id)))
    group = TagGroup(corp_id=corp.id, host_id="g1", name="标签")
    db.session.add(group)
    db.session.flush()
    conn.execute(insert(Tag), [dict(corp_id=corp.id, group_id=group.id, host_id=f"t{i}", name=f"标签{i}", order=i)
                               for i in range(40)])
    tags = list(db.session.scalars(select(Tag.id)))
    conn.execute(insert(Channel), [dict(corp_id=corp.id, name=f"渠道{i}", state=f"ch{i}") for i in range(30)])
    channels = list(db.session.scalars(select(Channel.id)))
    db.session.commit()
    organise(db, corp, employees)
    customers = int(relationships / 1.4)
    started = time.monotonic()
    for start in range(0, customers, CHUNK):
        rows = [dict(corp_id=corp.id, host_id=f"wm{n:09d}", name=f"客户{n}", stage=rng.choice(("new", "intent", "won")))
                for n in range(start, min(customers, start + CHUNK))]
        db.session.connection().execute(insert(Customer), rows)
        db.session.commit()
    first = db.session.scalar(select(func.min(Customer.id)))
    made, rel_id = 0, None
    while made < relationships:
        rels, seen = [], set()
        for _ in range(min(CHUNK, relationships - made)):
            cust = first + rng.randrange(customers)
            emp = rng.choice(employees)
            if (emp, cust) in seen:
                continue
            seen.add((emp, cust))
            rels.append(dict(corp_id=corp.id, employee_id=emp, customer_id=cust, channel_id=rng.choice(channels)
                             if rng.random() < 0.6 else None, status="active" if rng.random() < 0.9
                             else "removed_by_customer"))
        try:
            db.session.connection().execute(insert(Relationship).prefix_with("IGNORE"), rels)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        made = db.session.scalar(select(func.count()).select_from(Relationship))
    low = db.session.scalar(select(func.min(Relationship.id)))
    high = db.session.scalar(select(func.max(Relationship.id)))
    for start in range(low, high + 1, CHUNK):
        owners = dict(db.session.execute(select(Relationship.id, Relationship.customer_id).where(
            Relationship.id >= start, Relationship.id < start + CHUNK)).all())
        rows = {(r, t) for r in owners for t in rng.sample(tags, rng.randint(0, 3))}
        if rows:
            db.session.connection().execute(insert(RelationshipTag).prefix_with("IGNORE"),
                                            [dict(relationship_id=r, tag_id=t, customer_id=owners[r]) for r, t in rows])
            db.session.commit()
    db.session.execute(text("ANALYZE TABLE customer, relationship, relationship_tag"))
    return {"customers": customers, "relationships": made, "tags": tags, "channels": channels,
            "seconds": time.monotonic() - started}


def organise(db, corp, employees: list[int]) -> None:
    """Root 1, ten regions r0..r9 under it, five teams under each; every employee in a team and in the root."""
    from scrm.models import Department, EmployeeDepartment

    conn = db.session.connection()
    depts = [dict(corp_id=corp.id, host_id="1", name="总部", parent_host_id=None)]
    depts += [dict(corp_id=corp.id, host_id=f"r{r}", name=f"大区{r}", parent_host_id="1") for r in range(10)]
    depts += [dict(corp_id=corp.id, host_id=f"r{r}t{t}", name=f"小组{r}-{t}", parent_host_id=f"r{r}")
              for r in range(10) for t in range(5)]
    conn.execute(insert(Department), depts)
    ids = dict(db.session.execute(select(Department.host_id, Department.id)).all())
    conn.execute(insert(EmployeeDepartment), [dict(employee_id=e, department_id=d) for n, e in enumerate(employees)
                                              for d in (ids["1"], ids[f"r{n % 10}t{n // 10 % 5}"])])
    db.session.commit()


def manager_token(db, corp, access) -> str:
    """A manager of region r3, in the root department too."""
    from scrm.models import Department, Employee, EmployeeDepartment

    emp = db.session.scalar(select(Employee).where(Employee.corp_id == corp.id, Employee.host_id == "M-r3"))
    if emp is None:  # a kept database has them from the run that populated it
        emp = Employee(corp_id=corp.id, host_id="M-r3", name="大区经理")
        db.session.add(emp)
        db.session.flush()
        for host_id in ("1", "r3"):
            db.session.add(EmployeeDepartment(employee_id=emp.id, department_id=db.session.scalar(
                select(Department.id).where(Department.host_id == host_id))))
        db.session.commit()
    return access.create_token(corp, "manager", employee_id=emp.id)


def open_database(default_name: str, **settings):
    """The benchmark's own MariaDB database (BENCH_DB, else `default_name`), created when missing, and the SCRM_
    settings of the app pointed at it; the server's engine and the database's name."""
    name = os.environ.get("BENCH_DB", default_name)
    server = create_engine(MYSQL)
    with server.begin() as conn:
        if not conn.execute(text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :n"),
                            {"n": name}).scalar():
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    os.environ.update(SCRM_DATABASE_URL=f"{MYSQL}/{name}?charset=utf8mb4", SCRM_SANDBOX="0",
                      SCRM_INSTANCE_PATH=tempfile.mkdtemp(), SCRM_LOG_LEVEL="WARNING",
                      SCRM_SECRET_KEY="bench-secret-key-0123456789-0123456789-abc", **settings)
    return server, name


def drop_unless_kept(server, name: str, keep: bool) -> None:
    """A database the run created for itself goes; one asked for by BENCH_DB or --keep stays for another run."""
    if not keep and "BENCH_DB" not in os.environ:
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--relationships", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the database for another run")
    args = parser.parse_args()
    server, name = open_database(f"scrm_bench_q_{args.relationships}")
    from flask_migrate import upgrade

    from scrm.app import create_app
    from scrm.extensions import db
    from scrm.models import Channel, Corp, Customer, Tag
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
            print(f"populated {info['customers']} customers, {info['relationships']} relationships in "
                  f"{info['seconds']:.0f}s")
        tags = list(db.session.scalars(select(Tag.id)))
        channels = list(db.session.scalars(select(Channel.id)))
        customer_ids = list(db.session.scalars(select(Customer.id).order_by(func.rand()).limit(args.requests)))
        token = access.create_token(corp, "admin")
        manager = manager_token(db, corp, access)
    client = app.test_client()

    def timed(path: str, bearer: str = token, **params) -> tuple[float, dict]:
        started = time.perf_counter()
        resp = client.get(path, headers={"Authorization": f"Bearer {bearer}"}, query_string=params)
        elapsed = time.perf_counter() - started
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return elapsed, resp.json

    lists, totals = [], []
    for _ in range(args.requests):
        params = dict(tags=rng.sample(tags, 2), tag_mode="all", channel=rng.choice(channels), limit=50)
        elapsed, body = timed("/api/v1/customers", **params)
        lists.append(elapsed)
        totals.append(body["total"])
    with app.app_context():
        from scrm.services import customer_desk
        from scrm.services.access import authenticate

        principal, counts = authenticate(token), []
        for _ in range(args.requests):
            filters = dict(tags=rng.sample(tags, 2), tag_mode="all", channel=rng.choice(channels))
            started = time.perf_counter()
            customer_desk.count(principal, filters)
            counts.append(time.perf_counter() - started)
    views = [timed(f"/api/v1/customers/{cid}")[0] for cid in customer_ids]
    print(f"list, 2 tags (all) + channel, 50 a page with total: p50 {p(lists, 50):.1f} ms, p95 {p(lists, 95):.1f} ms "
          f"(target p95 < 100 ms); matches per query: median {statistics.median(totals):.0f}")
    print(f"total count alone: p50 {p(counts, 50):.1f} ms, max {max(counts) * 1000:.1f} ms (target < 500 ms)")
    print(f"customer 360: p50 {p(views, 50):.1f} ms, p95 {p(views, 95):.1f} ms (target < 50 ms)")
    scoped, firsts, seen = [], [], []
    for _ in range(args.requests):
        params = dict(tags=rng.sample(tags, 2), tag_mode="all", channel=rng.choice(channels), limit=50)
        scoped.append(timed("/api/v1/customers", manager, **params)[0])
        elapsed, body = timed("/api/v1/customers", manager, limit=50)
        firsts.append(elapsed)
        seen.append(body["total"])
    print(f"manager of a region, same filtered list: p50 {p(scoped, 50):.1f} ms, p95 {p(scoped, 95):.1f} ms; "
          f"unfiltered first page with total: p50 {p(firsts, 50):.1f} ms, p95 {p(firsts, 95):.1f} ms "
          f"({seen[0]} customers in scope)")
    drop_unless_kept(server, name, args.keep)


if __name__ == "__main__":
    main()
