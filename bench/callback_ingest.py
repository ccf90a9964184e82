"""Callback ingest benchmark: gunicorn + MariaDB + Redis + a Celery worker, the sandbox as host, load on loopback.

Prints, for valid encrypted WeCom add events:
  - sustained callbacks/s and ack latency on the real endpoint (verify, decrypt, store, enqueue, ack), closed loop;
  - the same server's throughput on a reference endpoint that only verifies and decrypts, and the ratio;
  - ack latency p50/p99 at a fixed offered rate (default 200/s), open loop;
  - triple delivery: every event sent three times, then the count of rows, relationships and timeline entries.

    .venv/bin/python -m bench.callback_ingest [--seconds 10] [--rate 200] [--concurrency 32] [--events 300]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
MYSQL = os.environ.get("BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def add_event(corp_id: str, user: str, customer: str, at: int) -> str:
    return (f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{at}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[change_external_contact]]></Event>"
            f"<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[{user}]]></UserID>"
            f"<ExternalUserID><![CDATA[{customer}]]></ExternalUserID><State><![CDATA[bench]]></State>"
            f"<WelcomeCode><![CDATA[{secrets.token_hex(8)}]]></WelcomeCode></xml>")


class Stack:
    """Sandbox (thread), product under gunicorn, one Celery worker; a fresh MariaDB database."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.db_name = f"scrm_bench_{os.getpid()}"
        self.db_url = f"{MYSQL}/{self.db_name}?charset=utf8mb4"
        self.procs: list[subprocess.Popen] = []

    def env(self) -> dict:
        return bench_env(self.db_url, self.workdir)

    def start(self, employees: int, customers: int) -> None:
        server = create_engine(MYSQL)
        with server.begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{self.db_name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
        server.dispose()
        os.environ.update(self.env())
        from flask_migrate import upgrade

        from sandbox.app import open_sandbox
        from sandbox.control import Control
        from scrm.app import create_app
        from scrm.services.corps import register_corp

        # the host emulator runs in its own process, like a remote host: it must not steal the load generator's CPU
        sandbox_db = f"sqlite:///{self.workdir / 'sandbox.db'}"
        state = open_sandbox(sandbox_db)
        self.sandbox_db = state.db
        control = Control(state)
        self.sbx = control.create_corp("wecom")
        control.seed(self.sbx.corp_id, employees=employees, customers=customers)
        sandbox_port = free_port()
        self.procs.append(subprocess.Popen(
            [str(Path(sys.executable).with_name("scrm")), "sandbox", "serve", "--db", sandbox_db, "--port",
             str(sandbox_port)], env=self.env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"

        self.app = create_app()
        with self.app.app_context():
            upgrade()
            corp = register_corp(platform="wecom", name="bench", corp_id=self.sbx.corp_id,
                                 agent_id=self.sbx.agent_id, secret=self.sbx.secret,
                                 callback_token=self.sbx.callback_token,
                                 callback_aes_key=self.sbx.callback_aes_key, api_base=f"{sandbox_url}/wecom")
            self.corp_key = corp.corp_key
        import redis

        redis.Redis.from_url(REDIS).flushdb()
        self.port = free_port()
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", os.environ.get("BENCH_WEB_WORKERS", "4"), "-k", "gthread", "--threads", os.environ.get("BENCH_WEB_THREADS", "8"), "-b",
             f"127.0.0.1:{self.port}", "--log-level", "warning", "bench.callback_server:app"],
            env=self.env(), cwd=ROOT))
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not start")

    def start_worker(self, concurrency: int = 2) -> None:
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks.worker:celery", "worker", "-Q", "urgent", "-c",
             str(concurrency), "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
            env=self.env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def friends(self) -> list[tuple[str, str]]:
        from sandbox.wecom.models import Follow

        with self.sandbox_db.session() as s:
            return [(f.userid, f.external_userid) for f in s.scalars(select(Follow))]

    def stop(self) -> None:
        stop_all(self.procs, self.db_name)


