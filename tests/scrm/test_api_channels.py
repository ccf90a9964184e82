"""/api/v1/channels, /api/v1/media and /api/v1/welcome: roles, tenant isolation, 422s naming the field, QR files
that decode back to the right URL, statistics as JSON and CSV."""
import io

import pytest
from PIL import Image

from scrm.services import access
from scrm.services.channel_assets import decode_qr
from tests import wecom_payloads as wx
from tests.builders import make_corp, make_employee
from tests.scrm.services.test_processing import ingest


@pytest.fixture
def world(app, fake_host):
    corp, other = make_corp(name="甲公司"), make_corp(name="乙公司")
    zhang = make_employee(corp, host_id="zhang", name="张三")
    li = make_employee(corp, host_id="li", name="李四")
    outsider = make_employee(other, host_id="x", name="外人")
    fake_host.add_employee("zhang", "张三")
    tokens = {"admin": access.create_token(corp, "admin"),
              "manager": access.create_token(corp, "manager", employee_id=zhang.id),
              "sales": access.create_token(corp, "sales", employee_id=li.id),
              "other": access.create_token(other, "admin")}
    return {"corp": corp, "tokens": tokens, "zhang": zhang.id, "li": li.id, "outsider": outsider.id}


def call(client, method, path, token, **kw):
    return client.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {token}"}, **kw)


def create(client, world, token="admin", **overrides):
    body = {"name": "双十一直播", "members": [{"employee_id": world["zhang"], "daily_cap": 50},
                                             {"employee_id": world["li"], "weight": 2}], **overrides}
    return call(client, "POST", "/channels", world["tokens"][token], json=body)


def test_create_read_list_edit_pause_resume_delete(client, world, fake_host):
    made = create(client, world, welcome_mode="channel", welcome={"text": "{customer_name}您好"})
    assert made.status_code == 201, made.json
    body = made.json
    assert body["state"] and body["members"][0]["daily_cap"] == 50 and body["welcome"]["text"] == "{customer_name}您好"
    assert body["files"]["qr_png"].endswith(f"/channels/{body['id']}/qr.png")
    path = f"/channels/{body['id']}"
    assert call(client, "GET", path, world["tokens"]["sales"]).json["name"] == "双十一直播"
    assert [c["id"] for c in call(client, "GET", "/channels", world["tokens"]["sales"]).json["items"]] == [body["id"]]
    edited = call(client, "PATCH", path, world["tokens"]["manager"], json={"name": "双十一", "skip_verify": False})
    assert edited.status_code == 200 and edited.json["name"] == "双十一" and not edited.json["skip_verify"]
    assert call(client, "POST", f"{path}/pause", world["tokens"]["admin"]).json["status"] == "paused"
    assert call(client, "POST", f"{path}/pause", world["tokens"]["admin"]).status_code == 422
    assert call(client, "POST", f"{path}/resume", world["tokens"]["admin"]).json["status"] == "active"
    assert call(client, "DELETE", path, world["tokens"]["admin"]).status_code == 204
    assert call(client, "GET", path, world["tokens"]["admin"]).status_code == 404


def test_sales_tokens_read_but_do_not_edit(client, world, fake_host):
    assert create(client, world, token="sales").status_code == 403
    assert fake_host.called("create_channel_code") == []


def test_another_corp_sees_nothing_and_cannot_use_its_employees(client, world, fake_host):
    cid = create(client, world).json["id"]
    for method, suffix in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/qr.png"), ("GET", "/poster.png"),
                           ("POST", "/pause"), ("GET", "/stats?from=2026-11-01&to=2026-11-30")):
        response = call(client, method, f"/channels/{cid}{suffix}", world["tokens"]["other"],
                        json={} if method == "PATCH" else None)
        assert response.status_code == 404, (method, suffix, response.status_code)
    refused = call(client, "POST", "/channels", world["tokens"]["admin"],
                   json={"name": "x", "members": [{"employee_id": world["outsider"]}]})
    assert refused.status_code == 422 and refused.json["field"] == "members[0].employee_id"


