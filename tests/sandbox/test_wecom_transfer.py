"""Transfers, unassigned customers and group chats of the WeCom sandbox."""
from __future__ import annotations

import pytest

DAY = 86400


@pytest.fixture
def corp(sandbox):
    # these tests move the clock by days: a token that outlives them keeps the calls about transfers
    corp = sandbox.create_corp("wecom", token_ttl=400 * DAY)
    sandbox.seed(corp, employees=6, customers=60, rng=7)
    return corp


def _customer_of(wecom, userid, index=0):
    return wecom.ok("get", "externalcontact/list", userid=userid)["external_userid"][index]


def _transfer(wecom, handover, takeover, ext, resigned=False):
    path = "externalcontact/resigned/transfer_customer" if resigned else "externalcontact/transfer_customer"
    return wecom.post(path, {"handover_userid": handover, "takeover_userid": takeover, "external_userid": [ext]})


def _result(wecom, handover, takeover, resigned=False):
    path = "externalcontact/resigned/transfer_result" if resigned else "externalcontact/transfer_result"
    return wecom.ok("post", path, {"handover_userid": handover, "takeover_userid": takeover})["customer"]


def test_takeover_completes_after_24_hours(sandbox, wecom):
    ext = _customer_of(wecom, "E00001")
    assert _transfer(wecom, "E00001", "E00002", ext)["customer"] == [{"external_userid": ext, "errcode": 0}]
    assert _transfer(wecom, "E00001", "E00003", ext)["customer"][0]["errcode"] == 40100
    waiting = _result(wecom, "E00001", "E00002")
    assert waiting[0]["status"] == 2
    sandbox.clock.advance(DAY - 60)
    assert _result(wecom, "E00001", "E00002")[0]["status"] == 2
    assert ext in wecom.ok("get", "externalcontact/list", userid="E00001")["external_userid"]
    sandbox.clock.advance(61)
    done = _result(wecom, "E00001", "E00002")[0]
    assert done["status"] == 1 and done["takeover_time"] == waiting[0]["takeover_time"]
    assert ext in wecom.ok("get", "externalcontact/list", userid="E00002")["external_userid"]
    assert ext not in wecom.ok("get", "externalcontact/list", userid="E00001")["external_userid"]


def test_two_transfers_per_customer_per_90_days(sandbox, wecom):
    ext = _customer_of(wecom, "E00001")
    assert _transfer(wecom, "E00001", "E00002", ext)["customer"][0]["errcode"] == 0
    sandbox.clock.advance(DAY)
    assert _transfer(wecom, "E00002", "E00003", ext)["customer"][0]["errcode"] == 0
    sandbox.clock.advance(DAY)
    assert _transfer(wecom, "E00003", "E00004", ext)["customer"][0]["errcode"] == 40128
    sandbox.clock.advance(89 * DAY)
    assert _transfer(wecom, "E00003", "E00004", ext)["customer"][0]["errcode"] == 0


def test_transfer_parameter_errors(wecom):
    ext = _customer_of(wecom, "E00001")
    assert _transfer(wecom, "E00001", "E00001", ext)["errcode"] == 40130
    assert _transfer(wecom, "E00001", "nobody", ext)["errcode"] == 40003
    assert _transfer(wecom, "E00001", "E00002", "wmnobody")["customer"][0]["errcode"] == 40096
    stranger = next(u for u in ("E00002", "E00003", "E00004", "E00005", "E00006")
                    if ext not in wecom.ok("get", "externalcontact/list", userid=u)["external_userid"])
    assert _transfer(wecom, stranger, "E00001", ext)["customer"][0]["errcode"] == 40131
    too_many = wecom.post("externalcontact/transfer_customer",
                          {"handover_userid": "E00001", "takeover_userid": "E00002",
                           "external_userid": [f"wm{i}" for i in range(101)]})
    assert too_many["errcode"] == 40058


def test_refused_transfer_reports_status_3(sandbox, wecom):
    ext = _customer_of(wecom, "E00001")
    _transfer(wecom, "E00001", "E00002", ext)
    sandbox.play(wecom.corp, "refuse_transfer", external_userid=ext)
    sandbox.clock.advance(2 * DAY)
    assert _result(wecom, "E00001", "E00002")[0]["status"] == 3
    assert ext in wecom.ok("get", "externalcontact/list", userid="E00001")["external_userid"]


