"""Bearer-token authentication for the API blueprints."""
from __future__ import annotations

from flask import g, jsonify, request


def require_token():
    """Every API blueprint runs this before its views: the Bearer token decides the corp and the role."""
    from scrm.services.access import authenticate

    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    g.principal = authenticate(token)
    if g.principal is None:
        return jsonify(code="unauthorized", message="a valid Bearer token is required"), 401
