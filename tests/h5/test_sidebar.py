"""The chat sidebar over HTTP (the fake host at the port): the host's sign-in started and finished (state bound
to the session, refused people told why, outside the host app a QR), the customer's page within the role's scope,
its forms with CSRF, the group's page and notes, quick replies as sendChatMessage takes them, and the session
ended when the employee leaves."""
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.host import HostTag, HostTagGroup
from scrm.models import GroupChat, GroupMember, Note, Relationship, Tag
from scrm.services import quick_replies
from scrm.services.relations import set_relationship_tags
from scrm.services.tags import upsert_tag_group
from tests.builders import make_corp, make_customer, make_employee

WECOM_UA = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 wxwork/4.1.30 MicroMessenger/7.0.1 Language/zh"
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def world(app, fake_host):
    a, b = make_corp(name="甲公司"), make_corp(name="乙公司")
    li, wang, zhao = (make_employee(a, host_id=h, name=n) for h, n in (("li", "李雷"), ("wang", "王芳"), ("zhao", "赵六")))
    with unit_of_work():
        upsert_tag_group(a, HostTagGroup(id="g", name="意向", tags=[HostTag(id="hi", name="高"),
                                                                   HostTag(id="lo", name="低")]))
    tags = {t.name: t.id for t in db.session.scalars(select(Tag))}
    shared = make_customer(a, name=XSS, host_id="wmShared", corp_name="星辰科技")
    only_zhao = make_customer(a, name="赵的客户", host_id="wmZhao")
    rels = {}
    with unit_of_work():
        for emp, cust, remark in ((li, shared, "李的备注"), (wang, shared, XSS), (zhao, only_zhao, None)):
            rel = Relationship(corp_id=a.id, employee_id=emp.id, customer_id=cust.id, status="active", remark=remark)
            db.session.add(rel)
            db.session.flush()
            rels[(emp.host_id, cust.host_id)] = rel.id
        set_relationship_tags(db.session.get(Relationship, rels[("li", "wmShared")]), [tags["高"]])
        chat = GroupChat(corp_id=a.id, host_id="wrChat", name="VIP 群", owner_id=li.id)
        db.session.add(chat)
        db.session.flush()
        db.session.add_all([GroupMember(group_chat_id=chat.id, member_host_id="li", type=1, employee_id=li.id),
                            GroupMember(group_chat_id=chat.id, member_host_id="wmShared", type=2,
                                        customer_id=shared.id)])
    for emp, cust in (("li", "wmShared"), ("wang", "wmShared"), ("zhao", "wmZhao")):
        fake_host.add_friend(emp, cust)
    foreign = make_customer(b, name="别家客户", host_id="wmForeign")
    return {"a": a, "b": b, "li": li, "wang": wang, "shared": shared, "tags": tags, "foreign": foreign,
            "rels": rels}


def sign_in(client, corp, userid: str, path: str = "/h5/sidebar"):
    """Open a page inside WeCom, follow the OAuth redirect as WeCom would (its code names the user)."""
    first = client.get(f"{path}{'&' if '?' in path else '?'}corp={corp.corp_key}", headers={"User-Agent": WECOM_UA})
    assert first.status_code == 302, first.data
    query = parse_qs(urlsplit(first.headers["Location"]).query)
    back = urlsplit(query["redirect_uri"][0])
    return client.get(f"{back.path}?code=code-{userid}&state={query['state'][0]}", headers={"User-Agent": WECOM_UA})


def csrf(page) -> str:
    return unescape(re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True)).group(1))


def test_a_page_opened_without_a_session_starts_wecoms_oauth_with_the_apps_agentid_and_a_state(client, world,
                                                                                               fake_host):
    first = client.get(f"/h5/sidebar?corp={world['a'].corp_key}", headers={"User-Agent": WECOM_UA})
    assert first.status_code == 302
    (asked,) = fake_host.called("oauth_url")
    assert asked["redirect_uri"].endswith("/h5/login/wecom") and re.fullmatch(r"[0-9a-f]{32}", asked["state"])
    done = client.get(f"/h5/login/wecom?code=code-li&state={asked['state']}")
    assert done.status_code == 302 and done.headers["Location"] == f"/h5/sidebar?corp={world['a'].corp_key}"
    assert "HttpOnly" in done.headers["Set-Cookie"]
    page = client.get(done.headers["Location"], headers={"User-Agent": WECOM_UA})
    assert page.status_code == 200 and 'id="staff"' in page.get_data(as_text=True)
    assert len(fake_host.called("oauth_url")) == 1  # the session lasts: no second authorization
    again = client.get(f"/h5/login/wecom?code=code-li&state={asked['state']}")  # the state is single use
    assert again.status_code == 400


