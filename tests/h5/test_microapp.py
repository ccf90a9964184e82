"""The DingTalk micro-app over HTTP (the fake host at the port): sign-in with the free-login code and the state of
the sign-in page (refused for a departed employee), my customers searched, filtered and paged within the role's
scope, the customer's page and its forms, the pool and its claims (the daily number, a colleague faster), the
handovers I give or take, 404s, and customer text escaped."""
import re
from datetime import timedelta
from html import unescape

import pytest
from flask import g
from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.host import HostTag, HostTagGroup
from scrm.models import Corp, Employee, Handover, HandoverLine, Note, PoolEntry, Relationship, Tag, utcnow
from scrm.services import pool
from scrm.services.relations import set_relationship_tags
from scrm.services.tags import upsert_tag_group
from tests.builders import make_corp, make_customer, make_employee

DINGTALK_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
               "Mobile/15E148 AliApp(DingTalk/7.6.0) com.laiwang.DingTalk/32436046 Channel/201200 language/zh-Hans-CN")
XSS = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture
def world(app, fake_host):
    # the test's app context outlives requests, so what flask-wtf (the CSRF token) and Flask-Babel (the locale)
    # keep in `g` for one request would reach the next: start every request afresh, as a server does
    @app.before_request
    def _fresh_request():
        g.pop("csrf_token", None)
        g.pop("_flask_babel", None)

    a = make_corp(name="甲公司", platform="dingtalk", corp_id="dingcorpa", app_key="dingappkey")
    b = make_corp(name="乙公司", platform="dingtalk", corp_id="dingcorpb", app_key="dingappb")
    li, wang = (make_employee(a, host_id=h, name=n) for h, n in (("li", "李雷"), ("wang", "王芳")))
    with unit_of_work():
        upsert_tag_group(a, HostTagGroup(id="g", name="意向", tags=[HostTag(id="hi", name="高"),
                                                                   HostTag(id="lo", name="低")]))
    tags = {t.name: t.id for t in db.session.scalars(select(Tag))}
    shared = make_customer(a, name=XSS, host_id="wmShared", corp_name="星辰科技")
    mine = [make_customer(a, name=f"客户{i:02d}", host_id=f"wm{i:02d}") for i in range(25)]
    theirs = make_customer(a, name="王的客户", host_id="wmWang")
    rels = {}
    with unit_of_work():
        for emp, cust, remark in ([(li, shared, "李的备注"), (wang, shared, XSS), (wang, theirs, None)]
                                  + [(li, c, "老朋友" if i == 3 else None) for i, c in enumerate(mine)]):
            rel = Relationship(corp_id=a.id, employee_id=emp.id, customer_id=cust.id, status="active", remark=remark)
            db.session.add(rel)
            db.session.flush()
            rels[(emp.host_id, cust.host_id)] = rel.id
        set_relationship_tags(db.session.get(Relationship, rels[("li", "wmShared")]), [tags["高"]])
        set_relationship_tags(db.session.get(Relationship, rels[("li", "wm07")]), [tags["低"]])
        db.session.get(type(shared), mine[5].id).stage = "intent"
    for emp, cust in (("li", "wmShared"), ("wang", "wmShared"), ("wang", "wmWang")):
        fake_host.add_friend(emp, cust)
    foreign = make_customer(b, name="别家客户", host_id="wmForeign")
    return {"a": a, "b": b, "li": li, "wang": wang, "shared": shared, "mine": mine, "theirs": theirs,
            "tags": tags, "foreign": foreign, "rels": rels}


def sign_in(client, corp, userid: str, path: str = "/h5/app"):
    """Open a page inside DingTalk: its sign-in page hands dd.requestAuthCode's code (here "code-<userid>") and the
    page's state to /h5/login/dingtalk, which answers the page to go back to."""
    first = client.get(f"{path}{'&' if '?' in path else '?'}corp={corp.corp_key}", headers={"User-Agent": DINGTALK_UA})
    text = first.get_data(as_text=True)
    assert first.status_code == 200 and 'id="dd-signin"' in text, text
    assert f'data-corp-id="{corp.corp_id}"' in text and f'data-client-id="{corp.app_key}"' in text
    state = unescape(re.search(r'data-state="([^"]+)"', text).group(1))
    token = unescape(re.search(r'data-csrf="([^"]+)"', text).group(1))
    return client.post("/h5/login/dingtalk", data={"code": f"code-{userid}", "state": state, "csrf_token": token})


