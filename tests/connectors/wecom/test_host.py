"""WeComHost (and through it every WeComClient method) against the sandbox emulator over real HTTP."""
from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from connectors.runtime import make_runtime
from connectors.wecom import host as wecom_host
from connectors.wecom.host import CAPABILITIES, WeComHost
from connectors.wecom.platform import platform
from sandbox.wecom.models import AppMessage
from scrm.host import (Attachment, Capability, ChannelCodeSpec, CorpAccess, HostCredentialsError, HostError, HostNotFound,
                       HostRateLimited, HostUnavailable, HostUnsupported, MassMessageSpec, MessageContent, iterate)

DAY = 86400


@pytest.fixture
def corp(sandbox):
    corp = sandbox.create_corp("wecom")
    sandbox.seed(corp, employees=8, customers=40, rng=11)
    return corp


def access_for(sandbox, corp, **overrides) -> CorpAccess:
    values = dict(corp_key=f"k-{corp.corp_id}", platform="wecom", corp_id=corp.corp_id, agent_id=corp.agent_id,
                  secret=corp.secret, api_base=sandbox.wecom_base)
    values.update(overrides)
    return CorpAccess(**values)


@pytest.fixture
def host(sandbox, corp, runtime) -> WeComHost:
    return platform(runtime).host(access_for(sandbox, corp))


def employee_with_customers(host, minimum=2, exclude=()):
    for e in host.list_employees():
        if e.user_id not in exclude and len(host.list_customer_ids(e.user_id)) >= minimum:
            return e.user_id
    raise AssertionError("the seed gave nobody enough customers")


# ---------------------------------------------------------------- address book


def test_departments_and_employees(host):
    departments = host.list_departments()
    root = next(d for d in departments if d.parent_id is None)
    assert root.id == "1" and len(departments) >= 3
    assert all(d.parent_id == "1" for d in departments if d is not root)
    employees = host.list_employees()
    assert len(employees) == 8 and len({e.user_id for e in employees}) == 8
    assert all(e.name and e.department_ids and e.active for e in employees)
    one = employees[0]
    in_department = host.list_employees(one.department_ids[0])
    assert one.user_id in {e.user_id for e in in_department} and len(in_department) <= 8
    fetched = host.get_employee(one.user_id)
    assert (fetched.user_id, fetched.name, fetched.department_ids) == (one.user_id, one.name, one.department_ids)


def test_employees_of_nested_departments_are_listed_once(sandbox, corp, host):
    """user/list has no fetch_child (doc 96260): members two levels down, and members of two departments, are
    found by reading every department, and counted once."""
    from sandbox.wecom.models import Department, User
    with sandbox.db.session() as s:
        s.add(Department(corp_id=corp.corp_id, dept_id=90, name="华东", parent_id=2, order=1))
        s.add(Department(corp_id=corp.corp_id, dept_id=91, name="上海", parent_id=90, order=1))
        s.add(User(corp_id=corp.corp_id, userid="DEEP", name="深层", department=[91], main_department=91, status=1))
        s.add(User(corp_id=corp.corp_id, userid="TWICE", name="两处", department=[2, 91], main_department=2,
                   status=1))
    staff = [e.user_id for e in host.list_employees()]
    assert "DEEP" in staff and staff.count("TWICE") == 1 and len(staff) == 10
    assert {e.user_id for e in host.list_employees("91")} == {"DEEP", "TWICE"}
    assert {e.user_id for e in host.list_employees("90")} == set()  # direct members only
    assert host.list_customer_ids("DEEP") == []  # the host answers 84061 for a member without customers


def test_unknown_employee_is_not_found(host):
    with pytest.raises(HostNotFound):
        host.get_employee("nobody")


# ---------------------------------------------------------------- customers


def test_list_customers_pages_through_every_relationship(host):
    employees = [e.user_id for e in host.list_employees()]
    records = list(iterate(lambda cursor: host.list_customers(employees, cursor, limit=7)))
    pairs = {(r.follows[0].employee_id, r.customer.external_id) for r in records}
    assert len(pairs) == len(records)
    expected = {(e, c) for e in employees for c in host.list_customer_ids(e)}
    assert pairs == expected and len(expected) >= 40
    sample = records[0]
    assert sample.customer.name and sample.customer.type in (1, 2)
    assert sample.follows[0].created_at is not None