def bench_env(db_url: str, workdir: Path) -> dict:
    """The environment of a benchmark's processes: its own database and instance folder, Redis, no sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRM_")}
    env.update(SCRM_DATABASE_URL=db_url, SCRM_REDIS_URL=REDIS, SCRM_SANDBOX="0", SCRM_INSTANCE_PATH=str(workdir),
               SCRM_LOG_LEVEL="WARNING", SCRM_SECRET_KEY="bench-secret-key-0123456789-0123456789-abcdef",
               PYTHONPATH=str(ROOT))
    return env


def stop_all(procs: list[subprocess.Popen], db_name: str) -> None:
    """Stop a benchmark's processes and drop its database (kept with BENCH_KEEP_DB=1)."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    if os.environ.get("BENCH_KEEP_DB"):
        print(f"kept database {db_name}")
        return
    server = create_engine(MYSQL)
    with server.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{db_name}`"))
    server.dispose()


def sign_all(stack: Stack, events: list[str]) -> list[tuple[bytes, dict]]:
    from connectors.wecom.crypto import WeComCrypto

    crypto = WeComCrypto(stack.sbx.callback_token, stack.sbx.callback_aes_key, stack.sbx.corp_id)
    out = []
    for plain in events:
        ts, nonce = str(int(time.time())), secrets.token_hex(5)
        body, sig = crypto.signed_envelope(plain, nonce, ts, agent_id=stack.sbx.agent_id)
        out.append((body, {"msg_signature": sig, "timestamp": ts, "nonce": nonce}))
    return out


async def post(session: aiohttp.ClientSession, url: str, body: bytes, query: dict, latencies: list[float]) -> bool:
    """One callback; its ack latency is recorded when the answer is 200."""
    started = time.perf_counter()
    async with session.post(url, data=body, params=query) as resp:
        await resp.read()
        if resp.status != 200:
            return False
        latencies.append(time.perf_counter() - started)
        return True


async def closed_loop(url: str, requests: list, concurrency: int, seconds: float) -> tuple[float, list[float], int]:
    """As fast as `concurrency` clients can go for `seconds`; returns (acks per second, latencies, errors)."""
    latencies, errors, index = [], 0, 0
    started_at = time.perf_counter()
    deadline = started_at + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def client():
            nonlocal index, errors
            while time.perf_counter() < deadline and index < len(requests):
                body, query = requests[index]
                index += 1
                errors += not await post(session, url, body, query, latencies)
        await asyncio.gather(*(client() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started_at), latencies, errors


async def open_loop(url: str, requests: list, rate: float) -> tuple[list[float], int, float]:
    """Send at a fixed rate regardless of answers (like a host); returns (latencies, errors, achieved rate)."""
    latencies, errors = [], 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500)) as session:
        async def one(body, query):
            nonlocal errors
            errors += not await post(session, url, body, query, latencies)
        tasks, start = [], time.perf_counter()
        for n, (body, query) in enumerate(requests):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(body, query)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return latencies, errors, len(requests) / elapsed


def fmt(latencies: list[float]) -> str:
    return (f"p50 {percentile(latencies, 50) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms" if latencies else "no answers")


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--events", type=int, default=300, help="events for the triple-delivery check")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="scrm-bench-"))
    stack = Stack(workdir)
    stack.start(employees=20, customers=args.events)
    try:
        base = f"http://127.0.0.1:{stack.port}"
        real, ref = f"{base}/callbacks/wecom/{stack.corp_key}", f"{base}/bench/decrypt-only/{stack.corp_key}"
        budget = int(args.seconds * 6000)  # more events than the server can take in the time
        users = [f"bench{n}" for n in range(20)]

        def fresh(n):
            return sign_all(stack, [add_event(stack.sbx.corp_id, random.choice(users), f"wmbench{uuid.uuid4().hex}",
                                              int(time.time())) for _ in range(n)])

        asyncio.run(closed_loop(ref, fresh(200), args.concurrency, 2))  # warm up both paths
        asyncio.run(closed_loop(real, fresh(200), args.concurrency, 2))

        rps_ref, lat_ref, err_ref = asyncio.run(closed_loop(ref, fresh(budget), args.concurrency, args.seconds))
        rps_real, lat_real, err_real = asyncio.run(closed_loop(real, fresh(budget), args.concurrency, args.seconds))
        print(f"reference (verify + decrypt only): {rps_ref:8.1f} callbacks/s  {fmt(lat_ref)}  errors {err_ref}")
        print(f"ingest (verify, decrypt, store, enqueue): {rps_real:8.1f} callbacks/s  {fmt(lat_real)}  "
              f"errors {err_real}")
        print(f"ratio ingest / reference: {rps_real / rps_ref:.2f}   (target >= 0.50)")

        stack.start_worker()  # from here on, events are processed while they arrive

        lat_rate, err_rate, achieved = asyncio.run(open_loop(real, fresh(int(args.rate * args.seconds)), args.rate))
        print(f"open loop at {achieved:.0f}/s: {fmt(lat_rate)}  errors {err_rate}   (target p99 < 50 ms)")

        friends = stack.friends()[:args.events]
        events = [add_event(stack.sbx.corp_id, u, c, int(time.time())) for u, c in friends]
        deliveries = [r for plain in events for r in sign_all(stack, [plain] * 3)]
        random.shuffle(deliveries)
        asyncio.run(open_loop(real, deliveries, args.rate))
        engine = create_engine(stack.db_url)
        customers = [c for _, c in friends]
        deadline = time.time() + 300
        with engine.connect() as conn:
            while time.time() < deadline:
                pending = conn.execute(text("SELECT COUNT(*) FROM inbox_event WHERE status IN ('pending',"
                                            "'processing')")).scalar()
                conn.commit()
                if not pending:
                    break
                time.sleep(1)
            from scrm.models import Customer, InboxEvent, Relationship, TimelineEntry

            rows = conn.execute(select(func.count()).select_from(InboxEvent).where(
                InboxEvent.payload.like("%<State><![CDATA[bench]]>%"))).scalar()
            rels = conn.execute(select(func.count()).select_from(Relationship).join(
                Customer, Customer.id == Relationship.customer_id).where(Customer.host_id.in_(customers))).scalar()
            entries = conn.execute(select(func.count()).select_from(TimelineEntry).join(
                Customer, Customer.id == TimelineEntry.customer_id).where(Customer.host_id.in_(customers),
                                                                          TimelineEntry.kind == "added")).scalar()
            dead = conn.execute(text("SELECT COUNT(*) FROM inbox_event WHERE status='dead'")).scalar()
        engine.dispose()
        print(f"triple delivery: {len(events)} events x3 = {len(deliveries)} callbacks -> relationships {rels}, "
              f"'added' timeline entries {entries} (expected {len(events)} each); dead rows {dead}; "
              f"inbox rows in all {rows}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
