"""The security headers of every HTML page the product serves (the H5 pages, the API docs page): a strict
Content-Security-Policy (nothing from another origin, no inline script or style), no MIME sniffing, no referrer to
other sites, and pages never cached (they carry CSRF tokens and customers' names)."""
from __future__ import annotations

from flask import Response

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'self'")


def secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response
