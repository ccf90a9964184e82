"""Crash benchmark: a burst of customers scanning one channel code while the web server or the worker is killed.

The real pipeline, as in `bench.channel_welcome`: the sandbox as host (its own gunicorn), the product under
gunicorn, Celery workers on Redis (urgent and niced bulk), beat, MariaDB. One WeCom channel (a contact way) with two
tags, a remark template and a welcome message. The customers' friendships and welcome codes are created in the
sandbox's state (as the host does when someone scans), then their signed, encrypted add callbacks are posted to the
product on schedule over `--seconds`. In the middle of the burst one part is killed with SIGKILL (its whole process
group) and started again at once:

  server  the product's gunicorn (master and workers);
  worker  the urgent Celery worker (master and pool).

Each scenario runs on a fresh database, Redis database and sandbox. The load generator delivers like the WeCom
host (wecom.md §1.5 "Time limit, retries and dedupe": no HTTP 200 within five seconds is a failure, and the request
is sent again, three retries in all; the intervals are undocumented, so the sandbox's `sandbox.delivery.WECOM`
policy is used: 5 s per attempt, retries after 1, 2 and 4 s, each attempt signed afresh). After the burst it waits
until the inbox and the follow-up work have settled (no pending or processing inbox rows, no queued task, figures
unchanged; at most `--settle` seconds), then prints one table per scenario. A correct system shows every figure at
the number of scans and no duplicates.

    .venv/bin/python -m bench.crash_burst [--customers 200] [--scenario server|worker|both] [--seconds 10]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine, select, text

from bench.callback_ingest import MYSQL
from bench.channel_welcome import CHANNEL, Bench, add_event
from sandbox.delivery import WECOM

REDIS = os.environ.get("BENCH_CRASH_REDIS_URL", "redis://127.0.0.1:6379/7")
WINDOW = 20.0
EXT = re.compile(r"<ExternalUserID><!\[CDATA\[([^\]]+)\]\]>")


def alive_in_group(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies, waiting for a parent to reap them, do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


class CrashBench(Bench):
    """One scenario's stack; the web server and the urgent worker run in process groups of their own."""

    HOST_WORKERS = 2
    KILLABLE = ("web", "urgent")

    def __init__(self, workdir: Path, args, scenario: str):
        super().__init__(workdir, args)
        self.scenario = scenario
        self.db_name = f"scrm_bench_crash_{os.getpid()}_{scenario}"
        self.db_url = f"{MYSQL}/{self.db_name}?charset=utf8mb4"
        self.redis_url = args.redis_url
        self.outage: dict[str, float] = {}

    def seed_customers(self) -> int:
        return 10  # no sync runs meanwhile: the sandbox corp needs its employees and tags only

    def welcome(self, corp) -> dict:
        return {"text": "您好，感谢关注直播间！",
                "attachments": [{"type": "link", "title": "领取优惠券", "url": "https://example.com/c"}]}

    # ---------------------------------------------------------------- the crash

    def crash(self, name: str) -> None:
        """SIGKILL the process group of `name`, reap it, start it again with the same command line."""
        proc = self.named[name]
        killed_at = time.time()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        deadline = time.time() + 5
        while alive_in_group(proc.pid) and time.time() < deadline:  # gunicorn's workers hold the socket till gone
            time.sleep(0.01)
        self.spawn(name, *self.argv[name])
        self.outage["restarted"] = time.time() - killed_at
        if name == "web":
            self.wait_healthy()
            self.outage["serving"] = time.time() - killed_at
        self.outage["killed_at"] = killed_at

    def wait_healthy(self) -> None:
        import requests

        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{self.web_port}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise SystemExit("the web server did not come back")

    # ---------------------------------------------------------------- the burst

    async def burst(self, scans: list[dict]) -> dict:
        """Post every add callback on schedule, like the host; kill the chosen part half way through."""
        from connectors.wecom.crypto import WeComCrypto

        crypto = WeComCrypto(self.sbx.callback_token, self.sbx.callback_aes_key, self.sbx.corp_id)
        url = f"http://127.0.0.1:{self.web_port}/callbacks/wecom/{self.corp_key}"
        tally = Counter()
        timeout = aiohttp.ClientTimeout(total=WECOM.timeout)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500), timeout=timeout) as session:
            async def one(scan):
                plain = add_event(self.sbx.corp_id, scan["user"], scan["ext"], self.state, scan["code"],
                                  int(scan["at"]))
                delay = scan["at"] - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                scan["sent"] = time.time()
                for attempt in range(1 + len(WECOM.retry_delays)):
                    if attempt:
                        tally["retries"] += 1
                        await asyncio.sleep(WECOM.retry_delays[attempt - 1])
                    ts, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
                    body, sig = crypto.signed_envelope(plain, nonce, ts, agent_id=self.sbx.agent_id)
                    try:
                        async with session.post(url, data=body, params={"msg_signature": sig, "timestamp": ts,
                                                                        "nonce": nonce}) as resp:
                            await resp.read()
                            if resp.status == 200:
                                tally["acknowledged"] += 1
                                return
                            tally[f"HTTP {resp.status}"] += 1
                    except asyncio.TimeoutError:
                        tally["no answer in 5 s"] += 1
                    except aiohttp.ClientError:
                        tally["refused or reset"] += 1
                tally["given up"] += 1

            async def kill():
                middle = scans[0]["at"] + (scans[-1]["at"] - scans[0]["at"]) / 2
                await asyncio.sleep(max(0.0, middle - time.time()))
                name = "web" if self.scenario == "server" else "urgent"
                await asyncio.get_running_loop().run_in_executor(None, self.crash, name)

            await asyncio.gather(kill(), *(one(s) for s in scans))
        tally["took"] = time.time() - scans[0]["at"]
        return tally

    # ---------------------------------------------------------------- settling and counting

    def queued(self) -> tuple[int, int]:
        """(messages waiting in the broker's queues, messages delivered to a worker and not acknowledged)."""
        waiting = 0
        for key in self.redis.scan_iter(match="*"):
            name = key.decode(errors="replace")
            if (name.startswith("urgent") or name.startswith("bulk")) and self.redis.type(key) == b"list":
                waiting += self.redis.llen(key)
        return waiting, self.redis.hlen("unacked")

    def stranded(self) -> dict[str, int]:
        """The tasks of the messages delivered to a worker and never acknowledged, by name."""
        import json

        names = Counter()
        for raw in self.redis.hvals("unacked"):
            try:
                names[json.loads(raw)[0]["headers"]["task"]] += 1
            except (ValueError, KeyError, IndexError, TypeError):
                names["?"] += 1
        return dict(names)

    def figures(self, conn, scans: list[dict]) -> dict:
        from sandbox.wecom.models import Follow, WelcomeCode

        exts = {p["ext"] for p in scans}
        first_post = {p["code"]: p.get("sent") for p in scans}
        with self.sandbox.session() as s:
            codes = list(s.scalars(select(WelcomeCode).where(WelcomeCode.code.in_(list(first_post)))))
            follows = list(s.scalars(select(Follow).where(Follow.external_userid.in_(list(exts)))))
        sent = [w for w in codes if w.used and w.message]
        inside = sum(1 for w in sent if first_post[w.code] and w.message["sent_at"] - first_post[w.code] <= WINDOW)
        host_tags = sum(1 for f in follows if set(self.host_tag_ids) <= set(f.tag_ids or []))
        host_remarks = sum(1 for f in follows if (f.remark or "").startswith(CHANNEL))

        rows = conn.execute(text("SELECT status, payload, attempts FROM inbox_event WHERE corp_id = :c"),
                            {"c": self.corp_id}).all()
        per_event = Counter(m.group(1) for _, payload, _ in rows if (m := EXT.search(payload)) and m.group(1) in exts)
        statuses = Counter(status for status, _, _ in rows)
        reclaimed = sum(1 for _, _, attempts in rows if attempts > 1)
        rels = conn.execute(text("SELECT COUNT(*) FROM relationship WHERE channel_id = :ch"),
                            {"ch": self.channel_id}).scalar()
        pair_dups = conn.execute(text(
            "SELECT COUNT(*) FROM (SELECT employee_id, customer_id FROM relationship WHERE corp_id = :c "
            "GROUP BY employee_id, customer_id HAVING COUNT(*) > 1) d"), {"c": self.corp_id}).scalar()
        tag_list = ",".join(str(int(t)) for t in self.tag_ids) or "NULL"
        tag_rows = conn.execute(text(
            f"SELECT COUNT(*) FROM relationship_tag rt JOIN relationship r ON r.id = rt.relationship_id "
            f"WHERE r.channel_id = :ch AND rt.tag_id IN ({tag_list})"), {"ch": self.channel_id}).scalar()
        tagged = conn.execute(text(
            f"SELECT COUNT(*) FROM (SELECT rt.relationship_id FROM relationship_tag rt JOIN relationship r "
            f"ON r.id = rt.relationship_id WHERE r.channel_id = :ch AND rt.tag_id IN ({tag_list}) "
            f"GROUP BY rt.relationship_id HAVING COUNT(DISTINCT rt.tag_id) = :n) d"),
            {"ch": self.channel_id, "n": len(self.tag_ids)}).scalar()
        remarks = conn.execute(text("SELECT COUNT(*) FROM relationship WHERE channel_id = :ch AND remark LIKE :r"),
                               {"ch": self.channel_id, "r": f"{CHANNEL}%"}).scalar()
        deliveries = dict(conn.execute(text("SELECT status, COUNT(*) FROM welcome_delivery WHERE corp_id = :c "
                                            "GROUP BY status"), {"c": self.corp_id}).all())
        welcome_dups = conn.execute(text(
            "SELECT COUNT(*) FROM (SELECT customer_host_id, employee_host_id FROM welcome_delivery WHERE corp_id = :c "
            "GROUP BY customer_host_id, employee_host_id HAVING COUNT(*) > 1) d"), {"c": self.corp_id}).scalar()
        try:  # follow-up work stored with the events (where the product keeps it)
            owed = conn.execute(text("SELECT COUNT(*) FROM followup WHERE corp_id = :c AND status IN "
                                     "('pending', 'running')"), {"c": self.corp_id}).scalar()
        except Exception:  # noqa: BLE001 (no such table)
            conn.rollback()
            owed = 0
        conn.commit()
        return {"followups_owed": owed, "inbox": sum(per_event.values()), "events": len(per_event),
                "inbox_dups": sum(1 for n in per_event.values() if n > 1), "statuses": dict(statuses),
                "reclaimed": reclaimed,
                "relationships": rels, "pair_dups": pair_dups, "sent": len(sent), "inside": inside,
                "tag_rows": tag_rows, "tagged": tagged, "host_tags": host_tags, "remarks": remarks,
                "host_remarks": host_remarks, "deliveries": deliveries, "welcome_dups": welcome_dups}

    def settle(self, scans: list[dict]) -> tuple[dict, float, str]:
        """Poll until nothing is left to do (or `--settle` seconds); returns (figures, seconds waited, why it ended)."""
        engine = create_engine(self.db_url)
        began = time.time()
        deadline = began + self.args.settle
        last, stable_since, why = None, time.time(), "timed out"
        n = len(scans)
        try:
            with engine.connect() as conn:
                while True:
                    figures = self.figures(conn, scans)
                    waiting, unacked = self.queued()
                    busy = (figures["statuses"].get("pending", 0) + figures["statuses"].get("processing", 0)
                            + figures["followups_owed"])
                    snapshot = {k: v for k, v in figures.items() if k not in ("statuses", "reclaimed")}
                    if snapshot != last:
                        last, stable_since = snapshot, time.time()
                    stable = time.time() - stable_since
                    complete = all(figures[k] >= n for k in ("events", "relationships", "sent", "tagged",
                                                              "host_tags", "remarks", "host_remarks"))
                    if not busy and not waiting:
                        if complete and not unacked:
                            why = "all done"
                        elif not unacked and stable >= self.args.stable:
                            why = f"nothing left to do, unchanged for {self.args.stable:.0f} s"
                        elif stable >= 2 * self.args.stable:
                            why = f"unchanged for {2 * self.args.stable:.0f} s, {unacked} task(s) unacknowledged"
                        if why != "timed out":
                            break
                    if time.time() >= deadline:
                        break
                    time.sleep(2)
                figures["waiting"], figures["unacked"] = self.queued()
                figures["stranded"] = self.stranded()
        finally:
            engine.dispose()
        return figures, time.time() - began, why


