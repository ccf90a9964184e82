"""Every DingTalk Host method against the sandbox's DingTalk emulation, over real HTTP."""
import hashlib

import pytest

from connectors.dingtalk.client import DingTalkClient, sign_jsapi
from connectors.dingtalk.host import DingTalkHost
from connectors.runtime import make_runtime
from sandbox.dingtalk import models as sbx_dt
from scrm.host import (Capability, CorpAccess, HostCredentialsError, HostNotFound, HostQuotaExceeded, HostRateLimited,
                       HostUnsupported, ChannelCodeSpec, HostError)


@pytest.fixture
def org(sandbox):
    corp = sandbox.create_corp("dingtalk")
    counts = sandbox.seed(corp, employees=6, customers=30)
    return corp, counts


def host_for(sandbox, corp, **runtime_kw) -> DingTalkHost:
    """A host whose runtime never sleeps for real (its backoff sleeps are recorded by tests that care)."""
    access = CorpAccess(corp_key=f"k{corp.id}", platform="dingtalk", corp_id=corp.corp_id, agent_id=corp.agent_id,
                        secret=corp.secret, app_key=corp.app_key, api_base=sandbox.dingtalk_base)
    return DingTalkHost(access, make_runtime(sleep=lambda s: None, **runtime_kw))


def test_address_book(sandbox, org):
    corp, counts = org
    host = host_for(sandbox, corp)
    departments = host.list_departments()
    assert len(departments) == counts["departments"] and all(d.parent_id == "1" for d in departments)
    staff = host.list_employees()
    assert len(staff) == 6 and all(e.name for e in staff)
    one = host.get_employee(staff[0].user_id)
    assert one.user_id == staff[0].user_id and "1" in one.department_ids
    in_dept = host.list_employees(departments[0].id)
    assert {e.user_id for e in in_dept} <= {e.user_id for e in staff}
    with pytest.raises(HostNotFound):
        host.get_employee("nobody")


def test_customers_paging_labels_and_edits(sandbox, org):
    corp, _ = org
    host = host_for(sandbox, corp)
    staff = [e.user_id for e in host.list_employees()]
    seen, cursor = [], None
    while True:
        page = host.list_customers(staff, cursor=cursor, limit=7)
        seen += page.items
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(seen) == 30 and len({r.customer.external_id for r in seen}) == 30
    # a DingTalk contact keeps at least one label (60204): edit one that has a label besides the one added
    record = next(r for r in seen if r.follows[0].tag_ids)
    follower = record.follows[0].employee_id
    assert record.customer.external_id in host.list_customer_ids(follower)
    groups = host.list_tag_groups()
    assert groups and all(g.tags for g in groups)
    label = next(t.id for g in groups for t in g.tags if t.id not in record.follows[0].tag_ids)
    host.mark_tags(follower, record.customer.external_id, add=[label])
    assert label in host.get_customer(record.customer.external_id).follows[0].tag_ids
    host.mark_tags(follower, record.customer.external_id, remove=[label])
    assert label not in host.get_customer(record.customer.external_id).follows[0].tag_ids
    host.set_remark(follower, record.customer.external_id, remark="老客户 🐯")
    assert host.get_customer(record.customer.external_id).follows[0].remark == "老客户 🐯"
    assert host.list_tag_groups(tag_ids=[label])[0].tags[0].id == label


def test_create_customer_validates_like_the_host(sandbox, org):
    corp, _ = org
    host = host_for(sandbox, corp)
    emp = host.list_employees()[0].user_id
    label = host.list_tag_groups()[0].tags[0].id
    new_id = host.create_customer(emp, "新客户", "13800138000", state="poster", tag_ids=[label])
    record = host.get_customer(new_id)
    assert record.customer.mobile == "13800138000" and record.follows[0].remark == "渠道:poster"
    with pytest.raises(HostError) as dup:
        host.create_customer(emp, "新客户", "13800138000", tag_ids=[label])
    assert dup.value.errcode == 22005
    with pytest.raises(HostError) as no_label:
        host.create_customer(emp, "无标签", "13800138001", tag_ids=[])
    assert no_label.value.errcode == 60204
    with pytest.raises(HostError) as bad_phone:
        host.create_customer(emp, "坏号码", "12ab", tag_ids=[label])
    assert bad_phone.value.errcode == 60103