@pytest.mark.parametrize("overrides, field", [
    ({"members": []}, "members"),
    ({"state": "x" * 31}, "state"),
    ({"tags": [98765]}, "tags"),
    ({"allocation": "random"}, "allocation"),
    ({"welcome": {"text": "您好", "attachments": [{"type": "miniprogram", "title": "店铺"}]}},
     "welcome.attachments[0].appid"),
    ({"welcome": {"text": "字" * 1500}}, "welcome.text"),
    ({"members": [{"employee_id": 1, "backup": "maybe"}]}, "members"),
    ({"unknown": 1}, "unknown"),
])
def test_bad_input_is_422_naming_the_field_and_no_host_call(client, world, fake_host, overrides, field):
    response = create(client, world, **overrides)
    assert response.status_code == 422, response.json
    assert response.json["field"] == field or response.json["field"].startswith(field)
    assert fake_host.called("create_channel_code") == []


def test_qr_files_decode_back_to_the_host_code(client, world, fake_host):
    cid = create(client, world).json["id"]
    qr = call(client, "GET", f"/channels/{cid}/qr.png", world["tokens"]["sales"])
    assert qr.status_code == 200 and qr.mimetype == "image/png"
    target = fake_host.called("fetch_channel_qr")[0]["qr_url"]
    assert decode_qr(qr.data) == target
    svg = call(client, "GET", f"/channels/{cid}/qr.svg", world["tokens"]["sales"])
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data[:200] and b"<path" in svg.data
    poster = call(client, "GET", f"/channels/{cid}/poster.png?title=扫码领券&text=到店出示", world["tokens"]["sales"])
    assert poster.status_code == 200 and decode_qr(poster.data) == target
    assert len(fake_host.called("fetch_channel_qr")) == 1  # the host's image is fetched once and kept
    assert call(client, "GET", f"/channels/{cid}/poster.png?colour=red", world["tokens"]["sales"]).status_code == 422


def test_media_upload_and_the_default_welcome(client, world):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "blue").save(buf, "JPEG")
    up = call(client, "POST", "/media", world["tokens"]["admin"], data={"file": (io.BytesIO(buf.getvalue()), "a.jpg")})
    assert up.status_code == 201 and up.json["content_type"] == "image/jpeg"
    bad = call(client, "POST", "/media", world["tokens"]["admin"], data={"file": (io.BytesIO(b"GIF89a..."), "a.png")})
    assert bad.status_code == 422 and bad.json["field"] == "file"
    big = call(client, "POST", "/media", world["tokens"]["admin"],
               data={"file": (io.BytesIO(b"\x89PNG" + b"0" * (11 * 1024 * 1024)), "big.png")})
    assert big.status_code == 413
    content = {"text": "欢迎 {employee_name}", "attachments": [{"type": "image", "media_id": up.json["id"]}]}
    assert call(client, "PUT", "/welcome", world["tokens"]["admin"], json=content).json["welcome"] == content
    assert call(client, "GET", "/welcome", world["tokens"]["sales"]).json["welcome"] == content
    other = call(client, "PUT", "/welcome", world["tokens"]["other"],
                 json={"attachments": [{"type": "image", "media_id": up.json["id"]}]})
    assert other.status_code == 422  # another corp's image
    assert call(client, "DELETE", "/welcome", world["tokens"]["admin"]).status_code == 204
    assert call(client, "GET", "/welcome", world["tokens"]["admin"]).json["welcome"] is None


def test_statistics_as_json_and_csv(client, world, fake_host):
    made = create(client, world).json
    fake_host.add_friend("zhang", "wm1", state=made["state"])
    ingest(world["corp"], wx.added("zhang", "wm1", state=made["state"]))
    costs = call(client, "PUT", f"/channels/{made['id']}/costs", world["tokens"]["admin"],
                 json={"items": [{"day": "2026-11-01", "amount": 12.5}]})
    assert costs.status_code == 200 and costs.json["items"] == [{"day": "2026-11-01", "amount": 12.5}]
    from scrm.services.channels import local_now

    today = local_now(world["corp"]).date().isoformat()
    stats = call(client, "GET", f"/channels/{made['id']}/stats?from=2026-11-01&to={today}", world["tokens"]["sales"])
    assert stats.status_code == 200 and stats.json["total"]["new"] == 1 and stats.json["total"]["cost"] == 12.5
    assert stats.json["employees"][0]["name"] == "张三"
    csv = call(client, "GET", f"/channels/{made['id']}/stats.csv?from=2026-11-01&to={today}&by=employee",
               world["tokens"]["sales"])
    assert csv.mimetype == "text/csv" and "张三" in csv.data.decode("utf-8-sig")
    backwards = call(client, "GET", f"/channels/{made['id']}/stats?from={today}&to=2026-11-01",
                     world["tokens"]["sales"])
    assert backwards.status_code == 422 and backwards.json["field"] == "to"
    week = call(client, "GET", f"/channels/{made['id']}/stats", world["tokens"]["sales"])  # default: the last 7 days
    assert week.status_code == 200 and week.json["to"] == today and len(week.json["days"]) == 7


