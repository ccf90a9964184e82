"""Liveness and readiness probes for load balancers, docker-compose and the on-call engineer."""
from __future__ import annotations

import hmac
import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import text

from scrm import proxies
from scrm.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


def _check_database() -> str | None:
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means not ready
        return type(exc).__name__
    return None


def _check_broker() -> str | None:
    url = current_app.config["BROKER_URL"]
    if not url or current_app.config["TASKS_EAGER"]:
        return None
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return type(exc).__name__
    return None


@bp.get("/readyz")
def readyz():
    checks = {"database": _check_database(), "broker": _check_broker()}
    if "scrm.starting" in current_app.extensions:  # the embedded server's first sync of its sandbox corps
        checks["startup"] = current_app.extensions["scrm.starting"]
    ready = all(v is None for v in checks.values())
    if not ready:
        log.warning("not ready: %s", {k: v for k, v in checks.items() if v})
    body = {"status": "ready" if ready else "not ready",
            "checks": {k: ("ok" if v is None else v if k == "startup" else f"error: {v}") for k, v in checks.items()}}
    if not current_app.config["BROKER_URL"] or current_app.config["TASKS_EAGER"]:
        body["checks"]["broker"] = "in-process"
    return jsonify(body), (200 if ready else 503)


LOOPBACK = proxies.networks("127.0.0.0/8, ::1/128")


def _metrics_refusal():
    """Why this request may not read /metrics (None: it may). With SCRM_METRICS_TOKEN set the bearer token is
    required; the address must lie in SCRM_METRICS_ALLOW (default: loopback, or anywhere once a token is set).
    The address is checked both as the connection's peer and as the client the trusted proxies name, so a
    request relayed for someone outside is not taken for a local one."""
    token = current_app.config["METRICS_TOKEN"]
    allowed = proxies.networks(current_app.config["METRICS_ALLOW"]) or (None if token else LOOPBACK)
    if allowed is not None:
        peer = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR") or request.remote_addr
        if not (proxies.inside(peer, allowed) and proxies.inside(request.remote_addr, allowed)):
            return jsonify(code="forbidden", message="metrics are not served to this address"), 403
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            return jsonify(code="unauthorized", message="a bearer token is required"), 401, \
                {"WWW-Authenticate": 'Bearer realm="metrics"'}
    return None


@bp.get("/metrics")
def prometheus_metrics():
    """Prometheus exposition: callback counters, processing latency, inbox rows and follow-ups by status."""
    from flask import Response

    refused = _metrics_refusal()
    if refused is not None:
        return refused

    from scrm import metrics
    from scrm.services import followups, inbox

    body = metrics.render(inbox.count_by_status, followups.count_by_status)
    return Response(body, content_type="text/plain; version=0.0.4; charset=utf-8")  # charset named once