def csrf(page) -> str:
    return unescape(re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1))


def names(page) -> list[str]:
    return [unescape(n) for n in re.findall(r'<span class="row__title">([^<]+)', page.get_data(as_text=True))]


def test_signing_in_with_the_free_login_code_opens_my_customers_and_a_departed_employee_is_refused(client, world,
                                                                                                  fake_host):
    answer = sign_in(client, world["a"], "li")
    assert answer.status_code == 200 and answer.json == {"next": f"/h5/app?corp={world['a'].corp_key}"}
    assert fake_host.called("resolve_login") == [{"code": "code-li"}]
    page = client.get(answer.json["next"], headers={"User-Agent": DINGTALK_UA})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "我的客户" in text and 'class="tabbar"' in text
    assert "共 26 位" in text and "王的客户" not in text  # a salesperson sees only their own
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script" not in text and "style=" not in text  # the pages need no script, and no inline style

    other = client.application.test_client()  # a state from another sign-in, or none, is refused
    first = other.get(f"/h5/app?corp={world['a'].corp_key}", headers={"User-Agent": DINGTALK_UA})
    token = unescape(re.search(r'data-csrf="([^"]+)"', first.get_data(as_text=True)).group(1))
    forged = other.post("/h5/login/dingtalk", data={"code": "code-li", "state": "0" * 32, "csrf_token": token})
    assert forged.status_code == 400 and forged.json["code"] == "expired"
    assert other.post("/h5/login/dingtalk", data={"code": "code-li", "state": "x"}).json["code"] == "csrf"

    with unit_of_work():
        db.session.get(Employee, world["li"].id).status = "departed"
    departed = sign_in(client.application.test_client(), world["a"], "li")
    assert departed.status_code == 403 and departed.json["code"] == "refused" and "离职" in departed.json["message"]
    again = client.get("/h5/app", headers={"User-Agent": DINGTALK_UA})  # the session ended with the employee
    assert 'id="dd-signin"' in again.get_data(as_text=True)


def test_outside_dingtalk_the_app_says_how_to_open_it(client, world):
    page = client.get(f"/h5/app?corp={world['a'].corp_key}", headers={"User-Agent": "Mozilla/5.0 Chrome/130"})
    assert page.status_code == 403 and "请在钉钉中打开" in page.get_data(as_text=True)


def test_in_a_pc_browser_the_app_signs_in_by_scanning_dingtalks_login_qr(client, world, fake_host):
    from urllib.parse import parse_qs, unquote, urlsplit

    page = client.get(f"/h5/app?corp={world['a'].corp_key}", headers={"User-Agent": "Mozilla/5.0 Chrome/130"})
    link = unescape(re.search(r'id="scan-sign-in" class="[^"]+" href="([^"]+)"', page.get_data(as_text=True)).group(1))
    to_host = client.get(link)
    assert to_host.status_code == 302 and to_host.headers["Location"].startswith("https://fake.host/login")
    asked = fake_host.called("login_page_url")[-1]
    assert asked["redirect_uri"].endswith("/h5/login/scanned")
    back = client.get(f"/h5/login/scanned?authCode=code-li&state={asked['state']}")
    assert back.status_code == 302 and unquote(back.headers["Location"]).startswith("/h5/app?corp=")
    assert client.get(back.headers["Location"]).status_code == 200
    assert client.get(f"/h5/login/scanned?authCode=code-x&state={asked['state']}").status_code == 400  # used
    assert parse_qs(urlsplit(link).query)["next"][0].startswith("/h5/app")


