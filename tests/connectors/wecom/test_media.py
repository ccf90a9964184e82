"""WeComHost media upload, QR download and welcome attachments against the sandbox over real HTTP."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image
from werkzeug.wrappers import Response

from connectors.dingtalk.host import DingTalkHost
from connectors.runtime import make_runtime
from sandbox.wecom.models import WelcomeCode
from connectors.wecom.host import CAPABILITIES, WeComHost
from scrm.host import (Attachment, ChannelCodeSpec, CorpAccess, HostError, HostNotFound, HostUnavailable,
                       HostUnsupported, MessageContent)
from tests.connectors.conftest import _Server

DAY = 86400
MB = 1024 * 1024


def picture(fmt: str = "PNG", size: tuple[int, int] = (8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture
def corp(sandbox):
    corp = sandbox.create_corp("wecom")
    sandbox.seed(corp, employees=4, customers=10, rng=13)
    return corp


def access_for(sandbox, corp) -> CorpAccess:
    return CorpAccess(corp_key=f"k-{corp.corp_id}", platform="wecom", corp_id=corp.corp_id, agent_id=corp.agent_id,
                      secret=corp.secret, api_base=sandbox.wecom_base)


@pytest.fixture
def host(sandbox, corp, runtime) -> WeComHost:
    return WeComHost(access_for(sandbox, corp), runtime)


@pytest.fixture
def employee(host) -> str:
    return host.list_employees()[0].user_id


def scan(sandbox, corp, host, employee) -> str:
    code = host.create_channel_code(ChannelCodeSpec(state="media", user_ids=[employee]))
    return sandbox.play(corp, "scan_one", config_id=code.config_id)["result"]["welcome_code"]


# ---------------------------------------------------------------- upload_image


def test_upload_png_and_jpeg(sandbox, corp, host):
    now = sandbox.clock.now()
    png = host.upload_image("poster.png", picture())
    jpeg = host.upload_image("photo.jpg", picture("JPEG"))
    assert png.media_id and jpeg.media_id and png.media_id != jpeg.media_id
    # created_at (epoch seconds, sandbox clock) + 3 days, as a naive UTC datetime
    assert png.expires_at.tzinfo is None
    assert abs(png.expires_at - (now + timedelta(days=3))) < timedelta(seconds=5)
    assert sandbox.control.calls(corp.corp_id)["media/upload"] == 2


def test_upload_refusals_are_typed(host):
    with pytest.raises(HostError) as err:
        host.upload_image("a.png", picture("GIF"))
    assert (err.value.errcode, err.value.api) == (40004, "media/upload")
    with pytest.raises(HostError) as err:
        host.upload_image("notes.png", b"plain text, not a picture")
    assert err.value.errcode == 40004
    big = picture()
    with pytest.raises(HostError) as err:
        host.upload_image("huge.png", big + b"\0" * (10 * MB + 1 - len(big)))
    assert err.value.errcode == 40006


def test_upload_refreshes_a_rejected_token(sandbox, corp, host):
    host.upload_image("a.png", picture())
    sandbox.play(corp, "expire_tokens")
    assert host.upload_image("b.png", picture()).media_id
    assert sandbox.control.calls(corp.corp_id)["gettoken"] == 2


def test_upload_waits_out_the_hosts_block(sandbox, corp, host, sleeps, runtime):
    sandbox.control.set_limits(corp.corp_id, {"media/upload": 1})
    host.upload_image("a.png", picture())
    with pytest.raises(HostError) as err:
        host.upload_image("b.png", picture())
    assert err.value.errcode == 45009 and err.value.retry_after == 60 and sleeps == []


# ---------------------------------------------------------------- welcome attachments


def test_welcome_with_image_link_and_miniprogram(sandbox, corp, host, employee):
    media = host.upload_image("cover.png", picture())
    code = scan(sandbox, corp, host, employee)
    link = {"title": "新人礼", "picurl": "https://p.example/a.png", "desc": "进店有礼", "url": "https://scrm.example/gift"}
    mini = {"title": "会员中心", "pic_media_id": media.media_id, "appid": "wx8bd80126147dfabc", "page": "/pages/index"}
    host.send_welcome(code, MessageContent(text="欢迎", attachments=[
        Attachment("image", {"media_id": media.media_id}), Attachment("link", link), Attachment("miniprogram", mini)]))
    with sandbox.db.session() as s:
        sent = s.get(WelcomeCode, code).message["attachments"]
    assert sent == [{"msgtype": "image", "image": {"media_id": media.media_id}},
                    {"msgtype": "link", "link": link}, {"msgtype": "miniprogram", "miniprogram": mini}]


def test_welcome_refuses_expired_unknown_media_and_bad_links(sandbox, corp, host, employee):
    media = host.upload_image("cover.png", picture())
    code = scan(sandbox, corp, host, employee)
    with pytest.raises(HostError) as err:
        host.send_welcome(code, MessageContent(attachments=[Attachment("image", {"media_id": "1made-up"})]))
    assert err.value.errcode == 40007
    with pytest.raises(HostError) as err:
        host.send_welcome(code, MessageContent(text="hi", attachments=[Attachment("link", {"title": "no url"})]))
    assert err.value.errcode == 40058

    sandbox.clock.advance(3 * DAY + 1)  # the token expires too: the client fetches another
    late = scan(sandbox, corp, host, employee)
    with pytest.raises(HostError) as err:
        host.send_welcome(late, MessageContent(attachments=[Attachment("image", {"media_id": media.media_id})]))
    assert err.value.errcode == 40007
    fresh = host.upload_image("cover.png", picture())
    host.send_welcome(late, MessageContent(attachments=[Attachment("image", {"media_id": fresh.media_id})]))


# ---------------------------------------------------------------- fetch_channel_qr


def test_fetch_channel_qr_of_a_contact_way(sandbox, corp, host, employee):
    code = host.create_channel_code(ChannelCodeSpec(state="poster", user_ids=[employee]))
    png = host.fetch_channel_qr(code.qr_url)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(png)).size[0] > 100
    assert "qr_code" not in sandbox.control.calls(corp.corp_id)  # a plain image URL, not an API call
    host.delete_channel_code(code.config_id)
    with pytest.raises(HostNotFound):
        host.fetch_channel_qr(code.qr_url)


def test_fetch_channel_qr_of_an_expired_temporary_way(sandbox, host, employee):
    code = host.create_channel_code(ChannelCodeSpec(state="live", user_ids=[employee], temporary=True,
                                                    expires_in=600))
    assert host.fetch_channel_qr(code.qr_url).startswith(b"\x89PNG")
    sandbox.clock.advance(600)
    with pytest.raises(HostNotFound) as err:
        host.fetch_channel_qr(code.qr_url)
    assert err.value.errcode == "http_404"


@pytest.fixture
def picture_server():
    """Serves what the test sets: status, Content-Type and body, streamed without a length when `chunked`."""
    answer = {"status": 200, "type": "image/png", "body": picture(), "chunked": False}

    def app(environ, start_response):
        body = answer["body"]
        chunks = (body[i:i + 65536] for i in range(0, len(body), 65536)) if answer["chunked"] else [body]
        resp = Response(chunks, status=answer["status"], content_type=answer["type"])
        return resp(environ, start_response)

    server = _Server(app)
    try:
        yield server.url + "/qr.png", answer
    finally:
        server.close()


def test_fetch_channel_qr_refuses_what_is_no_qr_image(host, picture_server, sleeps):
    url, answer = picture_server
    assert host.fetch_channel_qr(url) == answer["body"]
    answer.update(type="text/html; charset=utf-8", body=b"<html>login</html>")
    with pytest.raises(HostError) as err:
        host.fetch_channel_qr(url)
    assert err.value.errcode == "not_image"
    answer.update(type="image/png", body=b"\x89PNG" + b"\0" * (2 * MB))
    with pytest.raises(HostError) as err:
        host.fetch_channel_qr(url)
    assert err.value.errcode == "too_large"
    answer.update(chunked=True)  # no Content-Length: the bytes are counted as they come
    with pytest.raises(HostError) as err:
        host.fetch_channel_qr(url)
    assert err.value.errcode == "too_large"
    answer.update(body=b"\x89PNG" + b"\0" * (2 * MB - 4))
    assert len(host.fetch_channel_qr(url)) == 2 * MB
    assert sleeps == []  # none of that is worth retrying
    answer.update(status=503)
    with pytest.raises(HostUnavailable) as err:
        host.fetch_channel_qr(url)
    assert err.value.errcode == "http_503" and len(sleeps) == host.client.runtime.attempts - 1


def test_fetch_channel_qr_maps_network_failures(sandbox, corp, sleeps):
    impatient = WeComHost(access_for(sandbox, corp), make_runtime(sleep=sleeps.append, timeout=0.5, attempts=2))
    server = _Server(lambda environ, start_response: None)
    url = server.url + "/qr.png"
    server.close()  # nothing listens there any more
    with pytest.raises(HostUnavailable) as err:
        impatient.fetch_channel_qr(url)
    assert err.value.errcode == "network" and len(sleeps) == 1


# ---------------------------------------------------------------- capabilities


def test_capabilities():
    assert {"fetch_channel_qr", "upload_image"} <= CAPABILITIES


def test_dingtalk_has_neither(runtime):
    access = CorpAccess(corp_key="dt", platform="dingtalk", corp_id="ding1", agent_id="1", secret="s", app_key="k")
    dingtalk = DingTalkHost(access, runtime)
    with pytest.raises(HostUnsupported):
        dingtalk.fetch_channel_qr("https://example.com/qr.png")
    with pytest.raises(HostUnsupported):
        dingtalk.upload_image("a.png", picture())
    assert not {"fetch_channel_qr", "upload_image"} & dingtalk.capabilities
