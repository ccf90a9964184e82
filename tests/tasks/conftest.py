import os
import subprocess
import sys
import time

import pytest


@pytest.fixture
def celery_worker_process(database_url, redis_url, tmp_path):
    """A real `celery worker` process on the leg's database and Redis; killed after the test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRM_")}
    env.update(SCRM_DATABASE_URL=database_url, SCRM_REDIS_URL=redis_url, SCRM_INSTANCE_PATH=str(tmp_path),
               SCRM_SECRET_KEY="test-secret-key-that-is-long-enough-0123456789", SCRM_LOG_LEVEL="WARNING")
    log = open(tmp_path / "worker.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "tasks.worker:celery", "worker", "-Q", "urgent,bulk",
                             "-c", "1", "--without-gossip", "--without-mingle", "-n", f"test-{os.getpid()}@%h"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    if proc.returncode not in (0, -15):
        sys.stderr.write((tmp_path / "worker.log").read_text())