def test_my_customers_are_searched_by_name_or_remark_filtered_by_tag_and_stage_and_paged(client, world):
    sign_in(client, world["a"], "li")
    first = client.get("/h5/app")
    shown = names(first)
    assert len(shown) == 20 and shown[0] == "客户24"  # newest first
    more = unescape(re.search(r'id="more" href="([^"]+)"', first.get_data(as_text=True)).group(1))
    second = client.get(more)
    assert names(second) == ["客户04", "客户03", "客户02", "客户01", "客户00", XSS]
    assert 'id="more"' not in second.get_data(as_text=True) and 'id="first"' in second.get_data(as_text=True)
    assert set(shown).isdisjoint(names(second))

    assert names(client.get("/h5/app?q=客户1")) == [f"客户{i}" for i in range(19, 9, -1)]
    by_remark = client.get("/h5/app?q=老朋友")
    assert names(by_remark) == ["客户03"] and "老朋友" in by_remark.get_data(as_text=True)
    assert names(client.get("/h5/app?q=100%")) == []  # a % matches itself
    assert names(client.get(f"/h5/app?tag={world['tags']['低']}")) == ["客户07"]
    high = client.get(f"/h5/app?tag={world['tags']['高']}")
    assert names(high) == [XSS] and re.search(r'value="%d" selected' % world["tags"]["高"], high.get_data(as_text=True))
    assert names(client.get("/h5/app?stage=intent")) == ["客户05"]
    assert names(client.get(f"/h5/app?stage=intent&tag={world['tags']['低']}")) == []
    unknown = client.get("/h5/app?stage=nonsense&tag=abc&after=-1")  # nonsense is ignored, never a 500
    assert unknown.status_code == 200 and len(names(unknown)) == 20
    paged = client.get("/h5/app?q=客户&stage=new")
    more = unescape(re.search(r'id="more" href="([^"]+)"', paged.get_data(as_text=True)).group(1))
    assert "q=" in more and "stage=new" in more and "after=" in more  # the filters go on with the page