def test_get_customer_returns_every_follower(host):
    employee = employee_with_customers(host)
    customer_id = host.list_customer_ids(employee)[0]
    record = host.get_customer(customer_id)
    assert record.customer.external_id == customer_id
    assert employee in {f.employee_id for f in record.follows}


def test_get_customer_walks_the_follower_cursor(sandbox, corp, host):
    employees = [e.user_id for e in host.list_employees()]
    followers: dict[str, set[str]] = {}
    for record in iterate(lambda cursor: host.list_customers(employees, cursor)):
        followers.setdefault(record.customer.external_id, set()).add(record.follows[0].employee_id)
    customer_id, expected = next((c, f) for c, f in followers.items() if len(f) >= 2)
    sandbox.control.set_limits(corp.corp_id, {"get_follow_page": 1})
    record = host.get_customer(customer_id)
    assert [f.employee_id for f in record.follows] and {f.employee_id for f in record.follows} == expected
    assert len(record.follows) == len(expected)
    assert sandbox.control.calls(corp.corp_id)["externalcontact/get"] == len(expected)


def test_set_remark(host):
    employee = employee_with_customers(host)
    customer_id = host.list_customer_ids(employee)[0]
    host.set_remark(employee, customer_id, remark="老客户😀", description="喜欢绿茶", remark_mobiles=["13800000000"])
    follow = next(f for f in host.get_customer(customer_id).follows if f.employee_id == employee)
    assert (follow.remark, follow.description, follow.remark_mobiles) == ("老客户😀", "喜欢绿茶", ["13800000000"])
    host.set_remark(employee, customer_id, description="改喝咖啡")
    follow = next(f for f in host.get_customer(customer_id).follows if f.employee_id == employee)
    assert (follow.remark, follow.description) == ("老客户😀", "改喝咖啡")
    host.set_remark(employee, customer_id, remark_mobiles=[])  # cleared: the host is sent [""]
    follow = next(f for f in host.get_customer(customer_id).follows if f.employee_id == employee)
    assert (follow.remark, follow.remark_mobiles) == ("老客户😀", [])


def test_create_customer_is_unsupported(host):
    with pytest.raises(HostUnsupported) as err:
        host.create_customer("E00001", "张三", "13800000000")
    assert err.value.platform == "wecom" and Capability.CREATE_CUSTOMER not in host.capabilities


# ---------------------------------------------------------------- tags


def test_tag_library_and_marking(host):
    seeded = host.list_tag_groups()
    assert seeded and all(g.tags for g in seeded)
    group = host.create_tags("活动", ["双十一", "年货节"], order=5)
    assert group.name == "活动" and [t.name for t in group.tags] == ["双十一", "年货节"]
    more = host.create_tags("活动", ["618"], group_id=group.id)
    assert more.id == group.id
    host.edit_tag(group.tags[0].id, name="双十一大促")
    listed = host.list_tag_groups(group_ids=[group.id])
    assert len(listed) == 1 and {t.name for t in listed[0].tags} == {"双十一大促", "年货节", "618"}
    assert {t.id for g in host.list_tag_groups(tag_ids=[group.tags[1].id]) for t in g.tags} == {group.tags[1].id}

    employee = employee_with_customers(host)
    customer_id = host.list_customer_ids(employee)[0]
    host.mark_tags(employee, customer_id, add=[group.tags[0].id, group.tags[1].id])
    tags = next(f for f in host.get_customer(customer_id).follows if f.employee_id == employee).tag_ids
    assert {group.tags[0].id, group.tags[1].id} <= set(tags)
    host.mark_tags(employee, customer_id, remove=[group.tags[0].id])
    tags = next(f for f in host.get_customer(customer_id).follows if f.employee_id == employee).tag_ids
    assert group.tags[0].id not in tags and group.tags[1].id in tags

    host.delete_tags(tag_ids=[group.tags[0].id])
    assert {t.name for g in host.list_tag_groups(group_ids=[group.id]) for t in g.tags} == {"年货节", "618"}
    host.delete_tags(group_ids=[group.id])
    assert host.list_tag_groups(group_ids=[group.id]) == []
    with pytest.raises(HostError) as err:
        host.mark_tags(employee, customer_id, add=["etnosuchtag"])
    assert err.value.errcode == 40068


