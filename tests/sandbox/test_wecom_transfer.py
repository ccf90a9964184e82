"""Transfers, unassigned customers and group chats of the WeCom sandbox."""
from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest

from connectors.wecom.crypto import WeComCrypto

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


def _customers(wecom, userid):
    return wecom.ok("get", "externalcontact/list", userid=userid)["external_userid"]


def _wire(sandbox, wecom, receiver):
    """Send the corp's callbacks to `receiver`; returns a reader of what arrived, decrypted, as dicts."""
    corp = sandbox.control.update_corp(wecom.corp.corp_id, callback_url=receiver.url)
    crypto = WeComCrypto(corp.callback_token, corp.callback_aes_key, corp.corp_id)

    def arrived() -> list[dict[str, str]]:
        sandbox.deliverer.wait(5)
        return [{e.tag: (e.text or "") for e in ET.fromstring(crypto.decrypt_body(
            r.body, r.args.get("msg_signature"), r.args.get("timestamp"), r.args.get("nonce")))}
            for r in receiver.received]
    return arrived


def _chat_transfer(wecom, chat_ids, new_owner, resigned=False):
    path = "externalcontact/groupchat/transfer" if resigned else "externalcontact/groupchat/onjob_transfer"
    return wecom.post(path, {"chat_id_list": chat_ids, "new_owner": new_owner})


def _failed(wecom, chat_ids, new_owner, resigned=False):
    out = _chat_transfer(wecom, chat_ids, new_owner, resigned)
    assert out["errcode"] == 0, out  # per-chat failures hide under a top-level 0
    return {f["chat_id"]: f["errcode"] for f in out["failed_chat_list"]}


def _chats(sandbox, wecom, userid, count=1):
    return sandbox.play(wecom.corp, "give_group_chats", userid=userid, count=count)["result"]["chat_id"]


def _listed(wecom, **body):
    return {c["chat_id"]: c["status"]
            for c in wecom.ok("post", "externalcontact/groupchat/list", {"limit": 1000, **body})["group_chat_list"]}


def test_takeover_completes_after_24_hours(sandbox, wecom):
    ext = _customer_of(wecom, "E00001")
    assert _transfer(wecom, "E00001", "E00002", ext)["customer"] == [{"external_userid": ext, "errcode": 0}]
    assert _transfer(wecom, "E00001", "E00003", ext)["customer"][0]["errcode"] == 40129  # already in transfer
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


def test_takeover_ends_with_status_5_when_the_handover_no_longer_follows_the_customer(sandbox, wecom,
                                                                                    callback_receiver):
    """Either side deleted the other while the takeover waited: nothing to take over, no callback (doc 94088)."""
    arrived = _wire(sandbox, wecom, callback_receiver)
    gone, dropped = _customers(wecom, "E00001")[:2]
    for ext in (gone, dropped):
        assert _transfer(wecom, "E00001", "E00002", ext)["customer"][0]["errcode"] == 0
    sandbox.play(wecom.corp, "customer_deletes_employee", userid="E00001", external_userid=gone)
    sandbox.play(wecom.corp, "employee_deletes_customer", userid="E00001", external_userid=dropped)
    sandbox.clock.advance(DAY)
    done = {c["external_userid"]: c for c in _result(wecom, "E00001", "E00002")}
    assert {done[gone]["status"], done[dropped]["status"]} == {5} and "takeover_time" not in done[gone]
    assert not {gone, dropped} & set(_customers(wecom, "E00002"))
    # two customers' callbacks: delivered in parallel, so in either order
    assert sorted(c["ChangeType"] for c in arrived()) == ["del_external_contact", "del_follow_user"]


def test_takeover_member_at_the_customer_limit_ends_with_status_4(sandbox, wecom, callback_receiver):
    """The corp's customer_limit (WeCom: 50,000 per member) is checked at takeover time, counting this batch."""
    arrived = _wire(sandbox, wecom, callback_receiver)
    held = len(_customers(wecom, "E00002"))
    sandbox.control.set_limits(wecom.corp.corp_id, {"customer_limit": held + 1})
    first, second = [e for e in _customers(wecom, "E00001") if e not in _customers(wecom, "E00002")][:2]
    for ext in (first, second):
        assert _transfer(wecom, "E00001", "E00002", ext)["customer"][0]["errcode"] == 0
    sandbox.clock.advance(DAY)
    done = {c["external_userid"]: c["status"] for c in _result(wecom, "E00001", "E00002")}
    assert done == {first: 1, second: 4}
    assert second in _customers(wecom, "E00001") and second not in _customers(wecom, "E00002")
    assert len(_customers(wecom, "E00002")) == held + 1
    fail = [c for c in arrived() if c["ChangeType"] == "transfer_fail"]
    assert [(c["FailReason"], c["UserID"], c["ExternalUserID"]) for c in fail] == \
        [("customer_limit_exceed", "E00002", second)]
    assert {c["ChangeType"] for c in arrived() if c["ExternalUserID"] == first} == \
        {"add_external_contact", "del_external_contact"}