def test_the_customer_page_is_the_sidebars_by_our_id_and_escapes_customer_text(client, world):
    sign_in(client, world["a"], "li")
    listed = client.get("/h5/app?q=李的备注").get_data(as_text=True)
    assert XSS not in listed and ESCAPED in listed and "星辰科技" in listed
    assert f'href="/h5/app/c/{world["shared"].id}"' in listed
    page = client.get(f"/h5/app/c/{world['shared'].id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert XSS not in text and ESCAPED in text  # the nickname and wang's remark
    for section in ("colleagues", "tags", "remark", "stage", "notes", "groups", "timeline"):
        assert f'id="{section}"' in text, section
    assert 'id="replies"' not in text and "话术" not in text  # no chat to send replies into
    assert "王芳" in text and "协作跟进（1 位同事）" in text and "李的备注" in text
    assert re.search(r'value="%d" checked' % world["tags"]["高"], text)
    assert f'action="/h5/app/c/{world["shared"].id}/notes"' in text and "<script" not in text
    assert 'aria-current="page"' in text and 'id="tab-customers"' in text


def test_the_customer_pages_forms_change_my_relationship_and_notes_reach_a_colleague(app, client, world, fake_host):
    sign_in(client, world["a"], "li")
    cid = world["shared"].id
    token = csrf(client.get(f"/h5/app/c/{cid}"))
    assert client.post(f"/h5/app/c/{cid}/notes", data={"body": "x"}).status_code == 400  # no CSRF token
    saved = client.post(f"/h5/app/c/{cid}/notes", data={"csrf_token": token, "body": "约了周五<b>面谈</b>"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith(f"/h5/app/c/{cid}#notes")
    client.post(f"/h5/app/c/{cid}/tags", data={"csrf_token": token, "tag": [str(world["tags"]["低"])]})
    assert fake_host.called("mark_tags")[-1] == {"employee_id": "li", "customer_id": "wmShared", "add": ["lo"],
                                                  "remove": ["hi"]}
    client.post(f"/h5/app/c/{cid}/remark", data={"csrf_token": token, "remark": "李总", "description": "老客户"})
    assert fake_host.called("set_remark")[-1]["remark"] == "李总"
    client.post(f"/h5/app/c/{cid}/stage", data={"csrf_token": token, "stage": "intent"})
    page = client.get(f"/h5/app/c/{cid}").get_data(as_text=True)
    assert "已保存" in page and 'value="intent" selected' in page and "李总" in page
    assert "约了周五&lt;b&gt;面谈&lt;/b&gt;" in page
    assert db.session.scalar(select(Note.body)) == "约了周五<b>面谈</b>"

    colleague = app.test_client()  # wang sees li's note, and may not tag through li's page
    sign_in(colleague, world["a"], "wang")
    assert "约了周五&lt;b&gt;面谈&lt;/b&gt;" in colleague.get(f"/h5/app/c/{cid}").get_data(as_text=True)


def test_another_salespersons_another_corps_or_a_missing_customer_is_404(client, world):
    sign_in(client, world["a"], "li")
    for cid in (world["theirs"].id, world["foreign"].id, 999999, 2**70):
        page = client.get(f"/h5/app/c/{cid}")
        assert page.status_code == 404 and "没有找到" in page.get_data(as_text=True), cid
        assert "王的客户" not in page.get_data(as_text=True) and "别家客户" not in page.get_data(as_text=True)
    token = csrf(client.get(f"/h5/app/c/{world['shared'].id}"))
    for form in ("notes", "stage", "tags", "remark"):
        answer = client.post(f"/h5/app/c/{world['theirs'].id}/{form}", data={"csrf_token": token, "body": "x"})
        assert answer.status_code == 404, form
    assert client.post(f"/h5/app/pool/{world['foreign'].id}/claim", data={"csrf_token": token}).status_code == 303
    assert client.get("/h5/app/nothing").status_code == 404
    assert client.get(f"/h5/app?corp={world['b'].corp_key}", headers={"User-Agent": DINGTALK_UA}).status_code == 200
    assert db.session.scalar(select(Note.id)) is None


def _into_pool(corp: Corp, *customers, by=None):
    with unit_of_work():
        for c in customers:
            pool.enter(corp.id, c.id, "ended", by.id if by else None, utcnow() - timedelta(hours=1))


def test_the_pool_lists_open_entries_and_a_claim_makes_the_customer_mine(client, world):
    a = world["a"]
    lost = [make_customer(a, name=n, host_id=f"wmLost{i}") for i, n in enumerate(("流失甲", XSS, "流失丙"))]
    _into_pool(a, *lost, by=world["wang"])
    sign_in(client, a, "li")
    page = client.get("/h5/app/pool")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and names(page) == ["流失丙", XSS, "流失甲"] and ESCAPED in text
    assert "原跟进人：王芳" in text and "今天还可以领取 20 位客户" in text and "好友关系已结束" in text
    assert client.post(f"/h5/app/pool/{lost[0].id}/claim").status_code == 400  # no CSRF token
    claimed = client.post(f"/h5/app/pool/{lost[0].id}/claim", data={"csrf_token": csrf(page)})
    assert claimed.status_code == 303 and claimed.headers["Location"].endswith(f"/h5/app/c/{lost[0].id}")
    mine = client.get(claimed.headers["Location"]).get_data(as_text=True)
    assert "已领取" in mine and "流失甲" in mine
    assert db.session.scalar(select(PoolEntry.claimed_by).where(PoolEntry.customer_id == lost[0].id)) == world["li"].id
    assert "今天还可以领取 19 位客户" in client.get("/h5/app/pool").get_data(as_text=True)


def test_a_claim_says_when_the_daily_number_is_used_up_or_a_colleague_was_faster(app, client, world):
    a = world["a"]
    with unit_of_work():
        db.session.get(Corp, a.id).options = {"pool": {"daily_claims": 1}}
    lost = [make_customer(a, name=f"公海{i}", host_id=f"wmPool{i}") for i in range(3)]
    _into_pool(a, *lost)
    sign_in(client, a, "li")
    colleague = app.test_client()
    sign_in(colleague, a, "wang")
    token = csrf(client.get("/h5/app/pool"))
    colleague.post(f"/h5/app/pool/{lost[0].id}/claim", data={"csrf_token": csrf(colleague.get("/h5/app/pool"))})
    late = client.post(f"/h5/app/pool/{lost[0].id}/claim", data={"csrf_token": token})
    assert late.status_code == 303 and late.headers["Location"].endswith("/h5/app/pool")
    assert "已不在公海，可能刚被同事领取" in client.get("/h5/app/pool").get_data(as_text=True)
    assert client.post(f"/h5/app/pool/{lost[1].id}/claim", data={"csrf_token": token}).status_code == 303
    full = client.post(f"/h5/app/pool/{lost[2].id}/claim", data={"csrf_token": token})
    assert full.headers["Location"].endswith("/h5/app/pool")
    page = client.get("/h5/app/pool").get_data(as_text=True)
    assert "今天的领取名额已用完" in page and "今天还可以领取 0 位客户" in page
    assert re.search(r'class="weui-btn weui-btn_mini weui-btn_primary claim" disabled', page)
    assert db.session.scalar(select(PoolEntry.status).where(PoolEntry.customer_id == lost[2].id)) == "open"


def test_the_handovers_i_give_or_take_show_each_lines_state_in_words(client, world):
    a, li, wang = world["a"], world["li"], world["wang"]
    zhao = make_employee(a, host_id="zhao", name="赵六")
    extra = make_customer(a, name="赵的客户", host_id="wmZhao")
    with unit_of_work():
        given = Handover(corp_id=a.id, kind="onjob", from_employee_id=li.id, requested_by="cli", status="running")
        taken = Handover(corp_id=a.id, kind="departed", from_employee_id=zhao.id, requested_by="cli", status="done")
        unrelated = Handover(corp_id=a.id, kind="onjob", from_employee_id=zhao.id, requested_by="cli")
        db.session.add_all([given, taken, unrelated])
        db.session.flush()
        db.session.add_all([
            HandoverLine(handover_id=given.id, corp_id=a.id, customer_id=world["mine"][0].id, host_id="wm00",
                         from_employee_id=li.id, to_employee_id=wang.id, state="waiting"),
            HandoverLine(handover_id=given.id, corp_id=a.id, customer_id=world["mine"][1].id, host_id="wm01",
                         from_employee_id=li.id, to_employee_id=wang.id, state="refused"),
            HandoverLine(handover_id=taken.id, corp_id=a.id, customer_id=extra.id, host_id="wmZhao",
                         from_employee_id=zhao.id, to_employee_id=li.id, state="done", settled_at=utcnow()),
            HandoverLine(handover_id=taken.id, corp_id=a.id, customer_id=world["shared"].id, host_id="wmShared",
                         from_employee_id=zhao.id, to_employee_id=wang.id, state="taker_at_limit"),
            HandoverLine(handover_id=unrelated.id, corp_id=a.id, customer_id=world["theirs"].id, host_id="wmWang",
                         from_employee_id=zhao.id, to_employee_id=wang.id, state="planned")])
    sign_in(client, a, "li")
    page = client.get("/h5/app/handovers")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'id="handover-{given.id}"' in text and f'id="handover-{taken.id}"' in text
    assert f'id="handover-{unrelated.id}"' not in text and "王的客户" not in text
    assert "在职转接 · 我交出" in text and "等待生效" in text and "客户拒绝" in text and "进行中" in text
    assert "离职继承 · 从 赵六 接手" in text and "已完成" in text and "已结束" in text
    assert "接手人：李雷" in text and ESCAPED not in text  # a taker sees their own lines only
    assert "<form" not in text  # read only


def test_the_english_catalog_translates_the_app(client, world):
    sign_in(client, world["a"], "li")
    text = client.get("/h5/app?lang=en").get_data(as_text=True)
    assert "My customers" in text and "Pool" in text and "Handovers" in text