def test_departed_employee_customers_are_unassigned_then_inherited(sandbox, wecom):
    ext = _customer_of(wecom, "E00004")
    assert _transfer(wecom, "E00004", "E00005", ext, resigned=True)["errcode"] == 40097
    owned = len(wecom.ok("get", "externalcontact/list", userid="E00004")["external_userid"])
    left = sandbox.play(wecom.corp, "leave", userid="E00004")["result"]
    assert left == {"userid": "E00004", "unassigned": owned}
    assert wecom.get("user/get", userid="E00004")["errcode"] == 60111
    seen, cursor = [], ""
    while True:
        page = wecom.ok("post", "externalcontact/get_unassigned_list", {"page_size": 2, "cursor": cursor})
        assert len(page["info"]) <= 2
        seen += page["info"]
        cursor = page["next_cursor"]
        assert "is_last" not in page  # cursor paging ends on an empty next_cursor (doc 92124)
        if not cursor:
            break
    assert len(seen) == owned and {i["handover_userid"] for i in seen} == {"E00004"}
    assert all(i["dimission_time"] > 0 for i in seen)
    assert wecom.post("externalcontact/get_unassigned_list", {"page_size": 1001})["errcode"] == 40058
    second = wecom.ok("post", "externalcontact/get_unassigned_list", {"page_size": 2, "page_id": 1})
    assert second["info"] == seen[2:4] and "next_cursor" not in second and second["is_last"] is (owned <= 4)
    assert _transfer(wecom, "E00004", "E00005", ext, resigned=True)["customer"][0]["errcode"] == 0
    unassigned = wecom.ok("post", "externalcontact/get_unassigned_list", {})["info"]
    assert ext not in {i["external_userid"] for i in unassigned}  # in transfer
    sandbox.clock.advance(DAY)
    assert _result(wecom, "E00004", "E00005", resigned=True)[0]["status"] == 1
    assert ext in wecom.ok("get", "externalcontact/list", userid="E00005")["external_userid"]


def test_group_chat_listing_and_transfer(sandbox, wecom):
    assert wecom.post("externalcontact/groupchat/list", {})["errcode"] == 40058
    assert wecom.post("externalcontact/groupchat/list", {"limit": 1001})["errcode"] == 40058
    every = wecom.ok("post", "externalcontact/groupchat/list", {"limit": 1000})["group_chat_list"]
    assert len(every) >= 3
    seen, cursor = [], ""
    while True:
        page = wecom.ok("post", "externalcontact/groupchat/list", {"limit": 2, "cursor": cursor})
        seen += [c["chat_id"] for c in page["group_chat_list"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [c["chat_id"] for c in every]
    chat = wecom.ok("post", "externalcontact/groupchat/get", {"chat_id": seen[0], "need_name": 1})["group_chat"]
    owner = chat["owner"]
    assert any(m["type"] == 2 for m in chat["member_list"]) and any(m["userid"] == owner for m in chat["member_list"])
    assert wecom.post("externalcontact/groupchat/get", {"chat_id": "wrnope"})["errcode"] == 90501
    new_owner = next(u for u in ("E00001", "E00002", "E00003") if u != owner)
    failed = wecom.ok("post", "externalcontact/groupchat/transfer",
                      {"chat_id_list": [seen[0]], "new_owner": new_owner})["failed_chat_list"]
    assert failed[0]["errcode"] == 90500  # owner still employed
    sandbox.play(wecom.corp, "leave", userid=owner)
    by_status = wecom.ok("post", "externalcontact/groupchat/list", {"limit": 100, "status_filter": 1})
    assert seen[0] in [c["chat_id"] for c in by_status["group_chat_list"]]
    assert wecom.ok("post", "externalcontact/groupchat/transfer",
                    {"chat_id_list": [seen[0]], "new_owner": new_owner})["failed_chat_list"] == []
    assert wecom.ok("post", "externalcontact/groupchat/get", {"chat_id": seen[0]})["group_chat"]["owner"] == new_owner
    mine = wecom.ok("post", "externalcontact/groupchat/list",
                    {"limit": 100, "owner_filter": {"userid_list": [new_owner]}})["group_chat_list"]
    assert seen[0] in [c["chat_id"] for c in mine]


def test_group_chat_list_needs_owner_filter_past_1000_visible_members(sandbox, wecom):
    """Without owner_filter, an app that sees more than 1,000 members gets 81017 (doc 92120); at most 100 owners."""
    everyone = wecom.ok("post", "externalcontact/groupchat/list", {"limit": 1000})["group_chat_list"]
    sandbox.control.set_limits(wecom.corp.corp_id, {"groupchat_list_members": 5})  # 6 members: over the line
    assert wecom.post("externalcontact/groupchat/list", {"limit": 1000})["errcode"] == 81017
    owners = [f"E{i:05d}" for i in range(1, 7)]
    listed = wecom.ok("post", "externalcontact/groupchat/list",
                      {"limit": 1000, "owner_filter": {"userid_list": owners}})["group_chat_list"]
    assert listed == everyone and everyone
    too_many = {"limit": 1000, "owner_filter": {"userid_list": [f"u{i}" for i in range(101)]}}
    assert wecom.post("externalcontact/groupchat/list", too_many)["errcode"] == 40058
