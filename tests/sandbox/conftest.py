"""Helpers for the sandbox's own tests: a seeded WeCom corp and a thin caller of its API.

The `sandbox` and `callback_receiver` fixtures are the connectors' (the emulator on a loopback server).
"""
from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.connectors.conftest import callback_receiver, sandbox  # noqa: F401  (the emulator, a callback receiver)


class WeComCaller:
    """Calls `/wecom/cgi-bin/<api>` with a live token; returns the decoded JSON answer."""

    def __init__(self, sandbox, corp):
        self.sandbox, self.corp = sandbox, corp
        self.base = f"{sandbox.wecom_base}/cgi-bin"
        self.token = sandbox.wecom_token(corp)
        self.http = requests.Session()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        params.setdefault("access_token", self.token)
        return self.http.get(f"{self.base}/{path}", params=params, timeout=10).json()

    def post(self, path: str, body: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
        params.setdefault("access_token", self.token)
        return self.http.post(f"{self.base}/{path}", params=params, json=body or {}, timeout=10).json()

    def ok(self, method: str, path: str, *args, **kwargs) -> dict[str, Any]:
        out = getattr(self, method)(path, *args, **kwargs)
        assert out["errcode"] == 0, out
        return out


@pytest.fixture
def corp(sandbox):
    corp = sandbox.create_corp("wecom")
    sandbox.seed(corp, employees=6, customers=60, rng=7)
    return corp


@pytest.fixture
def wecom(sandbox, corp) -> WeComCaller:
    return WeComCaller(sandbox, corp)