def _as_before(channel) -> dict:
    """How the API showed a channel before its response had a schema (kept to hold the schema to it)."""
    iso = lambda v: v.isoformat() + "Z" if v else None  # noqa: E731
    return {
        "id": channel.id, "name": channel.name, "state": channel.state, "code": channel.code,
        "status": channel.status, "allocation": channel.allocation, "skip_verify": channel.skip_verify,
        "remark": channel.remark, "remark_template": channel.remark_template, "temporary": channel.temporary,
        "expires_at": iso(channel.expires_at), "welcome_mode": channel.welcome_mode, "welcome": channel.welcome or {},
        "members": [{"employee_id": m.employee_id, "weight": m.weight, "daily_cap": m.daily_cap,
                     "backup": m.is_backup, "schedule": m.schedule} for m in channel.members],
        "tags": [t.tag_id for t in channel.tags], "listed_user_ids": channel.listed_user_ids or [],
        "config_id": channel.config_id, "created_at": iso(channel.created_at),
    }


def test_channel_responses_follow_their_schema_and_show_what_they_showed(client, world, fake_host):
    from datetime import timedelta

    from scrm.models import utcnow
    from scrm.services import channel_qr, channels

    schedule = {"mon": [["09:00", "18:00"]]}
    made = create(client, world, remark="门店", remark_template="{channel}-{date}", skip_verify=False,
                  members=[{"employee_id": world["zhang"], "daily_cap": 5, "schedule": schedule}],
                  temporary=True, expires_at=(utcnow() + timedelta(days=3)).isoformat() + "Z",
                  welcome={"text": "您好"})
    assert made.status_code == 201, made.json
    plain = create(client, world, name="普通").json

    def shown_as_before(body):
        channel = channels.get_channel(world["corp"], body["id"])
        base = f"/api/v1/channels/{channel.id}"
        assert body == {**_as_before(channel), "landing_url": channel_qr.landing_url(channel),
                        "files": {"qr_png": f"{base}/qr.png", "qr_svg": f"{base}/qr.svg",
                                  "poster": f"{base}/poster.png"}}

    shown_as_before(made.json)
    shown_as_before(plain)
    shown_as_before(call(client, "GET", f"/channels/{plain['id']}", world["tokens"]["sales"]).json)
    shown_as_before(call(client, "POST", f"/channels/{plain['id']}/pause", world["tokens"]["admin"]).json)
    listed = call(client, "GET", "/channels", world["tokens"]["sales"]).json["items"]
    assert [c["id"] for c in listed] == [plain["id"], made.json["id"]] and listed[1]["members"][0]["schedule"] == schedule
    spec = client.get("/api/v1/openapi.json").json
    assert spec["paths"]["/api/v1/channels/{channel_id}"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/ChannelOut"}
    out = spec["components"]["schemas"]["ChannelOut"]["properties"]
    assert {"members", "files", "landing_url", "listed_user_ids"} <= set(out)
    assert out["allocation"]["enum"] == list(channels.ALLOCATIONS)


def test_the_api_schemas_take_fields_and_enumerations_from_the_channel_rules():
    from scrm.api.schemas import ChannelIn, ChannelPatch, MemberIn
    from scrm.services.channels import rules

    assert set(ChannelPatch().fields) == set(ChannelIn().fields) == set(rules.FIELDS)
    assert set(MemberIn().fields) == set(rules.MEMBER_FIELDS)
    assert ChannelPatch().fields["allocation"].validate.choices == rules.ALLOCATIONS
    assert ChannelPatch().fields["welcome_mode"].validate.choices == rules.WELCOME_MODES
