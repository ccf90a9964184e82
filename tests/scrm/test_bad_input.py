"""Hostile and out-of-range input gets a precise 4xx, never a 500: the callbacks of both hosts and the JSON API."""
import io
import struct
import zlib

import pytest
from sqlalchemy import func, select

from scrm.extensions import db
from scrm.host import Capability
from scrm.models import InboxEvent, Relationship
from tests.callbacks import test_dingtalk as dt
from tests.callbacks import test_wecom as wc
from tests.fakes import FakeHost
from tests.scrm.test_api import call, world  # noqa: F401  (two corps, three employees, five customers, tokens)

HUGE = 2 ** 63  # one past the largest BIGINT
NESTED = b"[" * 100_000


def rows():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(InboxEvent))


# ---------------------------------------------------------------- callbacks, both hosts


@pytest.fixture(params=["wecom", "dingtalk"])
def host(request, app, fake_host):
    """A corp of either platform with the pieces to sign and post its callbacks."""
    module = wc if request.param == "wecom" else dt
    if request.param == "dingtalk":
        fake_host.capabilities = FakeHost.capabilities - {Capability.CREATE_CHANNEL_CODE}
    corp = module.corp.__wrapped__(app, fake_host)
    return request.param, module, corp


@pytest.mark.parametrize("body", [NESTED, b'{"encrypt": ' + NESTED + b"}", b"<xml>" * 100_000])
def test_a_deeply_nested_unauthenticated_body_is_400(client, host, body):
    platform, module, corp = host
    r = client.post(f"/callbacks/{platform}/{corp.corp_key}", data=body, query_string={"msg_signature": "x"},
                    content_type="application/json")
    assert r.status_code == 400 and rows() == 0


def test_a_deeply_nested_signed_payload_is_400(client, host):
    platform, module, corp = host
    body, query = module.signed("<xml>" * 100_000) if platform == "wecom" else _dingtalk_signed_text("[" * 100_000)
    assert module.post(client, corp, body, query).status_code == 400 and rows() == 0


def _dingtalk_signed_text(text: str):
    import json
    import secrets
    import time

    from connectors.dingtalk.crypto import DingTalkCrypto

    ts, nonce = str(int(time.time() * 1000)), secrets.token_hex(4)
    encrypt, sig = DingTalkCrypto(dt.TOKEN, dt.AES, dt.APP_KEY).encrypt(text, nonce, ts)
    return json.dumps({"encrypt": encrypt}).encode(), {"msg_signature": sig, "timestamp": ts, "nonce": nonce}


def test_a_chunked_body_over_the_limit_is_413(client, host):
    platform, _, corp = host
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    r = client.post(f"/callbacks/{platform}/{corp.corp_key}", input_stream=io.BytesIO(b"a" * (limit + 10)),
                    headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
                    environ_overrides={"wsgi.input_terminated": True}, query_string={"msg_signature": "x"})
    assert r.status_code == 413 and r.json == {"error": "too_large"} and rows() == 0


# ---------------------------------------------------------------- the API


@pytest.fixture
def admin(world):  # noqa: F811
    return world["tokens"]["admin"]


@pytest.mark.parametrize("path", [f"/customers/{HUGE}", f"/customers/{HUGE}/notes", f"/channels/{HUGE}",
                                  f"/channels/{HUGE}/stats?from=2026-01-01&to=2026-01-02"])
def test_an_id_past_the_largest_bigint_is_404(client, admin, path):
    r = call(client, "GET", path, admin)
    assert r.status_code in (404, 405) and r.status_code != 500


@pytest.mark.parametrize("query, field", [
    (f"after={HUGE}", "after"), ("after=0", "after"), (f"channel={HUGE}", "channel"), ("channel=0", "channel"),
    ("channel=-3", "channel"), ("employee=0", "employee"), (f"tags={HUGE}", "tags"), ("stage=nosuchstage", "stage"),
])
def test_out_of_range_filters_are_422_naming_the_field(client, admin, query, field):
    r = call(client, "GET", f"/customers?{query}", admin)
    assert r.status_code == 422 and r.json["field"] == field, r.json


def test_like_wildcards_in_q_match_themselves(client, world):  # noqa: F811
    admin = world["tokens"]["admin"]
    assert call(client, "GET", "/customers?q=%25", admin).json["items"] == []  # no name contains "%"
    assert call(client, "GET", "/customers?q=_", admin).json["items"] == []
    assert call(client, "GET", "/customers?q=客户_", admin).json["items"] == []
    found = call(client, "GET", "/customers?q=客户1", admin).json["items"]
    assert [c["name"] for c in found] == ["客户1🐯"]