def test_the_followers_remark_and_mobile_come_back_and_the_mobile_cannot_change(sandbox, org):
    corp, _ = org
    host = host_for(sandbox, corp)
    emp = host.list_employees()[0].user_id
    label = host.list_tag_groups()[0].tags[0].id
    new_id = host.create_customer(emp, "周先生", "13900139000", tag_ids=[label], remark="门店-周")
    (follow,) = host.get_customer(new_id).follows
    assert (follow.remark, follow.remark_mobiles) == ("门店-周", ["13900139000"])
    listed = [r for r in host.list_customers([emp], limit=100).items if r.customer.external_id == new_id]
    assert listed and listed[0].follows[0].remark_mobiles == ["13900139000"]  # a sync reads them too
    host.set_remark(emp, new_id, remark="老客户-周", remark_mobiles=["13900139000"])  # the same mobile: fine
    with pytest.raises(HostUnsupported) as refused:
        host.set_remark(emp, new_id, remark="改号", remark_mobiles=["13700137000"])
    assert "mobile" in refused.value.errmsg
    (follow,) = host.get_customer(new_id).follows  # nothing was written by the refused edit
    assert (follow.remark, follow.remark_mobiles) == ("老客户-周", ["13900139000"])


def test_transfer_reassigns_the_follower_at_once(sandbox, org):
    corp, _ = org
    host = host_for(sandbox, corp)
    staff = [e.user_id for e in host.list_employees()]
    record = host.list_customers(staff).items[0]
    old = record.follows[0].employee_id
    new = next(u for u in staff if u != old)
    assert [o.errcode for o in host.transfer_customers(old, new, [record.customer.external_id], departed=True)] == [0]
    assert host.get_customer(record.customer.external_id).follows[0].employee_id == new
    assert host.transfer_results(old, new, departed=True).items == []


def test_work_notifications_login_and_jsapi(sandbox, org):
    corp, _ = org
    host = host_for(sandbox, corp)
    emp = host.list_employees()[0].user_id
    host.send_app_message([emp], "有新客户加你")
    host.send_app_message([emp], "有新客户加你")  # same content the same day: dropped by the host, not an error
    with sandbox.db.session() as s:
        assert s.query(sbx_dt.DtMessage).filter_by(userid=emp).count() == 1
    code = sandbox.play(corp, "login", userid=emp)["result"]["code"]
    assert host.resolve_login(code).user_id == emp
    with pytest.raises(HostError) as used:
        host.resolve_login(code)
    assert used.value.errcode == 40078
    config = host.jsapi_config("https://scrm.example.com/h5/sidebar?a=%E4%B8%AD#frag")["dd"]
    ticket = host.client.jsapi_ticket()
    assert config["signature"] == sign_jsapi(ticket, config["nonceStr"], config["timeStamp"],
                                             "https://scrm.example.com/h5/sidebar?a=中")
    assert config["signature"] == hashlib.sha256(
        f"jsapi_ticket={ticket}&noncestr={config['nonceStr']}&timestamp={config['timeStamp']}"
        f"&url=https://scrm.example.com/h5/sidebar?a=中".encode()).hexdigest()
    assert host.oauth_url("https://x", "s") is None
    # the query is decoded the way DingTalk's decodeUrl does (java.net.URLDecoder): "+" is a space
    assert sign_jsapi("t", "n", "1", "https://h.example/p?q=a+b%2Bc&x=%E4%B8%AD#f") == hashlib.sha256(
        b"jsapi_ticket=t&noncestr=n&timestamp=1&url=https://h.example/p?q=a b+c&x=\xe4\xb8\xad").hexdigest()


def test_what_dingtalk_cannot_do_is_said_plainly(sandbox, org):
    host = host_for(sandbox, org[0])
    for call in (lambda: host.create_channel_code(ChannelCodeSpec(state="s", user_ids=["u"])),
                 lambda: host.send_welcome("code", None), lambda: host.list_unassigned(),
                 lambda: host.get_group_chat("c"), lambda: host.create_tags("g", ["t"])):
        with pytest.raises(HostUnsupported):
            call()
    assert Capability.CREATE_CHANNEL_CODE not in host.capabilities


def test_crm_personal_customers(sandbox, org):
    corp, _ = org
    host = host_for(sandbox, corp)
    emp = host.list_employees()[0].user_id
    client = host.client
    instance = client.create_personal_customer({"creatorUserId": emp, "data": {"customer_name": "华信咨询"},
                                                "permission": {"ownerStaffIds": [emp]}})
    assert client.update_personal_customer({"instanceId": instance, "modifierUserId": emp,
                                            "permission": {"ownerStaffIds": ["dt00002"]}}) == instance
    listed = client.v1("v1.0/crm/personalCustomers", method="GET", params={"maxResults": 10})
    assert listed["values"][0]["permission"]["ownerStaffIds"] == ["dt00002"]


def test_tokens_expire_on_the_host_clock_and_are_refreshed_once(sandbox, org):
    corp, _ = org
    sandbox.control.update_corp(corp.corp_id, token_ttl=600)
    host = host_for(sandbox, corp)
    host.list_departments()
    before = host.client.access_token
    sandbox.clock.advance(601)  # the host expired it although our cache still holds it
    host.list_departments()
    assert host.client.access_token != before


