"""Authentication for the API blueprints: a Bearer token, or the signed-in session of a page.

A page (the sidebar, the micro-app, the console) calls the same API with its session cookie; every request that
changes something then carries the page's CSRF token in `X-CSRFToken`, since a cookie travels with requests other
sites make too. A Bearer token needs no CSRF token: no browser sends it by itself.
"""
from __future__ import annotations

from flask import g, jsonify, request
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError as CSRFError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def require_token():
    """Every API blueprint runs this before its views: the token (or the session) decides the corp and the role."""
    from scrm import web_session
    from scrm.services.access import authenticate

    header = request.headers.get("Authorization", "")
    if header:
        token = header[7:].strip() if header[:7].lower() == "bearer " else None
        g.principal = authenticate(token)
    else:
        g.principal = web_session.principal()
        if g.principal is not None and request.method not in SAFE_METHODS:
            try:
                validate_csrf(request.headers.get("X-CSRFToken"))
            except CSRFError:
                return jsonify(code="csrf", message="this page's CSRF token is missing or stale: reload the page"), 400
    if g.principal is None:
        return jsonify(code="unauthorized", message="a valid Bearer token (or a signed-in page) is required"), 401
