"""Host callback endpoints: verify, decrypt, store in the inbox, acknowledge. Nothing is processed here.

A callback is acknowledged only after its row is committed; a database failure answers 503 so the host retries.
"""
from __future__ import annotations

import logging
import secrets
import time

from flask import Blueprint, Response, abort, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from callbacks import codecs
from callbacks.ingest import NotStored, ingest
from scrm import metrics
from scrm.events import UrlCheck
from scrm.host import BadSignature, CallbackError, WrongReceiver

bp = Blueprint("callbacks", __name__, url_prefix="/callbacks")
log = logging.getLogger(__name__)

#: The answer to a callback that fails its checks: a signature or receiver that is not ours is forbidden; the rest
#: (malformed bodies, envelopes, payloads) is a bad request.
FORBIDDEN = (BadSignature, WrongReceiver)


def _status(exc: CallbackError) -> int:
    return 403 if isinstance(exc, FORBIDDEN) else 400


def _corp(platform: str, corp_key: str) -> codecs.CallbackCorp:
    try:
        corp = codecs.callback_corp(platform, corp_key)
    except SQLAlchemyError as exc:
        raise NotStored(type(exc).__name__) from exc
    if corp is None:
        metrics.CALLBACKS_REJECTED.labels(platform, "unknown_corp").inc()
        log.warning("callback rejected: unknown corp_key %s for %s", corp_key[:40], platform)
        abort(404)
    return corp


def _body() -> bytes:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    data = request.get_data(cache=False)
    # a chunked body has no length: the stream stops at the limit, so a byte beyond it means too large, not cut
    if request.content_length is None and len(data) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return data


def _handle(platform: str, corp_key: str, work) -> Response:
    metrics.CALLBACKS_RECEIVED.labels(platform).inc()
    try:
        corp = _corp(platform, corp_key)
        return work(corp)
    except CallbackError as exc:
        metrics.CALLBACKS_REJECTED.labels(platform, exc.reason).inc()
        log.warning("callback rejected for %s %s: %s (%s)", platform, corp_key[:40], exc.reason, exc)
        return jsonify(error=exc.reason), _status(exc)
    except RequestEntityTooLarge:
        metrics.CALLBACKS_REJECTED.labels(platform, "too_large").inc()
        log.warning("callback rejected for %s %s: body over %s bytes", platform, corp_key[:40],
                    current_app.config["MAX_CONTENT_LENGTH"])
        return jsonify(error="too_large"), 413
    except NotStored as exc:
        metrics.CALLBACKS_REJECTED.labels(platform, "unavailable").inc()
        log.error("callback for %s %s not stored (database: %s): answering 503 so the host retries",
                  platform, corp_key[:40], exc)
        return jsonify(error="unavailable"), 503


@bp.get("/wecom/<corp_key>")
def wecom_verify(corp_key: str):
    """URL verification: echo the decrypted echostr as the plain body."""
    def work(corp: codecs.CallbackCorp):
        plain = corp.crypto.verify_url(request.args.get("msg_signature"), request.args.get("timestamp"),
                                              request.args.get("nonce"), request.args.get("echostr"))
        return Response(plain, mimetype="text/plain")
    return _handle("wecom", corp_key, work)


@bp.post("/wecom/<corp_key>")
def wecom_event(corp_key: str):
    def work(corp: codecs.CallbackCorp):
        plain = corp.crypto.decrypt_body(_body(), request.args.get("msg_signature"), request.args.get("timestamp"),
                                    request.args.get("nonce"))
        ingest(corp, codecs.parse("wecom", plain))
        return Response("", status=200)
    return _handle("wecom", corp_key, work)


@bp.post("/dingtalk/<corp_key>")
def dingtalk_event(corp_key: str):
    """Events and check_url; both answer the encrypted `success`."""
    def work(corp: codecs.CallbackCorp):
        crypto = corp.crypto
        plain, owner = crypto.open_body(_body(), request.args)
        parsed = codecs.parse("dingtalk", plain)
        if not isinstance(parsed.event, UrlCheck):
            ingest(corp, parsed)
        # sealed for the owner key the request came with: in "either" mode that is the app key or the corp id
        return jsonify(crypto.reply("success", nonce=secrets.token_hex(8), timestamp=str(int(time.time() * 1000)),
                                    owner_key=owner))
    return _handle("dingtalk", corp_key, work)