def test_concurrent_tag_edits_stay_within_five(sandbox, corp, host):
    sandbox.control.set_limits(corp.corp_id, {"edit_concurrency": 5, "edit_service_time": 0.05})
    group = host.create_tags("并发", ["A"])
    employee = employee_with_customers(host, minimum=1)
    customer_ids = host.list_customer_ids(employee)
    errors: list[Exception] = []

    def edit(i: int) -> None:
        try:
            host.mark_tags(employee, customer_ids[i % len(customer_ids)], add=[group.tags[0].id])
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sandbox.control.calls(corp.corp_id)["externalcontact/mark_tag"] == 12


# ---------------------------------------------------------------- channel codes and welcome


def test_channel_code_lifecycle_and_welcome(sandbox, corp, host):
    employee = host.list_employees()[0].user_id
    code = host.create_channel_code(ChannelCodeSpec(state="poster_01", user_ids=[employee], remark="海报"))
    assert code.config_id and code.qr_url
    way = host.client.external_contact.get_contact_way(code.config_id)["contact_way"]
    # a pool of one today may be a pool of two tomorrow: type 2, which update_contact_way lets grow (doc 92228)
    assert (way["type"], way["state"], way["user"], way["skip_verify"]) == (2, "poster_01", [employee], True)

    others = [e.user_id for e in host.list_employees()[1:3]]
    host.update_channel_code(code.config_id, ChannelCodeSpec(state="poster_02", user_ids=[employee],
                                                              remark="海报2", skip_verify=False))
    way = host.client.external_contact.get_contact_way(code.config_id)["contact_way"]
    assert (way["state"], way["remark"], way["skip_verify"]) == ("poster_02", "海报2", False)
    host.update_channel_code(code.config_id, ChannelCodeSpec(state="poster_02", user_ids=[employee, *others]))
    assert host.client.external_contact.get_contact_way(code.config_id)["contact_way"]["user"] == [employee, *others]
    host.update_channel_code(code.config_id, ChannelCodeSpec(state="poster_02", user_ids=[employee],
                                                              remark="海报2", skip_verify=False))

    multi = host.create_channel_code(ChannelCodeSpec(state="store", user_ids=others, department_ids=["2"]))
    way = host.client.external_contact.get_contact_way(multi.config_id)["contact_way"]
    assert (way["type"], way["user"], way["party"]) == (2, others, [2])
    temp = host.create_channel_code(ChannelCodeSpec(state="live", user_ids=[employee], temporary=True,
                                                    expires_in=3 * DAY))
    way = host.client.external_contact.get_contact_way(temp.config_id)["contact_way"]
    assert way["is_temp"] and way["expires_in"] == 3 * DAY and way["type"] == 1

    scan = sandbox.play(corp, "scan_one", config_id=code.config_id)["result"]
    assert scan["state"] == "poster_02"
    content = MessageContent(text="欢迎～😀", attachments=[
        Attachment("link", {"title": "新人礼", "url": "https://scrm.example/gift"})])
    host.send_welcome(scan["welcome_code"], content)
    with pytest.raises(HostError) as err:
        host.send_welcome(scan["welcome_code"], content)
    assert err.value.errcode == 41051

    late = sandbox.play(corp, "scan_one", config_id=code.config_id)["result"]
    sandbox.clock.advance(21)
    with pytest.raises(HostError) as err:
        host.send_welcome(late["welcome_code"], MessageContent(text="迟到的欢迎"))
    assert err.value.errcode == 41050

    host.delete_channel_code(code.config_id)
    with pytest.raises(HostError) as err:
        host.client.external_contact.get_contact_way(code.config_id)
    assert err.value.errcode == 41044


# ---------------------------------------------------------------- transfers


@pytest.fixture
def long_token_corp(sandbox):
    corp = sandbox.create_corp("wecom", token_ttl=400 * DAY)
    sandbox.seed(corp, employees=6, customers=40, rng=5)
    return corp


