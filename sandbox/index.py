"""The sandbox's own index (`/` of its app: `/sandbox/` when mounted), in Chinese: the emulated hosts' roots, the
control surface and its routes, the sandbox corps (never their secrets), the clock, and the commands that play
actions. Unknown paths answer a JSON 404 in Chinese rather than Werkzeug's English page."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template, request
from werkzeug.exceptions import HTTPException

from sandbox import scenarios

# the product's page policy, restated here (the sandbox never imports the product): nothing inline, nothing foreign
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'self'")

index_bp = Blueprint("sandbox_index", __name__, template_folder="templates", static_folder="static",
                     static_url_path="/static")


@index_bp.after_request
def _secure(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def _control_routes(app: Flask) -> list[dict[str, str]]:
    routes = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint.startswith("sandbox_control."):
            methods = sorted(m for m in (rule.methods or ()) if m not in {"HEAD", "OPTIONS"})
            routes.append({"methods": " ".join(methods), "path": rule.rule,
                           "doc": (app.view_functions[rule.endpoint].__doc__ or "").strip().split("\n")[0]})
    return routes


@index_bp.get("/")
def index():
    if not request.environ.get("PATH_INFO"):  # mounted at /sandbox and asked for /sandbox: one canonical address
        return redirect(f"{request.script_root}/", code=308)
    app = current_app._get_current_object()
    control = app.extensions["sandbox_control"]
    guarded = bool(app.config.get("SANDBOX_CONTROL_TOKEN"))
    corps = [] if guarded else [{"name": c.name, "platform": c.platform, "corp_id": c.corp_id}
                                for c in control.corps()]
    now = control.db.clock.time()
    return render_template(
        "sandbox_index/index.html", root=request.script_root, corps=corps, guarded=guarded,
        clock=datetime.fromtimestamp(now, timezone.utc), offset=control.db.clock.offset(),
        routes=_control_routes(app), actions={p: sorted(a) for p, a in scenarios.ACTIONS.items()})


def http_error_json(exc: HTTPException):
    """Every HTTP error of the sandbox's app that no blueprint answered: JSON with a Chinese message."""
    if exc.code == 404:
        message = f"沙箱中没有这个地址：{request.path}；可用的地址见 {request.script_root}/"
    else:
        message = f"请求无法处理（{exc.code}）"
    return jsonify(error=exc.name, message=message, status=exc.code), exc.code


def init_index(app: Flask) -> None:
    app.register_blueprint(index_bp)
    app.register_error_handler(HTTPException, http_error_json)
