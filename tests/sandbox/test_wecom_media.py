"""Temporary media, welcome attachments and temporary contact ways of the WeCom sandbox, over real HTTP."""
from __future__ import annotations

import hashlib
import io

import pytest
import requests
from PIL import Image

from sandbox.wecom.models import Media, WelcomeCode

DAY = 86400
MB = 1024 * 1024


def picture(fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, fmt)
    return buf.getvalue()


def upload(wecom, content: bytes, filename: str = "a.png", kind: str = "image", token: str | None = None) -> dict:
    return wecom.http.post(f"{wecom.base}/media/upload", params={"access_token": token or wecom.token, "type": kind},
                           files={"media": (filename, content, "application/octet-stream")}, timeout=30).json()


def welcome_code(sandbox, wecom, token: str | None = None) -> str:
    way = wecom.ok("post", "externalcontact/add_contact_way", {"type": 1, "scene": 2, "user": ["E00002"]},
                   access_token=token or wecom.token)
    return sandbox.play(wecom.corp, "scan_one", config_id=way["config_id"])["result"]["welcome_code"]


def welcome(wecom, code: str, *attachments: dict, token: str | None = None) -> int:
    body = {"welcome_code": code, "text": {"content": "欢迎"}, "attachments": list(attachments)}
    return wecom.post("externalcontact/send_welcome_msg", body, access_token=token or wecom.token)["errcode"]


def image(media_id: str) -> dict:
    return {"msgtype": "image", "image": {"media_id": media_id}}


# ---------------------------------------------------------------- media/upload


def test_upload_png_and_jpeg_keeps_only_a_digest(sandbox, wecom):
    png, jpeg = picture("PNG"), picture("JPEG")
    first = upload(wecom, png)
    assert first["errcode"] == 0 and first["type"] == "image" and first["media_id"]
    assert first["created_at"] == str(int(first["created_at"]))  # epoch seconds, as a string
    assert abs(int(first["created_at"]) - sandbox.clock.time()) < 5
    second = upload(wecom, jpeg, "photo.jpg")
    assert second["errcode"] == 0 and second["media_id"] != first["media_id"]
    with sandbox.db.session() as s:
        row = s.get(Media, first["media_id"])
        assert (row.corp_id, row.type, row.size) == (wecom.corp.corp_id, "image", len(png))
        assert row.sha256 == hashlib.sha256(png).hexdigest()


def test_upload_checks_content_size_and_type(sandbox, wecom):
    # the content decides, not the name: doc 90455 has 40004 for a bad file, 40005 for a bad `type`
    assert upload(wecom, picture("GIF"), "a.png")["errcode"] == 40004
    assert upload(wecom, "不是图片，只是文字".encode(), "a.png")["errcode"] == 40004
    assert upload(wecom, picture(), kind="gif")["errcode"] == 40005
    assert upload(wecom, b"\x89PNG")["errcode"] == 40006  # files must be over 5 bytes
    big = picture()
    assert upload(wecom, big + b"\0" * (10 * MB - len(big)))["errcode"] == 0  # 10 MB exactly is allowed
    over = upload(wecom, big + b"\0" * (10 * MB + 1 - len(big)))
    assert over["errcode"] == 40006
    assert upload(wecom, b"", "empty.png")["errcode"] == 44001
    missing = wecom.http.post(f"{wecom.base}/media/upload", params={"access_token": wecom.token, "type": "image"},
                              files={"other": ("a.png", picture())}, timeout=10).json()
    assert missing["errcode"] == 44001
    assert upload(wecom, picture(), token="nope")["errcode"] == 40014


# ---------------------------------------------------------------- welcome attachments


def test_welcome_with_an_image_is_recorded(sandbox, wecom):
    media_id = upload(wecom, picture())["media_id"]
    code = welcome_code(sandbox, wecom)
    assert welcome(wecom, code, image(media_id)) == 0
    with sandbox.db.session() as s:
        assert s.get(WelcomeCode, code).message["attachments"] == [image(media_id)]
    assert welcome(wecom, code, image(media_id)) == 41051  # the code still works once


def test_welcome_media_must_exist_and_be_live(sandbox, wecom):
    media_id = upload(wecom, picture())["media_id"]
    code = welcome_code(sandbox, wecom)
    assert welcome(wecom, code, image("1made-up-media-id")) == 40007
    assert welcome(wecom, code, {"msgtype": "image", "image": {}}) == 41006
    assert welcome(wecom, code, {"msgtype": "video", "video": {"media_id": media_id}}) == 40007  # an image's id
    other = sandbox.create_corp("wecom")
    sandbox.seed(other, employees=2, customers=2, rng=3)
    foreign = upload(wecom, picture(), token=sandbox.wecom_token(other))["media_id"]
    assert welcome(wecom, code, image(foreign)) == 40007  # another corp's media
    assert welcome(wecom, code, image(media_id)) == 0  # the refusals did not use the code up

    sandbox.clock.advance(3 * DAY - 5)
    token = sandbox.wecom_token(wecom.corp)
    assert welcome(wecom, welcome_code(sandbox, wecom, token), image(media_id), token=token) == 0
    sandbox.clock.advance(6)  # 3 days + 1 s after the upload
    assert welcome(wecom, welcome_code(sandbox, wecom, token), image(media_id), token=token) == 40007


