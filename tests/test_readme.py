"""The README's quick start, replayed as a newcomer would: `make run` on a fresh instance, then the block of
commands for the second terminal, in order, as written (only the port differs, so the test never meets a server
someone runs on 5000)."""
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> list[str]:
    """The shell commands of the quick start's second block: a command starts at the line's first column, its
    continuation lines are indented."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Quick start"):]
    section = section[:section.index("\n## ", 5)]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert blocks, "the quick start has a shell block"
    commands: list[str] = []
    for line in blocks[0].splitlines():
        if line.startswith((" ", "\t")):
            commands[-1] += "\n" + line
        elif line.strip():
            commands.append(line)
    return commands


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    """`make run` as the README says, on a fresh instance folder; yields (port, env) once /readyz is ready."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRM_")}
    env["SCRM_INSTANCE_PATH"] = str(tmp_path / "instance")
    log = open(tmp_path / "make-run.log", "w")
    proc = subprocess.Popen(["make", "--no-print-directory", "run", f"PORT={port}"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, (tmp_path / "make-run.log").read_text()[-3000:]
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "make-run.log").read_text()[-3000:]
            time.sleep(0.5)
        yield port, env, tmp_path / "make-run.log"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def test_the_quick_start_works_as_written_right_after_make_run(served):
    port, env, log = served
    started = log.read_text()
    assert "synced sandbox-wecom" in started and "synced sandbox-dingtalk" in started and "ready: open" in started
    commands = quick_start_commands()
    # one shell, as a terminal is (the token exported stays), stopping at the first command that fails
    script = "".join(f"echo '==CMD {n}=='\n" + c.replace("127.0.0.1:5000", f"127.0.0.1:{port}") + "\n"
                     for n, c in enumerate(commands))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    parts = re.split(r"==CMD \d+==\n", done.stdout)[1:]
    assert done.returncode == 0, f"failed: {commands[len(parts) - 1]}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    answers = [part.strip() for part in parts]
    assert len(answers) == 8, commands
    corps, _, employees, channel, scan, customers, stats, welcomes = answers
    assert f"127.0.0.1:{port}/callbacks/wecom/sandbox-wecom" in corps  # the served address, not 5000
    assert len(json.loads(employees)["items"]) == 20
    created = json.loads(channel)
    assert created["id"] == 1 and created["config_id"], channel
    assert json.loads(scan)["delivered"] == 3
    assert json.loads(customers)["total"] == 3
    assert json.loads(stats)["total"]["new"] == 3, stats
    assert len([line for line in welcomes.splitlines() if " sent " in f" {line} "]) == 3, welcomes
    assert "星火科技" in corps and "（沙箱）（沙箱）" not in corps and "Traceback" not in log.read_text()