def test_on_job_transfer_and_results(sandbox, long_token_corp, runtime):
    host = WeComHost(access_for(sandbox, long_token_corp), runtime)
    handover = employee_with_customers(host)
    takeover = next(e.user_id for e in host.list_employees() if e.user_id != handover)
    ids = [c for c in host.list_customer_ids(handover) if c not in host.list_customer_ids(takeover)][:2]
    outcomes = host.transfer_customers(handover, takeover, ids + ["wmnobody"], departed=False, message="我换岗了")
    assert {(o.customer_id, o.errcode) for o in outcomes} == {(ids[0], 0), (ids[1], 0), ("wmnobody", 40096)}
    again = host.transfer_customers(handover, takeover, ids[:1], departed=False)
    assert again[0].errcode == 40129

    waiting = list(iterate(lambda c: host.transfer_results(handover, takeover, departed=False, cursor=c)))
    assert {(s.customer_id, s.status) for s in waiting} == {(ids[0], 2), (ids[1], 2)}
    sandbox.clock.advance(DAY + 1)
    done = host.transfer_results(handover, takeover, departed=False)
    assert {s.status for s in done.items} == {1} and all(s.takeover_at for s in done.items)
    assert set(ids) <= set(host.list_customer_ids(takeover))


def test_departed_employee_handover(sandbox, long_token_corp, runtime):
    host = WeComHost(access_for(sandbox, long_token_corp), runtime)
    leaver = employee_with_customers(host)
    theirs = host.list_customer_ids(leaver)
    takeover = next(e.user_id for e in host.list_employees() if e.user_id != leaver)
    with pytest.raises(HostError) as err:
        host.transfer_customers(leaver, takeover, theirs[:1], departed=True)
    assert err.value.errcode == 40097

    sandbox.play(long_token_corp, "leave", userid=leaver)
    unassigned = list(iterate(lambda c: host.list_unassigned(c, limit=1)))
    assert {u.customer_id for u in unassigned if u.handover_id == leaver} == set(theirs)
    assert all(u.departed_at is not None for u in unassigned)

    outcomes = host.transfer_customers(leaver, takeover, theirs, departed=True)
    assert {o.errcode for o in outcomes} == {0} and len(outcomes) == len(theirs)
    results = host.transfer_results(leaver, takeover, departed=True)
    assert {s.customer_id for s in results.items} == set(theirs) and {s.status for s in results.items} == {2}
    assert not [u for u in iterate(lambda c: host.list_unassigned(c)) if u.handover_id == leaver]


# ---------------------------------------------------------------- group chats


def test_group_chats_list_get_and_transfer(sandbox, corp, host):
    chat_ids = list(iterate(lambda c: host.list_group_chats(c, limit=2)))
    assert len(chat_ids) == len(set(chat_ids)) >= 3
    chat = host.get_group_chat(chat_ids[0])
    assert chat.chat_id == chat_ids[0] and chat.owner_id and chat.created_at
    assert {m.type for m in chat.members} <= {1, 2} and any(m.user_id == chat.owner_id for m in chat.members)
    assert all(m.name for m in chat.members if m.type == 2)
    mine = host.list_group_chats(owner_ids=[chat.owner_id])
    assert chat.chat_id in mine.items

    new_owner = next(e.user_id for e in host.list_employees() if e.user_id != chat.owner_id)
    outcomes = host.transfer_group_chats([chat.chat_id, "wrnosuchchat"], new_owner, departed=False)
    assert [(o.customer_id, o.errcode) for o in outcomes] == [(chat.chat_id, 0), ("wrnosuchchat", 90501)]
    assert host.get_group_chat(chat.chat_id).owner_id == new_owner
    refused = host.transfer_group_chats([chat.chat_id], host.list_employees()[0].user_id, departed=True)
    assert refused[0].errcode == 90500

    sandbox.play(corp, "leave", userid=new_owner)
    heir = next(e.user_id for e in host.list_employees() if e.user_id != new_owner)
    assert host.transfer_group_chats([chat.chat_id], heir, departed=True)[0].errcode == 0
    assert host.get_group_chat(chat.chat_id).owner_id == heir


# ---------------------------------------------------------------- mass messages


