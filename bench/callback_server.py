"""The product app for the ingest benchmark, plus a reference endpoint on the same server.

`POST /bench/decrypt-only/<corp_key>` verifies and decrypts and parses exactly like the real callback, with the
corp's credentials held in memory, and stores nothing: the ceiling the real endpoint is compared with.
"""
from flask import Response, request

from callbacks.codecs import callback_corp, parse
from scrm.app import create_app

app = create_app()
_cryptos = {}


@app.post("/bench/decrypt-only/<corp_key>")
def decrypt_only(corp_key: str):
    crypto = _cryptos.get(corp_key)
    if crypto is None:
        crypto = _cryptos[corp_key] = callback_corp("wecom", corp_key).crypto
    plain = crypto.decrypt_body(request.get_data(), request.args.get("msg_signature"),
                                request.args.get("timestamp"), request.args.get("nonce"))
    parse("wecom", plain)
    return Response("", status=200)