def test_welcome_link_and_miniprogram_rules(sandbox, wecom):
    pic = upload(wecom, picture("JPEG"), "cover.jpg")["media_id"]
    code = welcome_code(sandbox, wecom)
    link = {"title": "新人礼", "url": "https://scrm.example/gift", "desc": "进店有礼", "picurl": "https://p.example/a.png"}
    mini = {"title": "会员中心", "pic_media_id": pic, "appid": "wx8bd80126147dfabc", "page": "/pages/index?x=1"}
    refusals = [
        ({"msgtype": "link", "link": {"title": "新人礼"}}, 40058),  # no url
        ({"msgtype": "link", "link": {"url": "https://scrm.example/"}}, 40058),  # no title
        ({"msgtype": "link", "link": {**link, "url": "ftp://scrm.example/gift"}}, 40058),
        ({"msgtype": "link", "link": {**link, "url": "https://scrm.example/" + "x" * 2048}}, 40058),
        ({"msgtype": "link", "link": {**link, "title": "礼" * 43}}, 40058),  # 129 bytes
        ({"msgtype": "link", "link": {**link, "desc": "礼" * 171}}, 40058),  # 513 bytes
        ({"msgtype": "miniprogram", "miniprogram": {**mini, "title": "会" * 22}}, 40058),  # 66 bytes
        ({"msgtype": "miniprogram", "miniprogram": {k: v for k, v in mini.items() if k != "appid"}}, 40058),
        ({"msgtype": "miniprogram", "miniprogram": {k: v for k, v in mini.items() if k != "page"}}, 40058),
        ({"msgtype": "miniprogram", "miniprogram": {**mini, "pic_media_id": "1nope"}}, 40007),
        ({"msgtype": "news", "news": link}, 41065),
        ({"link": link}, 41065),
        ({"msgtype": "link"}, 40058),
    ]
    for attachment, errcode in refusals:
        assert welcome(wecom, code, attachment) == errcode, attachment
    assert welcome(wecom, code, *[image(pic)] * 10) == 41064
    assert welcome(wecom, code, {"msgtype": "link", "link": {**link, "title": "礼" * 42}},  # 126 bytes
                   {"msgtype": "miniprogram", "miniprogram": mini}) == 0


def test_mass_message_attachments_are_checked_too(wecom):
    mine = wecom.ok("get", "externalcontact/list", userid="E00001")["external_userid"]
    template = {"sender": "E00001", "external_userid": mine[:1], "text": {"content": "新品"}}
    refused = wecom.post("externalcontact/add_msg_template", {**template, "attachments": [image("1made-up")]})
    assert refused["errcode"] == 40007
    media_id = upload(wecom, picture())["media_id"]
    wecom.ok("post", "externalcontact/add_msg_template", {**template, "attachments": [image(media_id)]})


# ---------------------------------------------------------------- temporary contact ways


def test_temporary_way_stops_working_after_expires_in(sandbox, wecom):
    way = wecom.ok("post", "externalcontact/add_contact_way",
                   {"type": 1, "scene": 2, "user": ["E00001"], "is_temp": True, "expires_in": 3600})
    scan_page = way["qr_code"].replace("/qr/", "/c/").removesuffix(".png")
    assert requests.get(way["qr_code"], timeout=5).content.startswith(b"\x89PNG")
    sandbox.clock.advance(3599)
    assert requests.get(scan_page, timeout=5).status_code == 200
    sandbox.clock.advance(1)
    with pytest.raises(LookupError, match="expired"):
        sandbox.play(wecom.corp, "scan_one", config_id=way["config_id"])
    assert requests.get(way["qr_code"], timeout=5).status_code == 404
    assert requests.get(scan_page, timeout=5).status_code == 404


def test_temporary_way_dies_at_its_first_add(sandbox, wecom):
    """Its QR code is invalid right after the first customer adds through it (doc 92572), whatever expires_in says."""
    way = wecom.ok("post", "externalcontact/add_contact_way",
                   {"type": 1, "scene": 2, "user": ["E00001"], "is_temp": True, "expires_in": 3600})
    assert sandbox.play(wecom.corp, "scan_one", config_id=way["config_id"])["result"]["userid"] == "E00001"
    with pytest.raises(LookupError, match="expired"):
        sandbox.play(wecom.corp, "scan_one", config_id=way["config_id"])
    assert requests.get(way["qr_code"], timeout=5).status_code == 404
    permanent = wecom.ok("post", "externalcontact/add_contact_way", {"type": 1, "scene": 2, "user": ["E00001"]})
    for _ in range(2):
        assert sandbox.play(wecom.corp, "scan_one", config_id=permanent["config_id"])["result"]["welcome_code"]


def test_permanent_way_keeps_working_and_a_deleted_one_is_gone(sandbox, wecom):
    way = wecom.ok("post", "externalcontact/add_contact_way", {"type": 1, "scene": 2, "user": ["E00001"]})
    sandbox.clock.advance(30 * DAY)
    token = sandbox.wecom_token(wecom.corp)
    assert requests.get(way["qr_code"], timeout=5).status_code == 200
    assert sandbox.play(wecom.corp, "scan_one", config_id=way["config_id"])["result"]["welcome_code"]
    wecom.ok("post", "externalcontact/del_contact_way", {"config_id": way["config_id"]}, access_token=token)
    with pytest.raises(LookupError):
        sandbox.play(wecom.corp, "scan_one", config_id=way["config_id"])
    assert requests.get(way["qr_code"], timeout=5).status_code == 404
