"""The JSON API at /api/v1 (flask-smorest; OpenAPI at /api/v1/openapi.json, its docs page at /api/v1/docs in
scrm.api.docs): thin resources over services.

Every request needs `Authorization: Bearer <token>` (`scrm token create`); errors are JSON {code, message} and
validation errors name the field; unknown fields are rejected.
"""
from __future__ import annotations

from flask import Flask, jsonify, request
from flask_smorest import Api

from scrm.errors import Conflict, Forbidden, NotFound, ValidationError
from scrm.host import HostError, HostUnavailable, HostUnsupported

API_PREFIX = "/api/v1"


def init_api(app: Flask) -> Api:
    app.config.update(API_TITLE="SCRM", API_VERSION="v1", OPENAPI_VERSION="3.0.3", OPENAPI_URL_PREFIX=None,
                      API_SPEC_OPTIONS={"components": {"securitySchemes": {
                          "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    from scrm.api.parsing import IdConverter

    app.url_map.converters["int"] = IdConverter  # before the API's routes are added: ids a BIGINT holds
    api = Api(app)
    from scrm.api import (admin, channels, customers, directory, funnel, handovers, jssdk, quick_replies, tokens,
                          welcomes)

    for bp in (customers.bp, directory.bp, channels.bp, funnel.bp, handovers.bp, quick_replies.bp, jssdk.bp,
               tokens.bp, admin.bp, welcomes.bp):
        api.register_blueprint(bp, url_prefix=API_PREFIX)
    _error_handlers(app)
    from scrm.api.docs import init_docs

    init_docs(app, api, API_PREFIX)  # openapi.json in either language and the docs page
    return api


def _error_handlers(app: Flask) -> None:
    def only_api(handler):
        def wrapped(exc):
            if not request.path.startswith(API_PREFIX):
                raise exc
            return handler(exc)
        return wrapped

    @app.errorhandler(ValidationError)
    @only_api
    def invalid(exc: ValidationError):
        return jsonify(code="invalid", message=exc.message, field=exc.field), 422

    @app.errorhandler(NotFound)
    @only_api
    def not_found(exc: NotFound):
        return jsonify(code="not_found", message=str(exc)), 404

    @app.errorhandler(Forbidden)
    @only_api
    def not_yours(exc: Forbidden):
        return jsonify(code="forbidden", message=str(exc)), 403

    @app.errorhandler(Conflict)
    @only_api
    def conflict(exc: Conflict):
        return jsonify(code="conflict", message=str(exc)), 409

    @app.errorhandler(HostUnsupported)
    @only_api
    def unsupported(exc: HostUnsupported):
        return jsonify(code="unsupported", message=str(exc.errmsg)), 409

    @app.errorhandler(HostUnavailable)
    @only_api
    def host_unreachable(exc: HostUnavailable):
        if not exc.unreachable:
            return host_error(exc)
        where = exc.url or "the host"
        return jsonify(code="host_unreachable", message=f"cannot reach the host at {where} "
                                                        f"({exc.errmsg or exc.errcode}); try again later"), 503

    @app.errorhandler(HostError)
    @only_api
    def host_error(exc: HostError):
        return jsonify(code="host_error", message=f"the host refused: {exc.errcode} {exc.errmsg}"), 502

    @app.errorhandler(403)
    @only_api
    def forbidden(exc):
        return jsonify(code="forbidden", message=getattr(exc, "description", "forbidden")), 403

    @app.errorhandler(400)
    @only_api
    def bad_request(exc):
        messages = getattr(exc, "data", {}).get("messages", {})
        found = [m for location in messages.values() for m in (location if isinstance(location, list) else [])]
        return jsonify(code="bad_request", message=found[0] if found else "the request could not be read"), 400

    @app.errorhandler(413)
    @only_api
    def too_large(exc):
        return jsonify(code="too_large", message="the request body is too large"), 413

    @app.errorhandler(422)
    @only_api
    def unprocessable(exc):
        messages = getattr(exc, "data", {}).get("messages", {})
        fields = {name: errs for location in messages.values() for name, errs in location.items()}
        first = next(iter(fields), None)
        return jsonify(code="invalid", message=f"{first}: {fields[first][0]}" if first else "invalid input",
                       field=first, errors=fields), 422