def test_wrong_secret_is_a_credentials_error(sandbox, org):
    corp, _ = org
    access = CorpAccess(corp_key="bad", platform="dingtalk", corp_id=corp.corp_id, agent_id=corp.agent_id,
                        secret="wrong", app_key=corp.app_key, api_base=sandbox.dingtalk_base)
    with pytest.raises(HostCredentialsError):
        DingTalkHost(access, make_runtime(sleep=lambda s: None)).list_departments()


def test_qps_limit_backs_off_then_surfaces_and_quota_never_retries(sandbox, org):
    corp, _ = org
    sandbox.control.set_limits(corp.corp_id, {"qps": 2})
    sleeps = []
    host = host_for(sandbox, corp, attempts=2)
    host.client.runtime.sleep = sleeps.append
    with pytest.raises(HostRateLimited):
        for _ in range(10):
            host.get_employee("dt00001")
    assert len(sleeps) >= 1  # it backed off before giving up
    sandbox.control.set_limits(corp.corp_id, {"qps": 1000, "monthly_quota": 0})
    sleeps.clear()
    with pytest.raises(HostQuotaExceeded):
        host.send_app_message(["dt00001"], "hi")
    assert sleeps == []  # a monthly quota does not come back by retrying


def test_the_gateways_ip_ban_is_waited_out_by_every_corp_without_calling(sandbox, org):
    """Over 10,000 calls in 20 s from one IP: an HTML page instead of an answer, on every API, for 5 minutes."""
    corp, _ = org
    other = sandbox.create_corp("dingtalk")
    sandbox.seed(other, employees=2, customers=1)
    budgets = sandbox.state.dingtalk_budgets
    sleeps = []
    host, second = host_for(sandbox, corp, attempts=3), host_for(sandbox, other)
    host.client.runtime.sleep = sleeps.append
    second.client.runtime = host.client.runtime  # one server: one runtime, one limiter
    host.get_employee("dt00001")  # a token, before the ban
    budgets.ip_calls = 1
    with pytest.raises(HostRateLimited) as err:
        for _ in range(3):
            host.get_employee("dt00001")
    assert err.value.errcode == "ip_banned" and err.value.retry_after == 300 and sleeps == []
    calls = sandbox.control.calls(corp.corp_id).get("topapi/v2/user/get", 0)
    with pytest.raises(HostRateLimited) as err:
        second.list_departments()
    assert err.value.errcode == "blocked" and 0 < err.value.retry_after <= 300
    assert sandbox.control.calls(corp.corp_id).get("topapi/v2/user/get", 0) == calls
    sandbox.clock.advance(301)
    budgets.ip_calls = 10_000
    assert sandbox.state.dingtalk_budgets.ip_banned("127.0.0.1", sandbox.clock.time()) is False


def test_legacy_token_api_user_ids_and_contact_delete(sandbox, org):
    corp, _ = org
    access = CorpAccess(corp_key="legacy", platform="dingtalk", corp_id=corp.corp_id, agent_id=corp.agent_id,
                        secret=corp.secret, app_key=corp.app_key, api_base=sandbox.dingtalk_base,
                        options={"token_api": "legacy"})
    client = DingTalkClient(access, make_runtime(sleep=lambda s: None))
    assert set(client.list_user_ids(1)) == {e["userid"] for e in client.list_users(1)["list"]}
    victim = client.extcontact_list(0, 1)[0]["userid"]
    client.extcontact_delete(victim)
    with pytest.raises(HostNotFound):
        client.extcontact_get(victim)


def test_the_qr_login_round_trip(sandbox, org):
    """login.dingtalk.com/oauth2/auth → authCode → the member's token → unionId → userid; the code is single use."""
    import requests as http
    from urllib.parse import parse_qs, urlsplit

    corp = org[0]
    host = host_for(sandbox, corp)
    emp = host.list_employees()[0].user_id
    url = host.login_page_url("https://scrm.example/console/login/host", "s2")
    query = parse_qs(urlsplit(url).query)
    assert (query["client_id"], query["scope"], query["response_type"]) == ([corp.app_key], ["openid"], ["code"])
    assert "userid=" not in http.get(url, timeout=5).url and http.get(url, timeout=5).status_code == 200
    answer = http.get(url + f"&userid={emp}", allow_redirects=False, timeout=5)
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert back["state"] == ["s2"]
    assert host.resolve_web_login(back["authCode"][0]).user_id == emp
    with pytest.raises(HostError):
        host.resolve_web_login(back["authCode"][0])
    assert http.get(url.replace(corp.app_key, "nobody"), timeout=5).status_code == 400