def report(scenario: str, bench: CrashBench, scans: list[dict], tally: Counter, figures: dict, waited: float,
           why: str) -> None:
    n = len(scans)
    outage = bench.outage
    part = "the product's gunicorn (master + workers)" if scenario == "server" else "the urgent Celery worker"
    down = f"restarted after {outage.get('restarted', float('nan')):.2f} s"
    if "serving" in outage:
        down += f", answering /healthz again after {outage['serving']:.2f} s"
    failures = ", ".join(f"{k} {v}" for k, v in sorted(tally.items()) if k not in ("acknowledged", "took", "retries"))
    print(f"\n=== scenario {scenario}: SIGKILL {part} in the middle of the burst; {down}")
    print(f"burst of {n} scans, the last acknowledged or given up {tally['took']:.1f} s after the first; retries {tally['retries']}; "
          f"failed attempts: {failures or 'none'}")
    print(f"settled after {waited:.0f} s ({why}); inbox by status {figures['statuses']}, claimed more than once "
          f"{figures['reclaimed']}; welcome deliveries by status {figures['deliveries']}")
    print(f"broker: {figures['waiting']} queued, {figures['unacked']} delivered and never acknowledged "
          f"{figures['stranded'] or ''}")
    rows = [
        ("scans", n, n),
        ("callbacks acknowledged", tally["acknowledged"], n),
        ("inbox rows (events)", f"{figures['inbox']} ({figures['events']})", n),
        ("relationships", figures["relationships"], n),
        ("welcomes sent (host accepted)", figures["sent"], n),
        (f"  of which within {WINDOW:.0f} s of the callback", figures["inside"], n),
        ("channel tags here (relationships with both; rows)", f"{figures['tagged']} ({figures['tag_rows']})",
         f"{n} ({n * len(bench.tag_ids)})"),
        ("channel tags on the host (both)", figures["host_tags"], n),
        ("remarks here", figures["remarks"], n),
        ("remarks on the host", figures["host_remarks"], n),
        ("duplicates: inbox rows for one event", figures["inbox_dups"], 0),
        ("duplicates: relationships for one pair", figures["pair_dups"], 0),
        ("duplicates: welcome deliveries for one code", figures["welcome_dups"], 0),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  {'measured':>12}  {'target':>12}")
    for label, value, target in rows:
        print(f"{label:{width}}  {str(value):>12}  {str(target):>12}")


def run(scenario: str, args) -> None:
    bench = CrashBench(Path(tempfile.mkdtemp(prefix=f"scrm-bench-crash-{scenario}-")), args, scenario)
    try:
        bench.start()
        scans = bench.plan()
        tally = asyncio.run(bench.burst(scans))
        figures, waited, why = bench.settle(scans)
        report(scenario, bench, scans, tally, figures, waited, why)
        print(f"logs in {bench.workdir}")
    finally:
        bench.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--scenario", choices=("server", "worker", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=10, help="the burst's length")
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--employees", type=int, default=20)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--urgent-workers", type=int, default=4)
    parser.add_argument("--settle", type=float, default=180, help="longest wait for the work to settle, seconds")
    parser.add_argument("--stable", type=float, default=10,
                        help="figures unchanged this long (and nothing queued) count as settled")
    parser.add_argument("--redis-url", default=REDIS, help="a Redis database of its own: it is flushed")
    args = parser.parse_args()
    for scenario in (("server", "worker") if args.scenario == "both" else (args.scenario,)):
        run(scenario, args)


if __name__ == "__main__":
    main()