def test_a_forged_state_or_a_refused_person_gets_a_page_that_says_why(client, world):
    client.get(f"/h5/sidebar?corp={world['a'].corp_key}", headers={"User-Agent": WECOM_UA})
    forged = client.get("/h5/login/wecom?code=code-li&state=" + "0" * 32)
    assert forged.status_code == 400 and "登录已过期" in forged.get_data(as_text=True)
    stranger = sign_in(client, world["a"], "stranger")
    assert stranger.status_code == 403 and "可见范围" in stranger.get_data(as_text=True)
    with unit_of_work():
        db.session.get(type(world["li"]), world["li"].id).status = "departed"
    departed = sign_in(client, world["a"], "li")
    assert departed.status_code == 403 and "离职" in departed.get_data(as_text=True)


def test_outside_the_host_app_the_page_says_how_to_open_it_and_shows_its_qr(client, world):
    page = client.get(f"/h5/sidebar?corp={world['a'].corp_key}", headers={"User-Agent": "Mozilla/5.0 Chrome/130"})
    text = page.get_data(as_text=True)
    assert page.status_code == 403 and "请在企业微信中打开" in text
    qr = re.search(r'id="page-qr" class="channel-qr" src="([^"]+)"', text).group(1)
    image = client.get(unescape(qr))
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    assert client.get("/h5/qr.png?path=https://evil.example/").status_code == 200  # only our own pages are drawn


def test_the_customer_page_shows_my_relationship_the_colleagues_and_escapes_customer_text(client, world):
    assert sign_in(client, world["a"], "li").status_code == 302
    page = client.get("/h5/sidebar/c/wmShared")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert XSS not in text and "&lt;img src=x onerror=alert(1)&gt;" in text  # the nickname and wang's remark
    assert "王芳" in text and "协作跟进（1 位同事）" in text and "李的备注" in text and "星辰科技" in text
    assert re.search(r'value="%d" checked' % world["tags"]["高"], text)
    assert "VIP 群" in text  # a group both are in
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_another_salespersons_or_another_corps_customer_is_404(client, world):
    sign_in(client, world["a"], "li")
    for path in ("/h5/sidebar/c/wmZhao", "/h5/sidebar/c/wmForeign", "/h5/sidebar/c/nobody", "/h5/sidebar/c/" + "x" * 200,
                 "/h5/sidebar/g/nochat"):
        page = client.get(path)
        assert page.status_code == 404 and "没有找到" in page.get_data(as_text=True), path
        assert "赵的客户" not in page.get_data(as_text=True)
    token = csrf(client.get("/h5/sidebar/c/wmShared"))
    assert client.post("/h5/sidebar/c/wmZhao/notes", data={"csrf_token": token, "body": "x"}).status_code == 404


