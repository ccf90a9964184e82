"""The `scrm` console script as an admin uses it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRM = str(Path(sys.executable).with_name("scrm"))


@pytest.fixture
def run(database_url, tmp_path):
    def run(*args, env=None, check=True):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SCRM_")}
        full_env.update(SCRM_INSTANCE_PATH=str(tmp_path), SCRM_DATABASE_URL=database_url,
                        SCRM_SECRET_KEY="test-secret-key-that-is-long-enough-0123456789",
                        SCRM_BASE_URL="https://scrm.example.com", SCRM_LOG_LEVEL="WARNING")
        full_env.update(env or {})
        proc = subprocess.run([SCRM, *args], capture_output=True, text=True, env=full_env, timeout=60)
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc
    return run


def test_corp_add_prints_key_and_callback_url_then_lists(app, run):
    out = run("corp", "add", "--platform", "wecom", "--name", "星火科技", "--corp-id", "wwcli001",
              "--agent-id", "1000002", "--secret", "s3cret-value", "--callback-token", "Tok123",
              "--callback-aes-key", "b" * 43).stdout
    corp = json.loads(out)
    assert corp["callback_url"] == f"https://scrm.example.com/callbacks/wecom/{corp['corp_key']}"
    assert "s3cret" not in out
    listed = json.loads(run("corp", "list", "--json").stdout)
    assert [c["corp_key"] for c in listed] == [corp["corp_key"]]
    shown = json.loads(run("corp", "show", corp["corp_key"]).stdout)
    assert shown["name"] == "星火科技"


def test_corp_add_rejects_a_bad_aes_key_with_the_field_named(app, run):
    proc = run("corp", "add", "--platform", "wecom", "--name", "x", "--corp-id", "wwbad", "--agent-id", "1",
               "--secret", "s", "--callback-aes-key", "short", check=False)
    assert proc.returncode != 0 and "callback_aes_key" in proc.stderr


def test_production_without_secret_key_fails_in_one_line(run):
    proc = run("corp", "list", env={"SCRM_ENV": "production", "SCRM_SECRET_KEY": ""}, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "scrm: configuration error: production requires SCRM_SECRET_KEY, SCRM_REDIS_URL to be set"]


def test_unreachable_database_fails_in_one_line(run):
    proc = run("corp", "list", env={"SCRM_DATABASE_URL": "mysql+pymysql://u:hunter2@127.0.0.1:1/x"}, check=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the database" in lines[0] and "hunter2" not in lines[0]


def test_worker_refuses_in_embedded_mode(run):
    proc = run("worker", check=False)
    assert proc.returncode != 0 and "SCRM_REDIS_URL" in proc.stderr


# the way a production install runs: no host emulator package at all
WITHOUT_SANDBOX = "import sys; sys.modules['sandbox'] = None; from scrm.console import main; main()"


@pytest.mark.parametrize("args", [("sandbox", "seed", "--corp", "ww1"), ("sandbox", "connect"), ("sandbox",)])
def test_sandbox_commands_without_the_sandbox_say_so(database_url, tmp_path, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRM_")}
    env.update(SCRM_INSTANCE_PATH=str(tmp_path), SCRM_DATABASE_URL=database_url, SCRM_SANDBOX="0",
               SCRM_SECRET_KEY="test-secret-key-that-is-long-enough-0123456789", SCRM_LOG_LEVEL="WARNING")
    proc = subprocess.run([sys.executable, "-c", WITHOUT_SANDBOX, *args], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "sandbox (host emulator) is not installed here" in proc.stderr and "Traceback" not in proc.stderr


def test_the_product_runs_without_the_sandbox_when_it_is_off(database_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRM_")}
    env.update(SCRM_INSTANCE_PATH=str(tmp_path), SCRM_DATABASE_URL=database_url, SCRM_SANDBOX="0",
               SCRM_SECRET_KEY="test-secret-key-that-is-long-enough-0123456789", SCRM_LOG_LEVEL="WARNING")
    proc = subprocess.run([sys.executable, "-c", WITHOUT_SANDBOX, "corp", "list", "--json"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, "-c", WITHOUT_SANDBOX, "corp", "list"], capture_output=True, text=True,
                          env={**env, "SCRM_SANDBOX": "1"}, timeout=60)
    assert proc.returncode == 2 and "SCRM_SANDBOX is on but the sandbox" in proc.stderr, proc.stderr


def test_followups_list_shows_what_the_host_refused_and_retry_runs_it_again(app, run):
    from scrm.db import unit_of_work
    from scrm.services import followups
    from tests.builders import make_corp

    corp = make_corp()
    with unit_of_work():
        row = followups.add(corp.id, "scrm.channels.notify", corp.id, "nobody", "新客户")
        row.status, row.last_error = "dead", "HostError: host: errcode=40003 invalid userid"
    listed = run("followups", "list", "--status", "dead").stdout
    assert "scrm.channels.notify" in listed and "40003" in listed
    assert "started 1 follow-up(s)" in run("followups", "retry", str(row.id)).stdout
