"""Address book, customers, cursors, remarks, tags and contact ways of the WeCom sandbox."""
from __future__ import annotations

import requests

from sandbox.wecom.models import User


def _staff(wecom) -> list[str]:
    """Every member, department by department: the host has no fetch_child (doc 96259)."""
    depts = [d["id"] for d in wecom.ok("get", "department/list")["department"]]
    return sorted({u["userid"] for d in depts
                   for u in wecom.ok("get", "user/simplelist", department_id=d)["userlist"]})


def test_address_book(wecom):
    depts = wecom.ok("get", "department/list")["department"]
    assert depts[0] == {"id": 1, "name": "沙箱企业", "parentid": 0, "order": depts[0]["order"]}
    child = depts[1]["id"]
    assert [d["id"] for d in wecom.ok("get", "department/list", id=child)["department"]] == [child]
    assert wecom.get("department/list", id=999)["errcode"] == 60123
    assert len(_staff(wecom)) == 6
    assert wecom.ok("get", "externalcontact/get_follow_user_list")["follow_user"] == sorted(_staff(wecom))
    assert wecom.ok("get", "user/list", department_id=1)["userlist"] == []  # nobody sits at the root itself
    # fetch_child is gone from user/list and user/simplelist (docs 96260, 96259): only direct members come back
    assert wecom.ok("get", "user/list", department_id=1, fetch_child=1)["userlist"] == []
    assert wecom.ok("get", "user/simplelist", department_id=1, fetch_child=1)["userlist"] == []
    member = wecom.ok("get", "user/get", userid="E00001")
    assert member["name"] and member["department"] and member["status"] == 1
    assert wecom.get("user/get", userid="nobody")["errcode"] == 60111
    assert wecom.get("user/list")["errcode"] == 60123
    with wecom.sandbox.db.session() as s:
        s.add(User(corp_id=wecom.corp.corp_id, userid="NEW", name="新人", department=[2], main_department=2, status=1))
    assert wecom.get("externalcontact/list", userid="NEW")["errcode"] == 84061  # no customers: not an empty list


