"""WeCom callback crypto: the public vectors, round trips, interop with wechatpy, and every rejection."""
from __future__ import annotations

import base64
import hashlib
import os
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.enterprise.crypto import WeChatCrypto

from connectors.wecom import crypto as crypto_mod
from connectors import framing
from connectors.wecom.crypto import WeComCrypto, normalize_echostr
from scrm.host import BadSignature, MalformedPayload, WrongReceiver

# Vector C (wechatpy tests/test_crypto.py @v1.8.18)
C = WeComCrypto("123456", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", "wx49f0ab532d5d035a")
C_PLAIN = ("<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n"
           "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n"
           "<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>")
C_ENCRYPT = ("9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObve"
             "sEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRr"
             "rNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oaz"
             "PoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3")
C_DECRYPT = ("RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGym"
             "zxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIi"
             "OAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvcc"
             "TKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=")
C_ECHO = "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="

# Tencent's sample (sbzhu/weworkapi_python callback/Sample.py)
T = WeComCrypto("hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", "ww1436e0e65a779aee")
T_BODY = (b"<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n<Encrypt><![CDATA[Kl7kjoSf6DMD1zh7rtrHjFaDapSCka"
          b"Onwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+N"
          b"cT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2"
          b"pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYu"
          b"PDGOCI8jmnKiypE+]]></Encrypt>\n<AgentID><![CDATA[1000002]]></AgentID>\n</xml>")

# The older official sample, whose echostr is given URL-encoded
O = WeComCrypto("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
O_ECHO = "P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D"
O_ENCRYPT = ("RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYv"
             "uJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc"
             "2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4"
             "EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2"
             "YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==")


def random_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()[:-1]


# ---------------------------------------------------------------- public vectors


def test_vector_c_verify_url():
    assert C.verify_url("dd6b9c95b495b3f7e2901bfbc76c664930ffdb96", "1411443780", "437374425",
                        C_ECHO) == "5927782489442352469"


def test_vector_c_deterministic_encrypt_and_reply_xml():
    encrypt, sig = C.encrypt(C_PLAIN, "461056294", "1411525903", random_prefix=b"1234567890123456")
    assert encrypt == C_ENCRYPT
    assert sig == "407518b7649e86ef23978113f92d27afa9296533"
    reply = C.encrypt_reply(C_PLAIN, "461056294", "1411525903", random_prefix=b"1234567890123456")
    assert reply == ("<xml>\n<Encrypt><![CDATA[" + C_ENCRYPT + "]]></Encrypt>\n"
                     "<MsgSignature><![CDATA[407518b7649e86ef23978113f92d27afa9296533]]></MsgSignature>\n"
                     "<TimeStamp>1411525903</TimeStamp>\n<Nonce><![CDATA[461056294]]></Nonce>\n</xml>")


def test_vector_c_decrypt():
    text = C.decrypt("74d92dfeb87ba7c714f89d98870ae5eb62dff26d", "1411525903", "461056294", C_DECRYPT)
    assert "<FromUserName><![CDATA[messense]]></FromUserName>" in text
    assert "<Content><![CDATA[test]]></Content>" in text
    assert "<MsgId>4363689963896700987</MsgId>" in text
    assert "<AgentID>1</AgentID>" in text


def test_vector_c_decrypt_body_with_envelope():
    body = ("<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>\n<Encrypt><![CDATA[" + C_DECRYPT +
            "]]></Encrypt>\n<AgentID><![CDATA[1]]></AgentID>\n</xml>").encode()
    text = C.decrypt_body(body, "74d92dfeb87ba7c714f89d98870ae5eb62dff26d", "1411525903", "461056294")
    assert "<Content><![CDATA[test]]></Content>" in text


def test_tencent_sample_verify_and_decrypt():
    assert T.verify_url("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683",
                        "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==") \
        == "1288432023552776189"
    text = T.decrypt_body(T_BODY, "0c3914025cb4b4d68103f6bfc8db550f79dcf48e", "1476422779", "1597212914")
    assert text == ("<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
                    "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
                    "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>")


def test_older_sample_url_encoded_echostr_and_post():
    sig = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    assert O.verify_url(sig, "1409659589", "263014780", O_ECHO) == "1616140317555161061"
    text = O.decrypt("477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149", O_ENCRYPT)
    assert "<Content><![CDATA[hello]]></Content>" in text and "<AgentID>218</AgentID>" in text


def test_echostr_whose_plus_signs_became_spaces():
    mangled = C_ECHO.replace("+", " ")
    assert " " in mangled
    assert C.verify_url("dd6b9c95b495b3f7e2901bfbc76c664930ffdb96", "1411443780", "437374425",
                        mangled) == "5927782489442352469"
    assert normalize_echostr("a%2Bb%2Fc%3D") == "a+b/c="
    assert normalize_echostr("a b") == "a+b"


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("receive_id", ["ww" + os.urandom(8).hex(), "", "suite_中文"])
def test_round_trip_random_keys_and_every_pad_length(receive_id):
    crypto = WeComCrypto(os.urandom(8).hex(), random_key(), receive_id)
    for size in range(0, 70):  # covers every pad value 1..32
        plain = "x" * size
        encrypt, sig = crypto.encrypt(plain, "nonce", "1700000000")
        assert len(base64.b64decode(encrypt)) % 32 == 0
        assert crypto.decrypt(sig, "1700000000", "nonce", encrypt) == plain


def test_round_trip_emoji_and_chinese():
    crypto = WeComCrypto("tok", random_key(), "wwcorp")
    plain = "<xml><Content><![CDATA[你好 😀👨‍👩‍👧 ✓]]></Content></xml>"
    body, sig = crypto.signed_envelope(plain, "123", "1700000000", 1000002)
    assert crypto.decrypt_body(body, sig, "1700000000", "123") == plain


def test_round_trip_one_mebibyte():
    crypto = WeComCrypto("tok", random_key(), "wwcorp")
    plain = "😀" * ((1 << 20) // 4)  # four UTF-8 bytes each: exactly 1 MiB
    encrypt, sig = crypto.encrypt(plain, "n", "1")
    assert crypto.decrypt(sig, "1", "n", encrypt) == plain


def test_envelope_shape_and_signature_over_its_encrypt():
    crypto = WeComCrypto("tok", random_key(), "wwcorp")
    body = crypto.envelope("<xml/>", "n1", "1700000000", "1000002")
    text = body.decode()
    assert text.startswith("<xml><ToUserName><![CDATA[wwcorp]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID>")
    encrypt = text.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    assert crypto.decrypt_body(body, crypto.signature("1700000000", "n1", encrypt), "1700000000", "n1") == "<xml/>"


def test_random_prefix_is_fresh_and_from_the_csprng(monkeypatch):
    crypto = WeComCrypto("tok", random_key(), "wwcorp")
    first, _ = crypto.encrypt("same", "n", "1")
    second, _ = crypto.encrypt("same", "n", "1")
    assert first != second
    calls = []
    real = framing.secrets.choice
    monkeypatch.setattr(framing.secrets, "choice", lambda seq: calls.append(1) or real(seq))
    crypto.encrypt("same", "n", "1")
    assert len(calls) == 16


def test_signature_compare_is_constant_time(monkeypatch):
    seen = []
    real = crypto_mod.hmac.compare_digest
    monkeypatch.setattr(crypto_mod.hmac, "compare_digest", lambda a, b: seen.append((a, b)) or real(a, b))
    C.verify_url("dd6b9c95b495b3f7e2901bfbc76c664930ffdb96", "1411443780", "437374425", C_ECHO)
    assert (b"dd6b9c95b495b3f7e2901bfbc76c664930ffdb96",) * 2 in seen


def test_interop_with_wechatpy_both_directions():
    key = random_key()
    ours = WeComCrypto("tok", key, "wwcorp")
    theirs = WeChatCrypto("tok", key, "wwcorp")
    reply = ours.encrypt_reply("<xml><A>你好</A></xml>", "n", "1700000000")
    import xmltodict
    parsed = xmltodict.parse(reply)["xml"]
    assert theirs.decrypt_message(reply, parsed["MsgSignature"], "1700000000", "n") == "<xml><A>你好</A></xml>"
    their_reply = xmltodict.parse(theirs.encrypt_message("<xml><B>😀</B></xml>", "n2", "1700000001"))["xml"]
    assert ours.decrypt(their_reply["MsgSignature"], "1700000001", "n2", their_reply["Encrypt"]) == "<xml><B>😀</B></xml>"


# ---------------------------------------------------------------- rejections


def _raw_encrypt(crypto: WeComCrypto, raw: bytes) -> tuple[str, str]:
    """Encrypt already-framed, already-padded bytes with the crypto's key, and sign the result."""
    key = crypto._key
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    encrypt = base64.b64encode(enc.update(raw) + enc.finalize()).decode()
    return encrypt, crypto.signature("1", "n", encrypt)


def _frame(msg: bytes, receiver: bytes, length: int | None = None) -> bytes:
    return b"R" * 16 + struct.pack(">I", len(msg) if length is None else length) + msg + receiver


def _pkcs7(data: bytes) -> bytes:
    n = 32 - len(data) % 32
    return data + bytes([n]) * n


def test_bad_signature():
    with pytest.raises(BadSignature) as err:
        C.verify_url("dd6b9c95b495b3f7e2901bfbc76c664930ffdb96", "1411443780", "437374424", C_ECHO)
    assert err.value.reason == "signature"
    with pytest.raises(BadSignature):
        C.decrypt(None, "1411525903", "461056294", C_DECRYPT)
    with pytest.raises(BadSignature):
        C.decrypt("0" * 40, "1411525903", "461056294", C_DECRYPT)
    with pytest.raises(BadSignature):
        C.decrypt("签名", "1411525903", "461056294", C_DECRYPT)


def test_wrong_receiver():
    other = WeComCrypto("123456", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", "wwsomeoneelse")
    with pytest.raises(WrongReceiver) as err:
        other.decrypt("74d92dfeb87ba7c714f89d98870ae5eb62dff26d", "1411525903", "461056294", C_DECRYPT)
    assert err.value.reason == "receive_id"
    crypto = WeComCrypto("t", random_key(), "wwcorp")
    encrypt, sig = _raw_encrypt(crypto, _pkcs7(_frame(b"<xml/>", b"wwcorpX")))
    with pytest.raises(WrongReceiver):
        crypto.decrypt(sig, "1", "n", encrypt)


def test_bad_base64_and_partial_blocks():
    crypto = WeComCrypto("t", random_key(), "wwcorp")
    for value in ("not base64!!", "QUJD", ""):
        with pytest.raises(MalformedPayload) as err:
            crypto.decrypt(crypto.signature("1", "n", value), "1", "n", value)
        assert err.value.reason == "base64"


@pytest.mark.parametrize("tail", [bytes([0]), bytes([33]), bytes([3, 3, 4, 3]), bytes([200])])
def test_bad_padding(tail):
    crypto = WeComCrypto("t", random_key(), "wwcorp")
    framed = _frame(b"<xml/>", b"wwcorp")
    raw = framed + b"\x05" * (64 - len(framed) - len(tail)) + tail
    encrypt, sig = _raw_encrypt(crypto, raw)
    with pytest.raises(MalformedPayload) as err:
        crypto.decrypt(sig, "1", "n", encrypt)
    assert err.value.reason == "padding"


def test_length_field_out_of_bounds_and_short_frame():
    crypto = WeComCrypto("t", random_key(), "wwcorp")
    encrypt, sig = _raw_encrypt(crypto, _pkcs7(_frame(b"<xml/>", b"wwcorp", length=10_000)))
    with pytest.raises(MalformedPayload) as err:
        crypto.decrypt(sig, "1", "n", encrypt)
    assert err.value.reason == "length"
    encrypt, sig = _raw_encrypt(crypto, _pkcs7(b"tooshort"))
    with pytest.raises(MalformedPayload) as err:
        crypto.decrypt(sig, "1", "n", encrypt)
    assert err.value.reason == "length"


def test_non_utf8_message():
    crypto = WeComCrypto("t", random_key(), "wwcorp")
    encrypt, sig = _raw_encrypt(crypto, _pkcs7(_frame(b"\xff\xfe<xml/>", b"wwcorp")))
    with pytest.raises(MalformedPayload) as err:
        crypto.decrypt(sig, "1", "n", encrypt)
    assert err.value.reason == "encoding"


def test_envelope_without_encrypt_or_not_xml_or_with_entities():
    crypto = WeComCrypto("t", random_key(), "wwcorp")
    for body, reason in [(b"<xml><ToUserName>x</ToUserName></xml>", "no_encrypt"),
                         (b"<xml><Encrypt></Encrypt></xml>", "no_encrypt"),
                         (b"<xml><Encrypt>abc", "xml"),
                         (b"", "xml"),
                         (b'<!DOCTYPE x [<!ENTITY e "boom">]><xml><Encrypt>&e;</Encrypt></xml>', "xml_entities")]:
        with pytest.raises(MalformedPayload) as err:
            crypto.decrypt_body(body, "sig", "1", "n")
        assert err.value.reason == reason, body


def test_missing_echostr():
    with pytest.raises(MalformedPayload):
        C.verify_url("x", "1", "n", None)


def test_bad_key_and_prefix():
    with pytest.raises(ValueError):
        WeComCrypto("t", "short", "ww")
    with pytest.raises(ValueError):
        WeComCrypto("t", "!" * 43, "ww")
    with pytest.raises(ValueError):
        C.encrypt("x", "n", "1", random_prefix=b"123")


def test_repr_hides_key_and_token():
    crypto = WeComCrypto("tok-secret", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", "wwcorp")
    assert "tok-secret" not in repr(crypto) and "kWxPEV" not in repr(crypto)


def test_signature_matches_the_documented_formula():
    expected = hashlib.sha1("".join(sorted(["tok", "1", "n", "enc"])).encode()).hexdigest()
    assert crypto_mod.signature("tok", "1", "n", "enc") == expected
