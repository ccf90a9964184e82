"""One sandbox: its database and everything it keeps in memory beside it for the requests it serves.

A `Sandbox` is made by `sandbox.app.open_sandbox` (the sandbox's Flask app holds its own as
`app.extensions["sandbox"]`, and the in-process `Control` drives one). Endpoints, actions and the control surface
all reach the gate, the WeCom token cache, the DingTalk budgets and the callback deliverer through it, so two
sandboxes in one process (tests, a product with a standalone sandbox beside it) never share any of them.
"""
from __future__ import annotations

import threading

from sandbox.core import Clock, Corp, Gate, SandboxDB
from sandbox.delivery import Deliverer


class TokenCache:
    """WeCom access tokens already checked: token -> (generation, corp, expires_at).

    A call need not read its token and corp again while nothing changed them: the control API and the actions that
    do change them bump the database's generation.
    """

    LIMIT = 1000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, Corp, float]] = {}

    def get(self, token: str) -> tuple[float, Corp, float] | None:
        with self._lock:
            return self._known.get(token)

    def put(self, token: str, hit: tuple[float, Corp, float]) -> None:
        with self._lock:
            if len(self._known) > self.LIMIT:
                self._known.clear()
            self._known[token] = hit


class Budgets:
    """DingTalk's per-second call windows per app and API, its monthly counters, and its gateway's IP ban: more than
    `ip_calls` calls in `ip_window` seconds from one address ban it from every API for `ip_ban` seconds."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[tuple[str, str], tuple[int, int]] = {}
        self.months: dict[tuple[str, str], int] = {}
        self.ip_calls, self.ip_window, self.ip_ban = 10_000, 20.0, 300.0
        self.by_address: dict[str, tuple[int, int]] = {}  # address -> (window number, calls)
        self.banned: dict[str, float] = {}  # address -> when its ban ends

    def ip_banned(self, address: str, now: float) -> bool:
        """Count one call from `address`; True while it is banned (the call that trips the limit starts the ban)."""
        window = int(now // self.ip_window)
        with self.lock:
            if self.banned.get(address, 0.0) > now:
                return True
            seen, count = self.by_address.get(address, (window, 0))
            count = count + 1 if seen == window else 1
            self.by_address[address] = (window, count)
            if count > self.ip_calls:
                self.banned[address] = now + self.ip_ban
                return True
            return False


class Sandbox:
    """The state of one sandbox: its database, gate, WeCom token cache, DingTalk budgets and callback deliverer."""

    def __init__(self, db: SandboxDB, *, deliverer: Deliverer | None = None) -> None:
        self.db = db
        self.gate = Gate()
        self.wecom_tokens = TokenCache()
        self.dingtalk_budgets = Budgets()
        self._deliverer = deliverer
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Sandbox({self.db.url.split('@')[-1]})"

    @property
    def clock(self) -> Clock:
        return self.db.clock

    @property
    def deliverer(self) -> Deliverer:
        """The deliverer of this sandbox's callbacks (created on first use: most processes never send one)."""
        with self._lock:
            if self._deliverer is None:
                self._deliverer = Deliverer(self.db)
            return self._deliverer

    def install(self, replacement: Deliverer) -> Deliverer | None:
        """Swap the deliverer (tests install one with a fake sleep); returns the old one, if any was made."""
        with self._lock:
            old, self._deliverer = self._deliverer, replacement
            return old

    def close(self) -> None:
        """Finish the deliveries under way and release the database's connections."""
        with self._lock:
            deliverer, self._deliverer = self._deliverer, None
        if deliverer is not None:
            deliverer.shutdown()
        self.db.engine.dispose()