def test_mass_message_lifecycle(sandbox, corp, host):
    sender = employee_with_customers(host)
    customers = host.list_customer_ids(sender)
    before = datetime.utcfromtimestamp(int(sandbox.clock.time())) - timedelta(minutes=1)
    msg_id, failed = host.create_mass_message(MassMessageSpec(
        sender_id=sender, customer_ids=customers + ["wmnobody"], content=MessageContent(text="新品上市🎉")))
    assert failed == ["wmnobody"]

    chat = host.get_group_chat(host.list_group_chats().items[0])
    group_msg, _ = host.create_mass_message(MassMessageSpec(sender_id=chat.owner_id, customer_ids=[], chat_type="group",
                                                            chat_ids=[chat.chat_id],
                                                            content=MessageContent(text="群发通知")))
    after = before + timedelta(hours=1)
    listed = list(iterate(lambda c: host.list_mass_messages(before, after, c)))
    assert {m.msg_id for m in listed} == {msg_id, group_msg}
    mine = next(m for m in listed if m.msg_id == msg_id)
    assert (mine.creator, mine.text) == (sender, "新品上市🎉") and mine.created_at is not None
    assert [m.msg_id for m in iterate(lambda c: host.list_mass_messages(before, after, c, creator="nobody"))] == []

    tasks = host.mass_message_tasks(msg_id)
    assert [(t.user_id, t.status) for t in tasks.items] == [(sender, 0)]
    sandbox.play(corp, "confirm_mass_message", msgid=msg_id)
    tasks = host.mass_message_tasks(msg_id)
    assert [(t.user_id, t.status) for t in tasks.items] == [(sender, 2)] and tasks.items[0].sent_at
    results = list(iterate(lambda c: host.mass_message_results(msg_id, sender, c)))
    assert {r.customer_id for r in results} == set(customers) and {r.status for r in results} == {1}
    group_results = host.mass_message_results(group_msg, chat.owner_id)
    assert [r.chat_id for r in group_results.items] == [chat.chat_id]


# ---------------------------------------------------------------- app messages and H5


def test_send_app_message(sandbox, corp, host):
    users = [e.user_id for e in host.list_employees()[:3]]
    host.send_app_message(users + users[:1] + ["nobody"], "你有 3 位新客户")
    with sandbox.db.session() as s:
        sent = [(m.agentid, m.touser, m.msgtype, m.content) for m in s.scalars(select(AppMessage).where(
            AppMessage.corp_id == corp.corp_id))]
    # one call through the corp's app, each employee once; the host drops the unknown user
    assert sent == [(str(corp.agent_id), users, "text", {"content": "你有 3 位新客户"})]


def test_send_app_message_splits_at_the_hosts_limit(sandbox, corp, host, monkeypatch):
    monkeypatch.setattr(wecom_host, "APP_MESSAGE_BATCH", 2)
    users = [e.user_id for e in host.list_employees()[:5]]
    host.send_app_message(users, "提醒")
    with sandbox.db.session() as s:
        batches = [m.touser for m in s.scalars(select(AppMessage).where(AppMessage.corp_id == corp.corp_id)
                                                .order_by(AppMessage.id))]
    assert batches == [users[:2], users[2:4], users[4:]]


def test_jsapi_config_signs_with_the_hosts_tickets(sandbox, corp, host):
    url = "https://scrm.example/h5/sidebar?entry=single_chat_tools#/profile"
    out = host.jsapi_config(url)
    config, agent = out["corp"], out["agent"]
    token = sandbox.wecom_token(corp)
    base = f"{sandbox.wecom_base}/cgi-bin"
    corp_ticket = requests.get(f"{base}/get_jsapi_ticket", params={"access_token": token}, timeout=5).json()["ticket"]
    agent_ticket = requests.get(f"{base}/ticket/get", params={"access_token": token, "type": "agent_config"},
                                timeout=5).json()["ticket"]
    page = url.split("#")[0]

    def sha(ticket, params):
        raw = f"jsapi_ticket={ticket}&noncestr={params['nonceStr']}&timestamp={params['timestamp']}&url={page}"
        return hashlib.sha1(raw.encode()).hexdigest()

    assert config["appId"] == corp.corp_id and config["beta"] is True
    assert config["signature"] == sha(corp_ticket, config)
    assert agent["corpid"] == corp.corp_id and agent["agentid"] == corp.agent_id
    assert agent["signature"] == sha(agent_ticket, agent)


