"""The signed session cookie of the pages (H5 and console): who is signed in, and the OAuth state of a sign-in
under way. Flask's session is signed with SECRET_KEY, HttpOnly, SameSite=Lax, Secure on https, and lasts
SCRM_WEB_SESSION_HOURS from its last use; it holds ids only (`web_identity.Identity`), turned back into a
principal on every request so access ends when the employee does."""
from __future__ import annotations

import hmac
import secrets
import time

from flask import session

from scrm.services import web_identity
from scrm.services.access import Principal
from scrm.services.web_identity import Identity

WHO = "scrm.who"
OAUTH = "scrm.oauth"
STATE_MAX_AGE = 10 * 60  # a sign-in started more than ten minutes ago starts again


def sign_in(identity: Identity) -> None:
    """A new session for this identity: whatever the cookie held before (another person, a CSRF token) goes."""
    session.clear()
    session[WHO] = identity.dump()
    session.permanent = True


def sign_out() -> None:
    session.clear()


def identity() -> Identity | None:
    return Identity.load(session.get(WHO))


def principal() -> Principal | None:
    """The signed-in principal of this request (None when nobody is, or no longer may be)."""
    return web_identity.principal(identity())


def start_oauth(corp_key: str, next_path: str) -> str:
    """A fresh state for a host sign-in (letters and digits: WeCom allows a-zA-Z0-9, up to 128 bytes), bound to
    this browser's session: a callback carrying another state is refused (login CSRF)."""
    state = secrets.token_hex(16)
    session[OAUTH] = {"s": state, "k": corp_key, "n": safe_next(next_path), "t": int(time.time())}
    return state


def finish_oauth(state: str | None) -> tuple[str, str] | None:
    """The corp key and page of the sign-in this state started, once; None for a foreign, reused or stale state."""
    started = session.pop(OAUTH, None)
    if not isinstance(started, dict) or not isinstance(state, str) or not isinstance(started.get("s"), str):
        return None
    if not hmac.compare_digest(started["s"].encode(), state.encode()[:64]):
        return None
    if time.time() - int(started.get("t") or 0) > STATE_MAX_AGE:
        return None
    return str(started.get("k") or ""), safe_next(started.get("n"))


def safe_next(path, default: str = "/h5/sidebar") -> str:
    """A page of this site to go back to: a local absolute path only (never `//host`, `/\\host` or a scheme)."""
    if not isinstance(path, str) or not path.startswith("/") or path.startswith(("//", "/\\")) or len(path) > 2000:
        return default
    if any(c in path for c in "\r\n\t\\") or ":" in path.split("?", 1)[0]:
        return default
    return path
