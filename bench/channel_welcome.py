"""Channel welcome benchmark: a burst of customers scanning one channel code while a full sync runs on the bulk queue.

The real pipeline: the sandbox as host (its own gunicorn), the product under gunicorn, Celery workers on Redis
(urgent and bulk), beat, MariaDB. The customers' friendships and welcome codes are created in the sandbox's state
(as the host does when someone scans), then their signed, encrypted add callbacks arrive at the product on
schedule from a load generator on loopback. Prints the share of welcome messages the host accepted inside its
20-second window (counted from the callback; the host itself counts from the moment it issued the code, which is
stricter), the time from callback to send_welcome_msg (p50/p99), how long the rest of the processing took, and
what the sync did meanwhile.

    .venv/bin/python -m bench.channel_welcome [--customers 5000] [--seconds 10] [--members 10]
"""
from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine, insert, select, text

from bench.callback_ingest import MYSQL, REDIS, ROOT, bench_env, free_port, percentile, stop_all
from scrm.services.welcome import NAME_LOOKUP_UNTIL

WINDOW = 20.0
CHANNEL = "直播间"


def add_event(corp_id: str, user: str, customer: str, state: str, code: str, at: int) -> str:
    return (f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{at}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[change_external_contact]]></Event>"
            f"<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[{user}]]></UserID>"
            f"<ExternalUserID><![CDATA[{customer}]]></ExternalUserID><State><![CDATA[{state}]]></State>"
            f"<WelcomeCode><![CDATA[{code}]]></WelcomeCode></xml>")