def test_refused_departed_transfer_loses_the_customer(sandbox, wecom):
    ext = _customer_of(wecom, "E00004")
    sandbox.play(wecom.corp, "leave", userid="E00004")
    assert _transfer(wecom, "E00004", "E00005", ext, resigned=True)["customer"][0]["errcode"] == 0
    played = sandbox.play(wecom.corp, "refuse_transfer", external_userid=ext)
    assert played["events"] == ["change_external_contact:transfer_fail"]
    assert _result(wecom, "E00004", "E00005", resigned=True)[0]["status"] == 3
    unassigned = wecom.ok("post", "externalcontact/get_unassigned_list", {})["info"]
    assert ext not in {i["external_userid"] for i in unassigned}
    sandbox.clock.advance(DAY)
    assert ext not in _customers(wecom, "E00005")
    assert _transfer(wecom, "E00004", "E00005", ext, resigned=True)["customer"][0]["errcode"] == 84061


def test_departed_transfer_needs_an_active_takeover_and_no_waiting_transfer(sandbox, wecom):
    ext = _customer_of(wecom, "E00004")
    sandbox.play(wecom.corp, "leave", userid="E00004")
    sandbox.play(wecom.corp, "leave", userid="E00006")
    assert _transfer(wecom, "E00004", "E00006", ext, resigned=True)["errcode"] == 40003
    assert _transfer(wecom, "E00001", "E00006", _customer_of(wecom, "E00001"))["errcode"] == 40003
    assert _transfer(wecom, "E00004", "E00005", ext, resigned=True)["customer"][0]["errcode"] == 0
    assert _transfer(wecom, "E00004", "E00002", ext, resigned=True)["customer"][0]["errcode"] == 40129


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


def test_departed_owner_chats_are_listed_by_owner_filter_or_status(sandbox, wecom):
    """Doc 93414: a departed owner's chats come only with owner_filter naming them, or by status_filter 1..3."""
    mine = _chats(sandbox, wecom, "E00003", 2)
    assert set(mine) <= set(_listed(wecom))
    sandbox.play(wecom.corp, "leave", userid="E00003")
    assert not set(mine) & set(_listed(wecom))
    assert _listed(wecom, owner_filter={"userid_list": ["E00003"]}) == {c: 1 for c in mine}
    assert set(mine) <= set(_listed(wecom, status_filter=1))
    assert _failed(wecom, mine[:1], "E00001", resigned=True) == {}
    assert _listed(wecom)[mine[0]] == 3 and mine[1] not in _listed(wecom)
    assert mine[0] in _listed(wecom, status_filter=3) and mine[0] not in _listed(wecom, status_filter=1)


def test_group_chat_transfer_errcodes(sandbox, wecom):
    (kept,), (left,) = _chats(sandbox, wecom, "E00001"), _chats(sandbox, wecom, "E00002")
    assert _chat_transfer(wecom, [], "E00003")["errcode"] == 40058
    assert _chat_transfer(wecom, [f"wr{i}" for i in range(101)], "E00003")["errcode"] == 40058
    assert _failed(wecom, [kept, "wrnope"], "E00001") == {kept: 90504, "wrnope": 90501}
    assert _failed(wecom, [kept], "E00003", resigned=True) == {kept: 90500}
    sandbox.play(wecom.corp, "leave", userid="E00002")
    assert _failed(wecom, [left], "E00003") == {left: 90502}
    assert _failed(wecom, [left, kept], "E00003", resigned=True) == {kept: 90500}
    assert _failed(wecom, [left], "E00004", resigned=True) == {left: 90508}
    chat = wecom.ok("post", "externalcontact/groupchat/get", {"chat_id": left})["group_chat"]
    assert chat["owner"] == "E00003" and sum(m["type"] == 2 for m in chat["member_list"]) == 2


def test_on_job_chat_transfers_twice_per_90_days(sandbox, wecom):
    (chat,) = _chats(sandbox, wecom, "E00001")
    assert _failed(wecom, [chat], "E00002") == {}
    assert _failed(wecom, [chat], "E00001") == {}
    assert _failed(wecom, [chat], "E00002") == {chat: 40128}
    sandbox.clock.advance(90 * DAY)
    assert _failed(wecom, [chat], "E00002") == {}


def test_chats_to_one_new_owner_are_capped_per_natural_day(sandbox, wecom):
    """At most 300 a day to one new owner (doc 92127), here lowered to 10 with the corp's limits."""
    now = sandbox.clock.time()
    sandbox.clock.advance(DAY - (now + 8 * 3600) % DAY + 3600)  # 01:00 Beijing time: the test stays in one day
    chats = _chats(sandbox, wecom, "E00001", 12)
    sandbox.control.set_limits(wecom.corp.corp_id, {"groupchat_transfer_per_day": 10})
    assert _failed(wecom, chats, "E00002") == {c: 45009 for c in chats[10:]}
    assert _failed(wecom, chats[10:], "E00002") == {c: 45009 for c in chats[10:]}
    assert _failed(wecom, chats[10:], "E00003") == {}  # another new owner has a day of their own
    (more,) = _chats(sandbox, wecom, "E00001")
    sandbox.clock.advance(DAY)
    assert _failed(wecom, [more], "E00002") == {}


def test_give_customers_in_bulk(sandbox, wecom):
    before = len(_customers(wecom, "E00001"))
    started = time.monotonic()
    given = sandbox.play(wecom.corp, "give_customers", userid="E00001", count=1050)["result"]
    assert time.monotonic() - started < 1.0
    assert len(given["external_userid"]) == 1050 and len(_customers(wecom, "E00001")) == before + 1050
    with pytest.raises(LookupError):
        sandbox.play(wecom.corp, "give_customers", userid="nobody", count=1)
