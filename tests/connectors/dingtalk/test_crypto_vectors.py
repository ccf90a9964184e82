"""The published DingTalk vectors, round trips, and every way a callback can be bad."""
import base64
import json
import secrets

import pytest

from connectors.dingtalk.crypto import DingTalkCrypto, signature
from scrm.host import BadSignature, MalformedPayload, WrongReceiver

TOKEN, AES, SUITE = "123456", "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ij", "suite4xxxxxxxxxxxxxxx"
V1_ENCRYPT = ("1a3NBxmCFwkCJvfoQ7WhJHB+iX3qHPsc9JbaDznE1i03peOk1LaOQoRz3+nlyGNhwmwJ3vDMG+OzrHMeiZI7gTRWVdUBmfxjZ8Ej23"
              "JVYa9VrYeJ5as7XM/ZpulX8NEQis44w53h1qAgnC3PRzM7Zc/D6Ibr0rgUathB6zRHP8PYrfgnNOS9PhSBdHlegK+AGGanfwjXuQ9+0p"
              "Zcy0w9lQ==")
V1_PLAIN = '{"EventType":"check_create_suite_url","Random":"LPIdSnlF","TestSuiteKey":"suite4xxxxxxxxxxxxxxx"}'
V2_ENCRYPT = ("5DJFWzjRNOQk+5GSZxW+VrFMDWCIidPjEjg3//gm5x556BedVi62rDj1F9uXU97a4jw1R4FACUv9RCpoDobNqxhxRB2YtW901k4KHb"
              "P1/wpFJ3xdLG0n0A8U1VhENg80zKJd+YROR0YMGum4WYuoXJ6J98vt0ihYeIFoapNddLML5MyNAGM9saSpkouDMSvD+iU14i7V8ix1ia1"
              "Tb9ogog==")


def test_v1_official_vector_decrypts():
    crypto = DingTalkCrypto(TOKEN, AES, SUITE)
    plain = crypto.decrypt("5a65ceeef9aab2d149439f82dc191dd6c5cbe2c0", "1445827045067", "nEXhMP4r", V1_ENCRYPT)
    assert plain == V1_PLAIN


def test_v2_deterministic_encrypt():
    crypto = DingTalkCrypto(TOKEN, AES, SUITE)
    encrypt, sig = crypto.encrypt(V1_PLAIN, "nEXhMP4r", "1445827045067", random_prefix=b"1234567890123456")
    assert encrypt == V2_ENCRYPT
    assert sig == "bcf6dcefa4ce2dbaf7b0666c7264d46fd9aad4bd"


@pytest.mark.parametrize("size", [0, 1, 11, 12, 27, 28, 1000, 100_000])
def test_round_trips_every_pad_length(size):
    key = base64.b64encode(secrets.token_bytes(32)).decode()[:43]
    crypto = DingTalkCrypto("tok", key, "dingappkey")
    message = json.dumps({"EventType": "x", "name": "小明🐯" + "a" * size}, ensure_ascii=False)
    encrypt, sig = crypto.encrypt(message, "n1", "1700000000000")
    assert "\n" not in encrypt
    assert crypto.decrypt(sig, "1700000000000", "n1", encrypt) == message


def test_reply_decrypts_to_success():
    crypto = DingTalkCrypto(TOKEN, AES, "dingappkey")
    reply = crypto.reply()
    assert set(reply) == {"msg_signature", "timeStamp", "nonce", "encrypt"}
    assert crypto.decrypt(reply["msg_signature"], reply["timeStamp"], reply["nonce"], reply["encrypt"]) == "success"


def test_wrong_owner_key_is_refused_but_an_allowed_alternative_passes():
    encrypt, sig = DingTalkCrypto(TOKEN, AES, "dingcorp").encrypt("{}", "n", "1")
    with pytest.raises(WrongReceiver):
        DingTalkCrypto(TOKEN, AES, "dingappkey").decrypt(sig, "1", "n", encrypt)
    assert DingTalkCrypto(TOKEN, AES, ["dingappkey", "dingcorp"]).decrypt(sig, "1", "n", encrypt) == "{}"


def test_bad_signature_and_missing_parameters():
    crypto = DingTalkCrypto(TOKEN, AES, SUITE)
    with pytest.raises(BadSignature):
        crypto.decrypt("0" * 40, "1445827045067", "nEXhMP4r", V1_ENCRYPT)
    with pytest.raises(BadSignature):
        crypto.decrypt(None, "1445827045067", "nEXhMP4r", V1_ENCRYPT)


@pytest.mark.parametrize("encrypt", ["***", base64.b64encode(b"x" * 5).decode(),
                                     base64.b64encode(secrets.token_bytes(64)).decode()])
def test_malformed_ciphertexts(encrypt):
    crypto = DingTalkCrypto(TOKEN, AES, SUITE)
    with pytest.raises(MalformedPayload):
        crypto.decrypt(signature(TOKEN, "1", "n", encrypt), "1", "n", encrypt)


def test_body_parameter_names_and_shapes():
    crypto = DingTalkCrypto(TOKEN, AES, "app")
    encrypt, sig = crypto.encrypt('{"EventType":"check_url"}', "n", "1")
    body = json.dumps({"encrypt": encrypt}).encode()
    assert crypto.decrypt_body(body, {"signature": sig, "timeStamp": "1", "nonce": "n"}) == '{"EventType":"check_url"}'
    for bad in (b"nope", b"[]", b'{"encrypt": 1}'):
        with pytest.raises(MalformedPayload):
            crypto.decrypt_body(bad, {"msg_signature": sig, "timestamp": "1", "nonce": "n"})