class Bench:
    """The stack of a channel burst: the sandbox as host, the product (gunicorn, workers, beat), one channel.
    A subclass may change what the class attributes and `seed_customers` / `welcome` say."""

    HOST_WORKERS = 3  # the sandbox's gunicorn workers
    KILLABLE: tuple[str, ...] = ()  # processes started in a process group of their own (to be killed whole)

    def __init__(self, workdir: Path, args):
        self.workdir, self.args = workdir, args
        self.db_name = f"scrm_bench_welcome_{os.getpid()}"
        self.db_url = f"{MYSQL}/{self.db_name}?charset=utf8mb4"
        self.redis_url = REDIS
        self.sandbox_url = f"sqlite:///{workdir / 'sandbox.db'}"
        self.procs: list[subprocess.Popen] = []
        self.named: dict[str, subprocess.Popen] = {}
        self.argv: dict[str, tuple[str, ...]] = {}  # how each process was started (to start it again)

    def env(self) -> dict:
        return {**bench_env(self.db_url, self.workdir), "SCRM_REDIS_URL": self.redis_url}

    def spawn(self, name: str, *argv: str) -> None:
        self.argv[name] = argv
        log = open(self.workdir / f"{name}.log", "a")
        proc = subprocess.Popen(list(argv), env=self.env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=name in self.KILLABLE)
        self.procs.append(proc)
        self.named[name] = proc

    def seed_customers(self) -> int:
        """How many customers the sandbox corp starts with (what the full sync meanwhile reads)."""
        return self.args.sync_customers

    def welcome(self, corp) -> dict:
        """The channel's welcome message."""
        from scrm.services import media

        banner = media.save_image(corp, "welcome.png", _banner())
        return {"text": self.args.welcome,
                "attachments": [{"type": "image", "media_id": banner.id},
                                {"type": "link", "title": "领取优惠券", "url": "https://example.com/c"}]}

    @staticmethod
    def wait_port(port: int) -> None:
        import socket

        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"nothing listens on {port}")

    # ---------------------------------------------------------------- setup

    def start(self) -> None:
        server = create_engine(MYSQL)
        with server.begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{self.db_name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
        server.dispose()
        os.environ.update(self.env())
        import redis

        self.redis = redis.Redis.from_url(self.redis_url)
        self.redis.flushdb()
        from sandbox.app import open_sandbox
        from sandbox.control import Control

        state = open_sandbox(self.sandbox_url)
        self.sandbox = state.db
        control = Control(state)
        self.sbx = control.create_corp("wecom")
        control.seed(self.sbx.corp_id, employees=self.args.employees, customers=self.seed_customers())
        port = free_port()
        python = sys.executable
        self.spawn("sandbox", python, "-m", "gunicorn", "-w", str(self.HOST_WORKERS), "-k", "gthread", "--threads",
                   "16", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                   f"sandbox.app:create_sandbox_app({self.sandbox_url!r})")
        self.wait_port(port)
        self.host_url = f"http://127.0.0.1:{port}"

        from flask_migrate import upgrade

        from scrm.app import create_app
        from scrm.extensions import db
        from scrm.models import Employee, Tag
        from scrm.services import channels, sync
        from scrm.services.corps import register_corp

        self.app = create_app()
        with self.app.app_context():
            upgrade()
            corp = register_corp(platform="wecom", name="bench", corp_id=self.sbx.corp_id, agent_id=self.sbx.agent_id,
                                 secret=self.sbx.secret, callback_token=self.sbx.callback_token,
                                 callback_aes_key=self.sbx.callback_aes_key, api_base=f"{self.host_url}/wecom")
            self.corp_id, self.corp_key = corp.id, corp.corp_key
            for stage in ("employees", "tags"):
                sync.run_sync(sync.start(corp, stage).id)
            staff = list(db.session.scalars(select(Employee).where(Employee.corp_id == corp.id)
                                                 .order_by(Employee.id).limit(self.args.members)))
            tags = list(db.session.scalars(select(Tag).where(Tag.corp_id == corp.id, Tag.host_id.is_not(None))
                                               .order_by(Tag.id).limit(2)))
            channel = channels.create_channel(corp, {
                "name": CHANNEL, "members": [{"employee_id": e.id} for e in staff], "tags": [t.id for t in tags],
                "remark_template": "{channel}{date}", "welcome": self.welcome(corp)})
            self.state, self.listed = channel.state, list(channel.listed_user_ids)
            self.channel_id = channel.id
            self.tag_ids, self.host_tag_ids = [t.id for t in tags], [t.host_id for t in tags]

        self.web_port = free_port()
        self.spawn("web", python, "-m", "gunicorn", "-w", str(self.args.web_workers), "-k", "gthread", "--threads", "8",
                   "-b", f"127.0.0.1:{self.web_port}", "--log-level", "warning", "scrm.wsgi:app")
        celery = [python, "-m", "celery", "-A", "tasks.worker:celery"]
        self.spawn("urgent", *celery, "worker", "-Q", "urgent", "-c", str(self.args.urgent_workers), "-n", "urgent@%h",
                   "--loglevel", "WARNING", "--without-gossip", "--without-mingle")
        # as deployed (docker-compose, README): bulk work at a lower CPU priority than callbacks and welcomes
        self.spawn("bulk", "nice", "-n", "10", *celery, "worker", "-Q", "bulk", "-c", "1", "-n", "bulk@%h",
                   "--loglevel", "WARNING", "--without-gossip", "--without-mingle")
        self.spawn("beat", *celery, "beat", "--loglevel", "WARNING", "-s", str(self.workdir / "beat-schedule"))
        self.wait_port(self.web_port)
        time.sleep(3)  # workers connect to the broker

    def plan(self) -> list[dict]:
        """The customers' scans, created in the host's state ahead of their callbacks (the host does that part)."""
        from sandbox.wecom.seed import external_id
        from sandbox.wecom.models import Customer, Follow, WelcomeCode

        n, spread = self.args.customers, self.args.seconds
        start = self.sandbox.clock.time() + 5
        scans = [{"at": start + i * spread / n, "user": self.listed[i % len(self.listed)], "ext": external_id(),
                  "code": secrets.token_urlsafe(32)} for i in range(n)]
        with self.sandbox.session() as s:
            for chunk in range(0, n, 2000):
                part = scans[chunk:chunk + 2000]
                s.execute(insert(Customer), [dict(external_userid=p["ext"], corp_id=self.sbx.corp_id,
                                                  name=f"观众{i}", type=1, gender=0, unionid="")
                                             for i, p in enumerate(part, chunk)])
                s.execute(insert(Follow), [dict(corp_id=self.sbx.corp_id, userid=p["user"], external_userid=p["ext"],
                                                createtime=int(p["at"]), add_way=1, state=self.state,
                                                oper_userid=p["ext"], tag_ids=[], remark_mobiles=[]) for p in part])
                s.execute(insert(WelcomeCode), [dict(code=p["code"], corp_id=self.sbx.corp_id, userid=p["user"],
                                                     external_userid=p["ext"], issued_at=p["at"], used=False)
                                                for p in part])
        return scans

    # ---------------------------------------------------------------- the burst

    async def burst(self, scans: list[dict]) -> tuple[int, float]:
        from connectors.wecom.crypto import WeComCrypto

        crypto = WeComCrypto(self.sbx.callback_token, self.sbx.callback_aes_key, self.sbx.corp_id)
        url = f"http://127.0.0.1:{self.web_port}/callbacks/wecom/{self.corp_key}"
        errors = 0
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500)) as session:
            async def one(scan):
                nonlocal errors
                ts, nonce = str(int(scan["at"])), secrets.token_hex(5)
                plain = add_event(self.sbx.corp_id, scan["user"], scan["ext"], self.state, scan["code"],
                                  int(scan["at"]))
                body, sig = crypto.signed_envelope(plain, nonce, ts, agent_id=self.sbx.agent_id)
                delay = scan["at"] - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                scan["sent"] = time.time()
                for _ in range(3):  # like the host: a failed delivery is retried
                    try:
                        async with session.post(url, data=body, params={"msg_signature": sig, "timestamp": ts,
                                                                        "nonce": nonce}) as resp:
                            await resp.read()
                            if resp.status == 200:
                                return
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(1)
                errors += 1
            began = time.time()
            await asyncio.gather(*(one(s) for s in scans))
        return errors, time.time() - began

    def start_sync(self) -> None:
        with self.app.app_context():
            self.app.extensions["celery"].send_task("scrm.sync.corp", args=[self.corp_id], queue="bulk")

    # ---------------------------------------------------------------- results

    def welcomes(self, scans: list[dict]) -> dict[str, dict]:
        """What the host accepted, per welcome code: when, and the text."""
        from sandbox.wecom.models import WelcomeCode

        with self.sandbox.session() as s:
            rows = {w.code: w for w in s.scalars(select(WelcomeCode).where(
                WelcomeCode.code.in_([p["code"] for p in scans])))}
        return {p["code"]: rows[p["code"]].message for p in scans
                if rows.get(p["code"]) is not None and rows[p["code"]].used and rows[p["code"]].message}

    def ruled(self, scans: list[dict]) -> int:
        """Scanned customers whose relationship carries the channel's remark and tags on the host."""
        from sandbox.wecom.models import Follow

        with self.sandbox.session() as s:
            follows = s.scalars(select(Follow).where(Follow.external_userid.in_([p["ext"] for p in scans])))
            return sum(1 for f in follows if (f.remark or "").startswith("直播间") and f.tag_ids)

    def wait(self, scans, sync_started: float) -> dict:
        engine = create_engine(self.db_url)
        deadline = time.time() + self.args.drain_timeout
        sent, drained_at, sync_done_at, ruled_at = {}, None, None, None
        with engine.connect() as conn:
            while time.time() < deadline:
                sent = self.welcomes(scans)
                pending = conn.execute(text("SELECT COUNT(*) FROM inbox_event WHERE status IN "
                                            "('pending','processing')")).scalar()
                processed = conn.execute(text("SELECT COUNT(*) FROM inbox_event WHERE status = 'done'")).scalar()
                sync = conn.execute(text("SELECT status FROM sync_run ORDER BY id DESC LIMIT 1")).scalar()
                conn.commit()
                if drained_at is None and not pending and processed >= len(scans):
                    drained_at = time.time()
                if sync_done_at is None and sync in ("done", "failed"):
                    sync_done_at = time.time()
                if drained_at and ruled_at is None and self.ruled(scans) == len(scans):
                    ruled_at = time.time()
                if drained_at and sync_done_at and ruled_at:
                    break
                time.sleep(1)
            outcome = dict(conn.execute(text("SELECT status, COUNT(*) FROM welcome_delivery GROUP BY status")).all())
            sync_row = conn.execute(text("SELECT status, counts, started_at, finished_at, error FROM sync_run "
                                         "ORDER BY id DESC LIMIT 1")).first()
            dead = conn.execute(text("SELECT COUNT(*) FROM inbox_event WHERE status = 'dead'")).scalar()
            rels = conn.execute(text("SELECT COUNT(*) FROM relationship WHERE state = :s"), {"s": self.state}).scalar()
            entries = conn.execute(text("SELECT COUNT(*) FROM timeline_entry WHERE kind = 'added' AND channel_id IS "
                                        "NOT NULL")).scalar()
        engine.dispose()
        return {"sent": sent, "drained_at": drained_at, "sync_done_at": sync_done_at, "outcome": outcome,
                "sync": sync_row, "dead": dead, "relationships": rels, "entries": entries, "ruled_at": ruled_at,
                "ruled": self.ruled(scans)}

    def stop(self) -> None:
        stop_all(self.procs, self.db_name)