def test_batch_get_by_user_pages_every_relationship_once(wecom):
    staff = _staff(wecom)
    expected = {(e, u) for u in staff for e in wecom.ok("get", "externalcontact/list", userid=u)["external_userid"]}
    seen, cursor, pages = [], "", 0
    while True:
        body = wecom.ok("post", "externalcontact/batch/get_by_user",
                        {"userid_list": staff, "cursor": cursor, "limit": 7})
        assert len(body["external_contact_list"]) <= 7
        seen += [(i["external_contact"]["external_userid"], i["follow_info"]["userid"])
                 for i in body["external_contact_list"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) and set(seen) == expected and pages == -(-len(expected) // 7)
    assert len(expected) > 60  # some customers have several followers
    default = wecom.ok("post", "externalcontact/batch/get_by_user", {"userid_list": staff})
    assert len(default["external_contact_list"]) == 50


def test_batch_get_by_user_bad_parameters(wecom):
    staff = _staff(wecom)
    call = lambda body: wecom.post("externalcontact/batch/get_by_user", body)["errcode"]  # noqa: E731
    assert call({"userid_list": staff, "limit": 101}) == 40058
    assert call({"userid_list": [f"u{i}" for i in range(101)]}) == 40058
    assert call({"userid_list": []}) == 40058
    assert call({"userid_list": staff, "cursor": "not-a-cursor"}) == 40058
    assert wecom.http.post(f"{wecom.base}/externalcontact/batch/get_by_user", params={"access_token": wecom.token},
                           data=b"{broken").json()["errcode"] == 47001


def test_get_customer_and_follower_paging(sandbox, wecom):
    staff = _staff(wecom)
    items = wecom.ok("post", "externalcontact/batch/get_by_user", {"userid_list": staff, "limit": 100})
    counts: dict[str, int] = {}
    for item in items["external_contact_list"]:
        ext = item["external_contact"]["external_userid"]
        counts[ext] = counts.get(ext, 0) + 1
    shared = next(e for e, n in counts.items() if n > 1)
    whole = wecom.ok("get", "externalcontact/get", external_userid=shared)
    assert whole["external_contact"]["name"] and len(whole["follow_user"]) == counts[shared]
    assert whole["next_cursor"] == ""
    sandbox.control.set_limits(wecom.corp.corp_id, {"get_follow_page": 1})
    first = wecom.ok("get", "externalcontact/get", external_userid=shared)
    assert len(first["follow_user"]) == 1 and first["next_cursor"]
    second = wecom.ok("get", "externalcontact/get", external_userid=shared, cursor=first["next_cursor"])
    assert second["follow_user"][0]["userid"] != first["follow_user"][0]["userid"]
    assert wecom.get("externalcontact/get", external_userid="wmnobody")["errcode"] == 40096


def test_remark_rules(wecom):
    userid = "E00001"
    ext = wecom.ok("get", "externalcontact/list", userid=userid)["external_userid"][0]
    wecom.ok("post", "externalcontact/remark", {"userid": userid, "external_userid": ext, "remark": "王总🌸",
                                                "description": "老客户", "remark_mobiles": ["13800000000"]})
    follow = [f for f in wecom.ok("get", "externalcontact/get", external_userid=ext)["follow_user"]
              if f["userid"] == userid][0]
    assert (follow["remark"], follow["description"], follow["remark_mobiles"]) == ("王总🌸", "老客户", ["13800000000"])
    def remark(**kw):
        return wecom.post("externalcontact/remark", {"userid": userid, "external_userid": ext, **kw})

    def mobiles():
        return [f for f in wecom.ok("get", "externalcontact/get", external_userid=ext)["follow_user"]
                if f["userid"] == userid][0]["remark_mobiles"]

    assert remark(remark_mobiles=[])["errcode"] == 0 and mobiles() == ["13800000000"]  # [] is not how to clear
    assert remark(remark_mobiles=[""])["errcode"] == 0 and mobiles() == []  # [""] is (doc 92115)
    assert remark(remark="长" * 21)["errcode"] == 40058
    assert remark(description="长" * 151)["errcode"] == 40058
    assert wecom.post("externalcontact/remark", {"userid": "nobody", "external_userid": ext})["errcode"] == 40003
    assert wecom.post("externalcontact/remark", {"userid": userid, "external_userid": "wmx"})["errcode"] == 40096
    stranger = next(u for u in _staff(wecom)
                    if ext not in wecom.ok("get", "externalcontact/list", userid=u)["external_userid"])
    assert wecom.post("externalcontact/remark", {"userid": stranger, "external_userid": ext})["errcode"] == 84061


def test_tag_library_and_marking(wecom):
    made = wecom.ok("post", "externalcontact/add_corp_tag", {"group_name": "活动", "tag": [{"name": "双十一"}]})
    group = made["tag_group"]
    tag_id = group["tag"][0]["id"]
    dup = wecom.post("externalcontact/add_corp_tag", {"group_id": group["group_id"], "tag": [{"name": "双十一"}]})
    assert dup["errcode"] == 40071
    more = wecom.ok("post", "externalcontact/add_corp_tag", {"group_name": "活动", "tag": [{"name": "618"}]})
    assert more["tag_group"]["group_id"] == group["group_id"]  # an existing group name adds into it
    assert wecom.post("externalcontact/edit_corp_tag", {"id": "etnope", "name": "x"})["errcode"] == 40068
    assert wecom.post("externalcontact/edit_corp_tag", {"id": tag_id, "name": "618"})["errcode"] == 40071
    wecom.ok("post", "externalcontact/edit_corp_tag", {"id": tag_id, "name": "双十二", "order": 5})
    listed = wecom.ok("post", "externalcontact/get_corp_tag_list", {"group_id": [group["group_id"]]})["tag_group"]
    assert {t["name"] for t in listed[0]["tag"]} == {"双十二", "618"}
    assert len(wecom.ok("post", "externalcontact/get_corp_tag_list")["tag_group"]) == 5  # 4 seeded groups + 1

    ext = wecom.ok("get", "externalcontact/list", userid="E00002")["external_userid"][0]
    def mark(**kw):
        return wecom.post("externalcontact/mark_tag", {"userid": "E00002", "external_userid": ext, **kw})

    assert mark(add_tag=["etnope"])["errcode"] == 40068
    assert mark()["errcode"] == 41017
    assert mark(add_tag=[tag_id])["errcode"] == 0

    def tags():
        follows = wecom.ok("get", "externalcontact/get", external_userid=ext)["follow_user"]
        return [t["tag_id"] for f in follows if f["userid"] == "E00002" for t in f["tags"]]

    assert tag_id in tags()
    assert wecom.post("externalcontact/del_corp_tag", {"tag_id": ["etnope"]})["errcode"] == 40068
    other = more["tag_group"]["tag"][0]["id"]
    wecom.ok("post", "externalcontact/del_corp_tag", {"tag_id": [tag_id, other]})
    assert tag_id not in tags()
    remaining = wecom.ok("post", "externalcontact/get_corp_tag_list", {"group_id": [group["group_id"]]})
    assert remaining["tag_group"] == []  # a group without tags is gone


def test_contact_way_rules_and_qr(sandbox, wecom):
    add = lambda **kw: wecom.post("externalcontact/add_contact_way", {"type": 1, "scene": 2, **kw})  # noqa: E731
    assert add(user=["E00001"], state="x" * 31)["errcode"] == 40058
    assert add(user=["E00001", "E00002"])["errcode"] == 40058
    assert add(user=["nobody"])["errcode"] == 40003
    assert add(user=["E00001"], type=3)["errcode"] == 41039
    assert wecom.post("externalcontact/add_contact_way", {"scene": 2})["errcode"] == 41037
    made = add(user=["E00001"], state="store_01", remark="门店", skip_verify=False)
    assert made["errcode"] == 0 and made["qr_code"].endswith(".png")
    got = wecom.ok("post", "externalcontact/get_contact_way", {"config_id": made["config_id"]})["contact_way"]
    assert (got["state"], got["user"], got["skip_verify"], got["type"]) == ("store_01", ["E00001"], False, 1)
    png = requests.get(made["qr_code"], timeout=5)
    assert png.headers["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    wecom.ok("post", "externalcontact/update_contact_way", {"config_id": made["config_id"], "state": "store_02"})
    got = wecom.ok("post", "externalcontact/get_contact_way", {"config_id": made["config_id"]})["contact_way"]
    assert got["state"] == "store_02" and got["remark"] == "门店"
    # type 1 takes exactly one user, at update too (doc 92228)
    grow = {"config_id": made["config_id"], "user": ["E00001", "E00002"]}
    assert wecom.post("externalcontact/update_contact_way", grow)["errcode"] == 40058
    assert wecom.post("externalcontact/update_contact_way", {**grow, "user": []})["errcode"] == 40058
    multi = wecom.ok("post", "externalcontact/add_contact_way", {"type": 2, "scene": 2, "user": ["E00001", "E00002"]})
    crowd = [f"P{i:03d}" for i in range(100)]
    with sandbox.db.session() as s:  # 100 more members in department 2, besides the seeded ones
        s.add_all(User(corp_id=wecom.corp.corp_id, userid=u, name=u, department=[2], main_department=2, status=1)
                  for u in crowd)
    assert wecom.post("externalcontact/add_contact_way", {"type": 2, "scene": 2, "user": crowd + ["E00001"]})[
        "errcode"] == 41041  # more than 100 users on one way
    assert wecom.post("externalcontact/add_contact_way", {"type": 2, "scene": 2, "user": ["E00001"],
                                                          "party": [2]})["errcode"] == 41041  # counted after expanding
    wecom.ok("post", "externalcontact/add_contact_way", {"type": 2, "scene": 2, "user": crowd})
    assert wecom.post("externalcontact/update_contact_way",
                      {"config_id": multi["config_id"], "user": crowd + ["E00003"]})["errcode"] == 41041
    wecom.ok("post", "externalcontact/update_contact_way", {"config_id": multi["config_id"], "user": ["E00003"]})
    assert multi["config_id"] != made["config_id"]
    wecom.ok("post", "externalcontact/del_contact_way", {"config_id": made["config_id"]})
    assert wecom.post("externalcontact/get_contact_way", {"config_id": made["config_id"]})["errcode"] == 41044
    assert wecom.post("externalcontact/get_contact_way", {})["errcode"] == 41043


def test_welcome_code_valid_20_seconds_and_once(sandbox, wecom):
    way = wecom.ok("post", "externalcontact/add_contact_way", {"type": 1, "scene": 2, "user": ["E00003"], "state": "w"})
    send = lambda code: wecom.post("externalcontact/send_welcome_msg",  # noqa: E731
                                   {"welcome_code": code, "text": {"content": "您好，欢迎～"}})["errcode"]
    first = sandbox.play(wecom.corp, "scan_one", config_id=way["config_id"])["result"]
    assert first["state"] == "w" and first["userid"] == "E00003"
    assert send(first["welcome_code"]) == 0
    assert send(first["welcome_code"]) == 41051
    late = sandbox.play(wecom.corp, "scan_one", config_id=way["config_id"])["result"]["welcome_code"]
    sandbox.clock.advance(21)
    assert send(late) == 41050  # past its 20 seconds: invalid, not "already chatting"
    assert send("unknown-code") == 41050
    assert wecom.post("externalcontact/send_welcome_msg", {"text": {"content": "x"}})["errcode"] == 41049
