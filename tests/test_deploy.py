"""Deployment files stay valid (containers cannot run here, so the compose file is checked by its own tool)."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> str:
    exe = shutil.which("docker-compose")
    if exe:
        return exe
    if os.environ.get("CI"):
        pytest.fail("docker-compose is not installed (.ci/run installs Debian's docker-compose)")
    pytest.skip("docker-compose not installed")


def test_docker_compose_config_is_valid():
    env = {**os.environ, "MYSQL_PASSWORD": "pw", "SCRM_SECRET_KEY": "k" * 40,
           "SCRM_BASE_URL": "https://scrm.example.com"}
    proc = subprocess.run([_compose(), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_docker_compose_refuses_to_start_without_secrets():
    env = {k: v for k, v in os.environ.items() if k not in {"MYSQL_PASSWORD", "SCRM_SECRET_KEY", "SCRM_BASE_URL"}}
    proc = subprocess.run([_compose(), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode != 0 and "MYSQL_PASSWORD" in proc.stderr


def test_compose_runs_every_service_the_product_needs():
    env = {**os.environ, "MYSQL_PASSWORD": "pw", "SCRM_SECRET_KEY": "k" * 40,
           "SCRM_BASE_URL": "https://scrm.example.com"}
    proc = subprocess.run([_compose(), "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert set(proc.stdout.split()) == {"mysql", "redis", "migrate", "web", "worker-urgent", "worker-bulk", "beat"}


def test_the_distribution_leaves_the_sandbox_out():
    """`pip install .` ships the product's packages only: the host emulator, tests and benchmarks stay behind."""
    import tomllib

    from setuptools import find_packages

    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = find_packages(str(ROOT), include=find["include"], exclude=find.get("exclude", ()))
    assert {"scrm", "connectors", "callbacks", "tasks", "h5", "console"} <= set(packages)
    assert not [p for p in packages if p.split(".")[0] in {"sandbox", "tests", "bench"}]


def test_the_image_leaves_the_sandbox_tests_and_benchmarks_out():
    ignored = {line.strip().strip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {"sandbox", "tests", "bench"} <= ignored


def test_compose_believes_exactly_the_one_reverse_proxy_in_front_of_web():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "SCRM_TRUSTED_PROXIES: ${SCRM_TRUSTED_PROXIES:-1}" in text
