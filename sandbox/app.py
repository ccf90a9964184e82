"""The sandbox as a WSGI app: `create_sandbox_app(db_url)` to mount under /sandbox or to serve standalone.

Hosts: `/wecom/...` (sandbox.wecom.endpoints) and `/dingtalk/...` (sandbox.dingtalk.endpoints).
Control: `/_control/...` JSON (sandbox.control), the same surface the in-process `Control` offers.
Index: `/` in Chinese (sandbox.index): the hosts' roots, the corps, the clock, the actions, the control routes.
"""
from __future__ import annotations

from flask import Flask

from sandbox.control import Control, control_bp
from sandbox.core import SandboxDB
from sandbox.dingtalk import endpoints as dingtalk_endpoints
from sandbox.index import init_index
from sandbox.state import Sandbox
from sandbox.wecom import endpoints as wecom_endpoints


def open_sandbox(url: str) -> Sandbox:
    """Open (and create the tables of) a sandbox database, and the sandbox that owns it."""
    return Sandbox(SandboxDB(url))  # every table is declared: this module imports both halves and the control


def create_sandbox_app(db_url: str, *, control_token: str | None = None) -> Flask:
    """The sandbox's Flask app: `app.extensions["sandbox"]` is its `Sandbox`, `["sandbox_control"]` its `Control`."""
    app = Flask("sandbox", static_folder=None)  # the index serves its own stylesheet
    app.config["SANDBOX_CONTROL_TOKEN"] = control_token
    app.json.ensure_ascii = False
    sandbox = open_sandbox(db_url)
    app.extensions["sandbox"] = sandbox
    app.extensions["sandbox_control"] = Control(sandbox)
    app.register_blueprint(wecom_endpoints.bp, url_prefix="/wecom")
    app.register_blueprint(dingtalk_endpoints.bp, url_prefix="/dingtalk")
    app.register_blueprint(control_bp, url_prefix="/_control")
    init_index(app)  # `/`: what the sandbox offers; unknown paths a JSON 404 in Chinese
    return app