def test_oauth_login_round_trip(sandbox, corp, host):
    employee = host.list_employees()[0].user_id
    url = host.oauth_url("https://scrm.example/h5/callback", "xyz")
    parts = urlsplit(url)
    assert url.startswith(f"{sandbox.wecom_base}/connect/oauth2/authorize?")
    assert parse_qs(parts.query)["agentid"] == [corp.agent_id] and parse_qs(parts.query)["scope"] == ["snsapi_base"]
    answer = requests.get(url.split("#")[0] + f"&userid={employee}", allow_redirects=False, timeout=5)
    assert answer.status_code in (301, 302, 303, 307)
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert back["state"] == ["xyz"]
    identity = host.resolve_login(back["code"][0])
    assert (identity.user_id, identity.external_id) == (employee, None)
    with pytest.raises(HostError) as err:
        host.resolve_login(back["code"][0])
    assert err.value.errcode == 40029

    guest = sandbox.play(corp, "login", external_userid="wmguest")["result"]["code"]
    identity = host.resolve_login(guest)
    assert identity.user_id is None and identity.external_id == "wmguest"


def test_the_web_login_page_round_trip(sandbox, corp, host):
    """Scan-to-login (doc 98151): login_type CorpApp with the app's agentid; its code is exchanged like OAuth's."""
    employee = host.list_employees()[0].user_id
    url = host.login_page_url("https://scrm.example/console/login/host", "s1")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{sandbox.wecom_base}/wwlogin/sso/login?")
    assert (query["login_type"], query["appid"], query["agentid"]) == (["CorpApp"], [corp.corp_id], [corp.agent_id])
    answer = requests.get(url + f"&userid={employee}", allow_redirects=False, timeout=5)
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert back["state"] == ["s1"] and host.resolve_web_login(back["code"][0]).user_id == employee
    for broken in (url.replace("CorpApp", "ServiceApp"), url.replace(f"agentid={corp.agent_id}", "agentid=1")):
        assert requests.get(broken + f"&userid={employee}", allow_redirects=False, timeout=5).status_code == 400


# ---------------------------------------------------------------- tokens and limits against the host


def test_expired_and_revoked_tokens_are_refreshed(sandbox, corp, host):
    host.list_departments()
    sandbox.clock.advance(7201)
    assert host.list_departments()
    sandbox.play(corp, "expire_tokens")
    assert host.list_departments()
    assert sandbox.control.calls(corp.corp_id)["gettoken"] == 3


def test_slow_host_times_out_as_unavailable(sandbox, corp, sleeps):
    sandbox.control.set_limits(corp.corp_id, {"latency": {"department/list": 0.5}})
    impatient = WeComHost(access_for(sandbox, corp), make_runtime(sleep=sleeps.append, timeout=0.1, attempts=2))
    with pytest.raises(HostUnavailable) as err:
        impatient.list_departments()
    assert err.value.errcode == "timeout" and len(sleeps) == 1


def test_wrong_secret_fails_fast(sandbox, corp, runtime, sleeps):
    bad = WeComHost(access_for(sandbox, corp, secret="wrong", corp_key="bad"), runtime)
    with pytest.raises(HostCredentialsError):
        bad.list_departments()
    assert sleeps == []


def test_host_rate_limit_defers_past_the_block(sandbox, corp, host, sleeps, runtime):
    sandbox.control.set_limits(corp.corp_id, {"department/list": 2})
    host.list_departments()
    host.list_departments()
    with pytest.raises(HostRateLimited) as err:
        host.list_departments()
    assert err.value.errcode == 45009 and err.value.retry_after == 60 and sleeps == []
    with pytest.raises(HostRateLimited) as err:  # blocked here: the host is not asked again
        host.list_departments()
    assert err.value.errcode == "blocked"
    assert sandbox.control.calls(corp.corp_id)["department/list"] == 3


def test_capabilities_and_factory(host):
    assert {Capability.SEND_WELCOME, Capability.TRANSFER_CUSTOMERS, Capability.JSAPI_CONFIG,
            Capability.RESOLVE_LOGIN} <= CAPABILITIES
    assert all(isinstance(c, Capability) for c in CAPABILITIES)
    assert host.platform == "wecom" and host.capabilities is CAPABILITIES
    assert "secret" not in repr(host).lower()
