"""Handover benchmark: a departed salesperson's customers and group chats handed to colleagues, on the embedded
default (SQLite, in-process tasks, the sandbox mounted on a live loopback server, callbacks delivered).

Prints the host calls of the handover by API against the minimum (one transfer call per 100 customers per taker,
one chat call per 100 chats per new owner, the unassigned list read once by cursor for the plan, one result read
per pair once the host's 24 hours are over), their ratio, the wall time of each step, and the time to every line
final on the sandbox clock (from the first request to the last settled line).

    .venv/bin/python -m bench.handover [--customers 1050] [--chats 12] [--takers 3] [--refuse 5]
"""
from __future__ import annotations

import argparse
import math
import os
import socket
import tempfile
import threading
import time
from datetime import timedelta

DAY = 86400
APIS = ("externalcontact/get_unassigned_list", "externalcontact/groupchat/list",
        "externalcontact/resigned/transfer_customer", "externalcontact/groupchat/transfer",
        "externalcontact/resigned/transfer_result")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1050)
    parser.add_argument("--chats", type=int, default=12)
    parser.add_argument("--takers", type=int, default=3)
    parser.add_argument("--refuse", type=int, default=5)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="scrm-bench-handover-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update({"SCRM_INSTANCE_PATH": folder, "SCRM_BASE_URL": f"http://127.0.0.1:{port}",
                       "SCRM_SANDBOX": "1", "SCRM_LOG_LEVEL": "WARNING"})
    from flask_migrate import upgrade
    from sqlalchemy import select
    from werkzeug.serving import make_server

    from scrm.app import create_app
    from scrm.embedded import connect_sandbox_corp
    from scrm.extensions import db
    from scrm.models import Employee, HandoverLine, utcnow
    from scrm.services import corps, handovers, sync

    app = create_app()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with app.app_context():
        upgrade()
        sandbox = app.extensions["scrm.sandbox"].extensions["sandbox"]
        control = app.extensions["scrm.sandbox"].extensions["sandbox_control"]
        info = connect_sandbox_corp(app, "wecom", employees=args.takers + 1, customers=0, seed=1)
        corp, sbx = corps.get_corp(info["corp_key"]), info["corp_id"]
        control.play(sbx, "give_customers", userid="E00001", count=args.customers)
        control.play(sbx, "give_group_chats", userid="E00001", count=args.chats, customers=1)
        sync.run_sync(sync.start(corp).id)
        control.play(sbx, "leave", userid="E00001", wait=True)
        sandbox.deliverer.wait(60)
        db.session.expire_all()
        giver = db.session.scalar(select(Employee).where(Employee.corp_id == corp.id, Employee.host_id == "E00001"))
        takers = list(db.session.scalars(select(Employee).where(Employee.corp_id == corp.id,
                                                                Employee.status == "active").order_by(Employee.id)))
        before = control.calls(sbx)
        t0 = time.perf_counter()
        _preview, handover = handovers.create(corp, handovers.Spec(kind="departed", from_employee_id=giver.id,
                                                                   to_employee_ids=[t.id for t in takers]))
        t1 = time.perf_counter()
        sandbox_start = control.db.clock.time()
        handovers.start(corp, handover.id)
        t2 = time.perf_counter()
        lines = list(db.session.scalars(select(HandoverLine.host_id).where(HandoverLine.customer_id.is_not(None))
                                        .limit(args.refuse)))
        for ext in lines:
            control.play(sbx, "refuse_transfer", external_userid=ext, wait=True)
        control.advance(DAY + 60)
        handovers.poll(now=utcnow() + timedelta(hours=24, minutes=5))
        t3 = time.perf_counter()
        sandbox.deliverer.wait(300)
        t4 = time.perf_counter()
        db.session.expire_all()
        shown = handovers.show(corp.id, handover.id, lines=False)
        final_at = control.db.clock.time()
        after = control.calls(sbx)
    spent = {api: after.get(api, 0) - before.get(api, 0) for api in APIS}
    per_taker = math.ceil(args.customers / args.takers)
    minimum = {"externalcontact/get_unassigned_list": math.ceil(args.customers / 1000),
               "externalcontact/groupchat/list": 1,
               "externalcontact/resigned/transfer_customer": args.takers * math.ceil(per_taker / 100),
               "externalcontact/groupchat/transfer": min(args.takers, args.chats),
               "externalcontact/resigned/transfer_result": args.takers * math.ceil(per_taker / 1000)}
    print(f"handover of {args.customers} customers and {args.chats} group chats to {args.takers} colleagues "
          f"({args.refuse} refusing): {shown['status']}, {shown['counts']}")
    print(f"{'API':48} {'calls':>6} {'minimum':>8}")
    for api in APIS:
        print(f"{api:48} {spent[api]:>6} {minimum[api]:>8}")
    total, least = sum(spent.values()), sum(minimum.values())
    print(f"{'total':48} {total:>6} {least:>8}   ratio {total / least:.2f}x")
    print(f"plan {t1 - t0:.2f} s, requests sent {t2 - t1:.2f} s, results read {t3 - t2:.2f} s, "
          f"callbacks processed {t4 - t3:.2f} s (wall)")
    print(f"every line final {(final_at - sandbox_start) / 3600:.2f} h after the first request on the sandbox "
          "clock (the host's 24 h + the poll after it)")
    server.shutdown()


if __name__ == "__main__":
    main()
