"""Full-sync benchmark: a sandbox WeCom corp with 100,000 customers, ~150,000 relationships and 500 employees.

Prints the host API calls the sync used, as a ratio to the minimum the documented page sizes allow
(batch/get_by_user: 100 employees and 100 records a page), and the wall time.

    .venv/bin/python -m bench.sync [--customers 100000] [--employees 500] [--follows 1.5] [--mysql]
"""
from __future__ import annotations

import argparse
import collections
import math
import os
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from werkzeug.serving import make_server

MYSQL = os.environ.get("BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--employees", type=int, default=500)
    parser.add_argument("--follows", type=float, default=1.5, help="average salespeople per customer")
    parser.add_argument("--mysql", action="store_true", help="sync into MariaDB instead of SQLite")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="scrm-bench-sync-"))
    db_name = f"scrm_bench_sync_{os.getpid()}"
    url = f"{MYSQL}/{db_name}?charset=utf8mb4" if args.mysql else f"sqlite:///{workdir / 'scrm.db'}"
    if args.mysql:
        with create_engine(MYSQL).begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{db_name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    os.environ.update(SCRM_DATABASE_URL=url, SCRM_INSTANCE_PATH=str(workdir), SCRM_SANDBOX="0",
                      SCRM_LOG_LEVEL="WARNING", SCRM_SECRET_KEY="bench-secret-key-0123456789-0123456789-abc")
    from flask_migrate import upgrade

    from sandbox.app import create_sandbox_app
    from sandbox.control import Control
    from sandbox.wecom.models import Follow
    from scrm.app import create_app
    from scrm.services import sync
    from scrm.services.corps import register_corp

    sandbox = create_sandbox_app(f"sqlite:///{workdir / 'sandbox.db'}")
    server = make_server("127.0.0.1", 0, sandbox, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    control: Control = sandbox.extensions["sandbox_control"]
    sbx = control.create_corp("wecom")
    started = time.monotonic()
    seeded = control.seed(sbx.corp_id, employees=args.employees, customers=args.customers,
                          follows_per_customer=args.follows)
    print(f"sandbox seeded in {time.monotonic() - started:.1f}s: {seeded}")
    with sandbox.extensions["sandbox"].db.session() as s:
        per_user = collections.Counter(dict(s.execute(select(Follow.userid, func.count()).where(
            Follow.corp_id == sbx.corp_id).group_by(Follow.userid)).all()))

    app = create_app()
    with app.app_context():
        upgrade()
        corp = register_corp(platform="wecom", name="bench", corp_id=sbx.corp_id, agent_id=sbx.agent_id,
                             secret=sbx.secret, api_base=f"http://127.0.0.1:{server.server_port}/wecom")
        before = control.calls(sbx.corp_id)
        started = time.monotonic()
        counts = dict(sync.run_sync(sync.start(corp).id).counts)
        elapsed = time.monotonic() - started
        calls = collections.Counter(control.calls(sbx.corp_id)) - collections.Counter(before)
    staff = sorted(per_user)
    batches = [staff[i:i + sync.EMPLOYEE_BATCH] for i in range(0, len(staff), sync.EMPLOYEE_BATCH)]
    minimum = sum(max(1, math.ceil(sum(per_user[u] for u in batch) / sync.PAGE)) for batch in batches)
    used = calls.get("externalcontact/batch/get_by_user", 0)
    print(f"relationships {counts['relationships']}, customers {counts['customers_created']}, "
          f"employees {counts['employees']}")
    print(f"batch/get_by_user calls: {used}, minimum {minimum}, ratio {used / minimum:.3f}   (target <= 1.05)")
    print(f"all host calls: {sum(calls.values())} {dict(calls)}")
    print(f"wall time: {elapsed:.1f}s ({counts['relationships'] / elapsed:.0f} relationships/s) on "
          f"{'MariaDB' if args.mysql else 'SQLite'}")
    server.shutdown()
    if args.mysql:
        with create_engine(MYSQL).begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{db_name}`"))


if __name__ == "__main__":
    main()