class CpuMeter:
    """CPU seconds per component (our processes, MariaDB, Redis) between two readings, from /proc."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, procs: dict[str, subprocess.Popen]):
        self.roots = {name: p.pid for name, p in procs.items()}

    @staticmethod
    def _tree(pid: int) -> list[int]:
        kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        return [pid] + [k for kid in kids for k in CpuMeter._tree(int(kid))]

    def _seconds(self, pids: list[int]) -> float:
        total = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / self.TICK
        return total

    def read(self) -> dict[str, float]:
        groups = {name: self._tree(pid) for name, pid in self.roots.items()}
        for name in ("mariadbd", "redis-server"):
            groups[name] = [int(p) for p in subprocess.run(["pgrep", "-x", name], capture_output=True,
                                                            text=True).stdout.split()]
        groups["load generator"] = [os.getpid()]
        return {name: self._seconds(pids) for name, pids in groups.items()}


def _banner() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (600, 300), "#e8f4ff").save(buf, "PNG")
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--employees", type=int, default=100)
    parser.add_argument("--sync-customers", type=int, default=20000, help="customers the full sync reads meanwhile")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--urgent-workers", type=int, default=8)
    parser.add_argument("--drain-timeout", type=float, default=600)
    parser.add_argument("--welcome", default="{customer_name}您好，我是{employee_name}，感谢关注直播间！",
                        help="the channel's welcome text ({customer_name} costs a host call per welcome)")
    args = parser.parse_args()

    bench = Bench(Path(tempfile.mkdtemp(prefix="scrm-bench-welcome-")), args)
    bench.start()
    try:
        scans = bench.plan()
        sync_started = scans[0]["at"]
        while time.time() < sync_started:
            time.sleep(0.01)
        meter = CpuMeter(bench.named)
        before = meter.read()
        bench.start_sync()
        errors, took = asyncio.run(bench.burst(scans))
        while time.time() < sync_started + WINDOW + args.seconds:
            time.sleep(0.2)
        during = {k: v - before.get(k, 0.0) for k, v in meter.read().items()}
        result = bench.wait(scans, sync_started)
        sent = {code: message["sent_at"] for code, message in result["sent"].items()}
        named = sum(1 for i, p in enumerate(scans) if p["code"] in sent
                    and result["sent"][p["code"]]["text"]["content"].startswith(f"观众{i}您好"))
        latency = [sent[p["code"]] - p["sent"] for p in scans if p["code"] in sent]
        issued = [sent[p["code"]] - p["at"] for p in scans if p["code"] in sent]
        inside = sum(1 for v in latency if v <= WINDOW)
        print(f"burst: {len(scans)} scans of one channel code ({args.members} members) in {took:.1f} s "
              f"({len(scans) / took:.0f}/s), delivery failures {errors}")
        print(f"welcome messages sent within {WINDOW:.0f} s of the callback: {inside}/{len(scans)} = "
              f"{inside / len(scans):.1%}   (target 100%)")
        if latency:
            print(f"callback -> send_welcome_msg: p50 {percentile(latency, 50):.2f} s, p99 {percentile(latency, 99):.2f} s,"
                  f" max {max(latency):.2f} s   (from the code's issue: max {max(issued):.2f} s)")
        by_second: dict[int, list[float]] = {}
        for p in scans:
            if p["code"] in sent:
                by_second.setdefault(int(p["sent"] - scans[0]["sent"]), []).append(sent[p["code"]] - p["sent"])
        print("median wait by second of arrival: " + ", ".join(
            f"{second}s {percentile(waits, 50):.1f}" for second, waits in sorted(by_second.items())))
        if "{customer_name}" in args.welcome:
            print(f"welcomes that carry the customer's name: {named}/{len(sent)} (a welcome later than "
                  f"{NAME_LOOKUP_UNTIL.total_seconds():.0f} s goes out without looking the name up)")
        print(f"product's welcome deliveries by outcome: {result['outcome']}")
        span = WINDOW + args.seconds
        print(f"CPU (cores) over the first {span:.0f} s: " + ", ".join(
            f"{name} {seconds / span:.2f}" for name, seconds in sorted(during.items(), key=lambda i: -i[1])))
        if result["drained_at"]:
            print(f"every event processed (profile, tags, remark) {result['drained_at'] - sync_started:.0f} s after "
                  f"the first scan; relationships {result['relationships']}, 'added' entries {result['entries']}, "
                  f"dead rows {result['dead']}")
        else:
            print(f"events still pending after {args.drain_timeout:.0f} s; dead rows {result['dead']}")
        when = f", all {result['ruled_at'] - sync_started:.0f} s after the first scan" if result["ruled_at"] else ""
        print(f"channel tags and remark on the host: {result['ruled']}/{len(scans)}{when} (the host allows 5 such "
              f"edits at once per corp)")
        status, counts, began, finished, error = result["sync"] or (None, None, None, None, None)
        took_sync = (finished - began).total_seconds() if began and finished else None
        print(f"full sync on the bulk queue meanwhile: {status}, "
              f"{f'{took_sync:.0f} s' if took_sync is not None else 'unfinished'}, {counts}"
              + (f", error: {error}" if error else ""))
        print(f"logs in {bench.workdir}")
    finally:
        bench.stop()


if __name__ == "__main__":
    main()