@pytest.mark.parametrize("query", ["from=0001-01-01&to=0001-01-02", "from=9999-12-30&to=9999-12-31",
                                   "from=0001-01-01&to=0001-01-01"])
def test_stats_dates_outside_the_calendar_we_keep_are_422(client, world, query):  # noqa: F811
    r = call(client, "GET", f"/channels/{world['channel']}/stats?{query}", world["tokens"]["admin"])
    assert r.status_code == 422 and r.json["field"] in ("from", "to"), r.json


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = zlib.compress(b"\x00" * (width // 8 + 1), 9)  # one row: the rest never needs to exist
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def test_a_decompression_bomb_image_is_422(client, admin):
    r = call(client, "POST", "/media", admin, data={"file": (io.BytesIO(_png(100_000, 100_000)), "bomb.png")},
             content_type="multipart/form-data")
    assert r.status_code == 422 and r.json["field"] == "file", r.json


@pytest.mark.parametrize("path, method", [("/channels", "POST"), ("/customers/1", "PATCH"), ("/welcome", "PUT")])
def test_deeply_nested_json_to_the_api_is_400(client, admin, path, method):
    r = call(client, method, path, admin, data=NESTED, content_type="application/json")
    assert r.status_code == 400 and r.json["code"] == "bad_request", r.get_data(as_text=True)[:200]


@pytest.fixture(params=["wecom", "dingtalk"])
def either(request, fake_host):
    if request.param == "dingtalk":
        fake_host.capabilities = FakeHost.capabilities - {Capability.CREATE_CHANNEL_CODE}
    return fake_host


@pytest.mark.parametrize("mobiles", [["not a phone"], ["1380013800a"], ["12"], ["+86 138-0013-8000x"],
                                     ["13800138000"] * 6, [""]])
def test_remark_mobiles_are_phone_numbers_within_the_hosts_count_before_the_host_hears(client, world, either,
                                                                                       mobiles):  # noqa: F811
    customer_id, rel_id = world["people"][0]
    r = call(client, "PATCH", f"/customers/{customer_id}/relationships/{rel_id}", world["tokens"]["admin"],
             json={"remark_mobiles": mobiles})
    assert r.status_code == 422 and r.json["field"] == "remark_mobiles", r.json
    assert either.called("set_remark") == []


def test_good_remark_mobiles_reach_the_host(client, world, either):  # noqa: F811
    customer_id, rel_id = world["people"][0]
    r = call(client, "PATCH", f"/customers/{customer_id}/relationships/{rel_id}", world["tokens"]["admin"],
             json={"remark_mobiles": ["13800138000", "+86 21-6123-4567"]})
    assert r.status_code == 200, r.json
    (sent,) = either.called("set_remark")
    assert sent["remark_mobiles"] == ["13800138000", "+86 21-6123-4567"]


def test_editing_an_ended_relationship_is_409_and_the_host_is_not_called(client, world, either):  # noqa: F811
    customer_id, rel_id = world["people"][3]  # removed by the customer
    assert db.session.get(Relationship, rel_id).status != "active"
    r = call(client, "PATCH", f"/customers/{customer_id}/relationships/{rel_id}", world["tokens"]["admin"],
             json={"remark": "新备注"})
    assert r.status_code == 409 and r.json["code"] == "conflict", r.json
    assert either.called("set_remark") == []


@pytest.mark.parametrize("path, body, field", [
    ("/channels", {"name": "c", "members": [{"employee_id": "li", "daily_cap": HUGE}]}, "members[0].daily_cap"),
    ("/channels", {"name": "c", "members": [{"employee_id": HUGE}]}, "members"),
    ("/channels", {"name": "c", "members": [{"employee_id": "li"}], "welcome": {
        "text": "x", "attachments": [{"type": "image", "media_id": HUGE}]}}, "welcome.attachments[0].media_id"),
    ("/channels", {"name": "c", "members": [{"employee_id": "li"}], "tags": [HUGE]}, "tags"),
    ("/tag-groups", {"name": "g", "tags": ["a"], "order": HUGE}, "order"),
])
def test_numbers_past_what_a_column_holds_are_422_naming_the_field(client, world, path, body, field):  # noqa: F811
    from scrm.models import Employee

    li = db.session.scalar(select(Employee.id).where(Employee.host_id == "li"))
    for member in body.get("members", []):
        member["employee_id"] = li if member["employee_id"] == "li" else member["employee_id"]
    r = call(client, "POST", path, world["tokens"]["admin"], json=body)
    assert r.status_code == 422 and r.json["field"] == field, r.json
