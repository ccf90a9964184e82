"""/api/v1/quick-replies: everyone reads and searches the library, only admins keep it, every send is counted,
another corp's replies are 404, bad input is 4xx."""
import io

import pytest
from PIL import Image

from scrm.services import access, media
from tests.builders import make_corp, make_employee


@pytest.fixture
def world(app, fake_host):
    a, b = make_corp(name="甲公司"), make_corp(name="乙公司")
    li = make_employee(a, host_id="li")
    return {"a": a, "b": b, "admin": access.create_token(a, "admin"),
            "sales": access.create_token(a, "sales", employee_id=li.id), "other": access.create_token(b, "admin")}


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(buf, "PNG")
    return buf.getvalue()


def _group(client, world, name="开场白"):
    r = client.post("/api/v1/quick-reply-groups", json={"name": name}, headers=auth(world["admin"]))
    assert r.status_code == 201, r.json
    return r.json["id"]


def test_admins_keep_the_library_everyone_reads_and_searches_it(client, world):
    group = _group(client, world)
    later = _group(client, world, "报价")
    image = media.save_image(world["a"], "price.png", _png())
    replies = [
        {"group_id": group, "title": "问候", "content": {"type": "text", "text": "您好，我是您的专属顾问"}},
        {"group_id": later, "title": "价目表", "content": {"type": "image", "media_id": image.id}},
        {"group_id": later, "title": "官网", "content": {"type": "link", "title": "产品介绍",
                                                          "url": "https://example.com/p", "pic_url":
                                                          "https://example.com/p.png"}},
    ]
    for body in replies:
        r = client.post("/api/v1/quick-replies", json=body, headers=auth(world["admin"]))
        assert r.status_code == 201, r.json
    library = client.get("/api/v1/quick-replies", headers=auth(world["sales"])).json["groups"]
    assert [(g["name"], [r["title"] for r in g["replies"]]) for g in library] == [
        ("开场白", ["问候"]), ("报价", ["价目表", "官网"])]
    found = client.get("/api/v1/quick-replies?q=顾问", headers=auth(world["sales"])).json["groups"]
    assert [r["title"] for g in found for r in g["replies"]] == ["问候"]
    reply_id = library[0]["replies"][0]["id"]
    for _ in range(2):
        assert client.post(f"/api/v1/quick-replies/{reply_id}/used", headers=auth(world["sales"])).json["uses"] in (
            1, 2)
    assert client.get("/api/v1/quick-replies", headers=auth(world["admin"])).json["groups"][0]["replies"][0][
        "uses"] == 2
    # salespeople read, never write
    assert client.post("/api/v1/quick-replies", json=replies[0], headers=auth(world["sales"])).status_code == 403
    assert client.delete(f"/api/v1/quick-replies/{reply_id}", headers=auth(world["sales"])).status_code == 403
    assert client.post("/api/v1/quick-reply-groups", json={"name": "x"},
                       headers=auth(world["sales"])).status_code == 403
    # edits, and a group that still holds replies is not deleted
    r = client.patch(f"/api/v1/quick-replies/{reply_id}", json={"title": "问候语", "group_id": later},
                     headers=auth(world["admin"]))
    assert r.status_code == 200 and r.json["title"] == "问候语" and r.json["group_id"] == later
    assert client.delete(f"/api/v1/quick-reply-groups/{later}", headers=auth(world["admin"])).status_code == 409
    assert client.delete(f"/api/v1/quick-reply-groups/{group}", headers=auth(world["admin"])).status_code == 204
    assert client.delete(f"/api/v1/quick-replies/{reply_id}", headers=auth(world["admin"])).status_code == 204


def test_another_corps_library_is_out_of_reach(client, world):
    group = _group(client, world)
    r = client.post("/api/v1/quick-replies", json={"group_id": group, "title": "问候",
                                                  "content": {"type": "text", "text": "您好"}},
                    headers=auth(world["admin"]))
    reply_id = r.json["id"]
    other = auth(world["other"])
    assert client.get("/api/v1/quick-replies", headers=other).json == {"groups": []}
    assert client.post(f"/api/v1/quick-replies/{reply_id}/used", headers=other).status_code == 404
    assert client.patch(f"/api/v1/quick-replies/{reply_id}", json={"title": "x"}, headers=other).status_code == 404
    assert client.delete(f"/api/v1/quick-reply-groups/{group}", headers=other).status_code == 404
    r = client.post("/api/v1/quick-replies", json={"group_id": group, "title": "x",
                                                  "content": {"type": "text", "text": "x"}}, headers=other)
    assert r.status_code == 422 and r.json["field"] == "group_id"


@pytest.mark.parametrize("content,field", [
    ({"type": "text", "text": ""}, "content.text"),
    ({"type": "text", "text": "好" * 2000}, "content.text"),
    ({"type": "text", "text": "hi", "url": "https://x"}, "content"),
    ({"type": "video"}, "content.type"),
    ({"type": "image", "media_id": 999999}, "content.media_id"),
    ({"type": "link", "title": "t", "url": "javascript:alert(1)"}, "content.url"),
    ({"type": "miniprogram", "title": "t", "appid": "wx1", "page": "p", "media_id": "x"}, "content.media_id"),
])
def test_a_reply_is_one_valid_message(client, world, content, field):
    group = _group(client, world)
    r = client.post("/api/v1/quick-replies", json={"group_id": group, "title": "t", "content": content},
                    headers=auth(world["admin"]))
    assert r.status_code == 422 and r.json["field"] == field, r.json


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "x" * 65}, {"name": "x", "colour": "red"},
                                  {"name": "x", "order": 10 ** 12}])
def test_bad_groups_are_refused(client, world, body):
    assert client.post("/api/v1/quick-reply-groups", json=body, headers=auth(world["admin"])).status_code == 422


def test_bad_queries_and_ids(client, world):
    h = auth(world["admin"])
    assert client.get("/api/v1/quick-replies?colour=red", headers=h).status_code == 422
    assert client.get("/api/v1/quick-replies?group_id=0", headers=h).status_code == 422
    assert client.post(f"/api/v1/quick-replies/{2 ** 63}/used", headers=h).status_code == 404
    assert client.post("/api/v1/quick-replies", data="[" * 5000, content_type="application/json",
                       headers=h).status_code == 400
