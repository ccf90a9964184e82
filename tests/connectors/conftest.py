"""Connector fixtures: `sandbox` (the emulator on a real loopback server) and `callback_receiver`."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sandbox import delivery
from sandbox.app import create_sandbox_app
from sandbox.control import Control
from sandbox.core import Clock, Corp, SandboxDB
from sandbox.state import Sandbox as SandboxState


class _Server:
    """A threaded werkzeug server on a free loopback port, stopped by close()."""

    def __init__(self, wsgi_app: Callable) -> None:
        self._server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        # a short poll keeps shutdown (once per test) from costing half a second
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)
        self._server.server_close()


@dataclass
class Sandbox:
    """The running sandbox: HTTP root `base_url`, its state (database, clock, deliverer), Flask app and control."""

    base_url: str
    state: SandboxState
    db: SandboxDB
    clock: Clock
    app: Flask
    control: Control
    deliverer: delivery.Deliverer
    sleeps: list[float] = field(default_factory=list)  # retry delays the deliverer was asked to wait

    @property
    def wecom_base(self) -> str:
        return f"{self.base_url}/wecom"

    @property
    def dingtalk_base(self) -> str:
        return f"{self.base_url}/dingtalk"

    def create_corp(self, platform: str = "wecom", **fields: Any) -> Corp:
        return self.control.create_corp(platform, **fields)

    def seed(self, corp: Corp, **params: Any) -> dict[str, int]:
        return self.control.seed(corp.corp_id, **params)

    def play(self, corp: Corp, name: str, /, **params: Any) -> dict[str, Any]:
        return self.control.play(corp.corp_id, name, **params)

    def wecom_token(self, corp: Corp) -> str:
        """A live access token for the corp, fetched over HTTP like a client would."""
        body = requests.get(f"{self.wecom_base}/cgi-bin/gettoken",
                            params={"corpid": corp.corp_id, "corpsecret": corp.secret}, timeout=5).json()
        assert body["errcode"] == 0, body
        return body["access_token"]


@pytest.fixture
def sandbox(tmp_path) -> Iterator[Sandbox]:
    app = create_sandbox_app(f"sqlite:///{tmp_path / 'sandbox.db'}")
    state: SandboxState = app.extensions["sandbox"]
    db = state.db
    sleeps: list[float] = []
    deliverer = delivery.Deliverer(db, sleep=sleeps.append)  # retries without waiting for real
    state.install(deliverer)
    server = _Server(app)
    try:
        yield Sandbox(base_url=server.url, state=state, db=db, clock=db.clock, app=app,
                      control=app.extensions["sandbox_control"], deliverer=deliverer, sleeps=sleeps)
    finally:
        server.close()
        state.close()


@dataclass
class Received:
    args: dict[str, str]
    body: bytes
    headers: dict[str, str]


class CallbackReceiver:
    """Records every request; answers with the queued statuses first, then `default_status`, after `delay` s."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.default_status = 200
        self.body = b""
        self.delay = 0.0
        self._cond = threading.Condition()
        self._server = _Server(self._wsgi)
        self.url = self._server.url + "/callback"

    def _wsgi(self, environ, start_response):
        req = Request(environ)
        if self.delay:
            time.sleep(self.delay)
        with self._cond:
            self.received.append(Received(req.args.to_dict(), req.get_data(), dict(req.headers)))
            status = self.statuses.pop(0) if self.statuses else self.default_status
            self._cond.notify_all()
        return Response(self.body, status=status)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} callbacks, got {len(self.received)}")
                self._cond.wait(left)
            return list(self.received)

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def callback_receiver() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver()
    try:
        yield receiver
    finally:
        receiver.close()