def test_the_forms_change_my_relationship_on_the_host_and_notes_reach_a_colleague(app, client, world, fake_host):
    sign_in(client, world["a"], "li")
    token = csrf(client.get("/h5/sidebar/c/wmShared"))
    assert client.post("/h5/sidebar/c/wmShared/tags", data={"tag": [str(world["tags"]["低"])]}).status_code == 400
    saved = client.post("/h5/sidebar/c/wmShared/tags", data={"csrf_token": token, "tag": [str(world["tags"]["低"])]})
    assert saved.status_code == 303
    assert fake_host.called("mark_tags")[-1] == {"employee_id": "li", "customer_id": "wmShared", "add": ["lo"],
                                                  "remove": ["hi"]}
    client.post("/h5/sidebar/c/wmShared/remark", data={"csrf_token": token, "remark": "李总", "description": "老客户"})
    assert fake_host.called("set_remark")[-1]["remark"] == "李总"
    client.post("/h5/sidebar/c/wmShared/stage", data={"csrf_token": token, "stage": "intent"})
    client.post("/h5/sidebar/c/wmShared/notes", data={"csrf_token": token, "body": "约了周五<b>面谈</b>"})
    page = client.get("/h5/sidebar/c/wmShared").get_data(as_text=True)
    assert "已保存" in page and 'value="intent" selected' in page and "李总" in page
    too_long = client.post("/h5/sidebar/c/wmShared/notes", data={"csrf_token": token, "body": "长" * 5000})
    assert too_long.status_code == 303 and "未保存" in client.get("/h5/sidebar/c/wmShared").get_data(as_text=True)

    colleague = app.test_client()  # wang's sidebar shows li's note, escaped
    sign_in(colleague, world["a"], "wang")
    theirs = colleague.get("/h5/sidebar/c/wmShared").get_data(as_text=True)
    assert "约了周五&lt;b&gt;面谈&lt;/b&gt;" in theirs and "李雷" in theirs
    assert db.session.scalar(select(Note.body)) == "约了周五<b>面谈</b>"


def test_the_group_page_lists_members_with_their_tags_and_keeps_notes(client, world):
    sign_in(client, world["a"], "li")
    page = client.get("/h5/sidebar/g/wrChat")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "VIP 群" in text and "群主：李雷" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "高" in text
    client.post("/h5/sidebar/g/wrChat/notes", data={"csrf_token": csrf(page), "body": "本周办活动"})
    assert "本周办活动" in client.get("/h5/sidebar/g/wrChat").get_data(as_text=True)
    other = client.application.test_client()
    sign_in(other, world["a"], "wang")  # wang is neither owner nor member
    assert other.get("/h5/sidebar/g/wrChat").status_code == 404


def test_quick_replies_become_the_message_sendchatmessage_takes(client, world, fake_host):
    from tests.scrm.test_api_quick_replies import _png
    from scrm.services import media

    a = world["a"]
    group = quick_replies.create_group(a, "开场白")["id"]
    image = media.save_image(a, "price.png", _png())
    made = [quick_replies.create(a, group_id=group, title=t, content=c)["id"] for t, c in (
        ("问候", {"type": "text", "text": "您好"}),
        ("官网", {"type": "link", "title": "产品", "url": "https://example.com/p"}),
        ("价目表", {"type": "image", "media_id": image.id}),
        ("小程序", {"type": "miniprogram", "title": "商城", "appid": "wxapp", "page": "pages/i.html",
                 "media_id": image.id}))]
    sign_in(client, a, "li")
    token = csrf(client.get("/h5/sidebar/c/wmShared"))
    post = lambda path: client.post(f"/api/v1/quick-replies/{path}", headers={"X-CSRFToken": token})  # noqa: E731
    text, link, picture, mini = (post(f"{i}/message").json for i in made)
    assert text == {"msgtype": "text", "text": {"content": "您好"}}
    assert link["msgtype"] == "news" and set(link) == {"msgtype", "news"}
    assert link["news"]["imgUrl"].endswith("/h5/static/link.png")  # a card always has a picture
    assert picture["msgtype"] == "image" and picture["image"]["mediaid"].startswith("media")
    assert post(f"{made[2]}/message").json == picture and len(fake_host.called("upload_image")) == 1  # reused
    shown = client.get(urlsplit(mini["miniprogram"]["imgUrl"]).path)
    assert shown.status_code == 200 and shown.data == _png()
    assert client.get("/h5/media/forged").status_code == 404
    assert post(f"{made[0]}/used").json["uses"] == 1
    assert client.post(f"/api/v1/quick-replies/{made[0]}/used").status_code == 400  # no CSRF token


def test_the_session_ends_when_the_employee_leaves(client, world, fake_host):
    sign_in(client, world["a"], "li")
    assert client.get("/h5/sidebar/c/wmShared").status_code == 200
    with unit_of_work():
        db.session.get(type(world["li"]), world["li"].id).status = "departed"
    again = client.get("/h5/sidebar/c/wmShared", headers={"User-Agent": WECOM_UA})
    assert again.status_code == 302 and len(fake_host.called("oauth_url")) == 2  # signed out: sign in again
