"""The DingTalk emulator's rules: tokens on the sandbox clock, login codes, budgets, validation and paging."""
from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.dingtalk import models as sbx_dt


class DingTalk:
    """Calls the emulated oapi (errcode answers) and v1.0 (HTTP status + code) hosts with a live token."""

    def __init__(self, sandbox, corp):
        self.sandbox, self.corp, self.base = sandbox, corp, sandbox.dingtalk_base
        self.http = requests.Session()
        self.token = self.fetch_token()

    def fetch_token(self) -> str:
        body = self.http.get(f"{self.base}/oapi/gettoken",
                             params={"appkey": self.corp.app_key, "appsecret": self.corp.secret}, timeout=5).json()
        assert body["errcode"] == 0, body
        return body["access_token"]

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.http.post(f"{self.base}/oapi/{path}", params={"access_token": self.token}, json=body or {},
                              timeout=5).json()

    def ok(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        out = self.post(path, body)
        assert out["errcode"] == 0, out
        return out

    def v1(self, method: str, path: str, body: dict | None = None, **params: Any) -> requests.Response:
        return self.http.request(method, f"{self.base}/api/{path}", json=body, params=params, timeout=5,
                                 headers={"x-acs-dingtalk-access-token": self.token})


@pytest.fixture
def org(sandbox):
    corp = sandbox.create_corp("dingtalk")
    sandbox.seed(corp, employees=6, customers=30, rng=3)
    return corp


@pytest.fixture
def dt(sandbox, org) -> DingTalk:
    return DingTalk(sandbox, org)


def start_of_second(clock) -> None:
    """Move the sandbox clock to just after a whole second, so a burst of calls shares one QPS window."""
    clock.advance(1.0 - clock.time() % 1 + 0.01)


def test_gettoken_legacy_and_v1_and_wrong_secret(sandbox):
    corp = sandbox.create_corp("dingtalk")
    base = sandbox.dingtalk_base
    legacy = requests.get(f"{base}/oapi/gettoken", params={"appkey": corp.app_key, "appsecret": corp.secret}).json()
    assert legacy["errcode"] == 0 and legacy["expires_in"] == 7200
    v1 = requests.post(f"{base}/api/v1.0/oauth2/accessToken", json={"appKey": corp.app_key, "appSecret": corp.secret})
    assert v1.json()["accessToken"] == legacy["access_token"]  # the same token while it is valid
    bad = requests.post(f"{base}/api/v1.0/oauth2/accessToken", json={"appKey": corp.app_key, "appSecret": "x"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalidClientIdOrSecret"
    assert requests.get(f"{base}/oapi/gettoken", params={"appkey": corp.app_key, "appsecret": "x"}).json()[
        "errcode"] == 40089
    assert sandbox.control.calls(corp.corp_id)["gettoken"] == 4


def test_tokens_expire_on_the_sandbox_clock(sandbox):
    corp = sandbox.create_corp("dingtalk", token_ttl=60)
    sandbox.seed(corp, employees=1, customers=0)
    dt = DingTalk(sandbox, corp)
    first = dt.token
    assert dt.post("topapi/v2/department/listsub", {"dept_id": 1})["errcode"] == 0
    sandbox.clock.advance(30)
    assert dt.fetch_token() == first  # still valid: handed back, not renewed
    dt.token = "garbage"
    # topapi wraps token errors in 88 鉴权异常 with the token code as sub_code; v1.0 answers HTTP 400
    garbage = dt.post("topapi/v2/department/listsub", {"dept_id": 1})
    assert (garbage["errcode"], garbage["sub_code"]) == (88, "40014") and "subcode=40014" in garbage["errmsg"]
    bad = dt.v1("POST", "v1.0/oauth2/jsapiTickets")
    assert bad.status_code == 400 and bad.json()["code"] == "InvalidAuthentication"
    dt.token = first
    sandbox.clock.advance(31)
    assert dt.post("topapi/v2/department/listsub", {"dept_id": 1})["sub_code"] == "42001"
    expired = dt.v1("POST", "v1.0/oauth2/jsapiTickets")
    assert expired.status_code == 400 and expired.json()["code"] == "InvalidAuthentication"
    dt.token = dt.fetch_token()
    assert dt.token != first and dt.post("topapi/v2/department/listsub", {"dept_id": 1})["errcode"] == 0


def test_free_login_codes_are_single_use_and_last_five_minutes(sandbox, org, dt):
    code = sandbox.play(org, "login", userid="dt00002")["result"]["code"]
    who = dt.ok("topapi/v2/user/getuserinfo", {"code": code})["result"]
    assert who["userid"] == "dt00002" and who["unionid"]
    assert dt.post("topapi/v2/user/getuserinfo", {"code": code})["errcode"] == 40078  # used
    assert dt.post("topapi/v2/user/getuserinfo", {"code": "made-up"})["errcode"] == 40078
    late = sandbox.play(org, "login", userid="dt00003")["result"]["code"]
    sandbox.clock.advance(301)
    dt.token = dt.fetch_token()
    assert dt.post("topapi/v2/user/getuserinfo", {"code": late})["errcode"] == 40078
    other = sandbox.create_corp("dingtalk")
    sandbox.seed(other, employees=2, customers=0)
    foreign = sandbox.play(other, "login", userid="dt00001")["result"]["code"]
    assert dt.post("topapi/v2/user/getuserinfo", {"code": foreign})["errcode"] == 40078  # another org's code


def test_unknown_and_departed_users(sandbox, org, dt):
    assert dt.ok("topapi/v2/user/get", {"userid": "dt00001"})["result"]["name"]
    assert dt.post("topapi/v2/user/get", {"userid": "nobody"})["errcode"] == 60121
    sandbox.play(org, "employee_leaves", userid="dt00001")
    assert dt.post("topapi/v2/user/get", {"userid": "dt00001"})["errcode"] == 33012
    assert "dt00001" not in dt.ok("topapi/user/listid", {"dept_id": 1})["result"]["userid_list"]


def test_qps_budget_per_app_and_api(sandbox, org, dt):
    sandbox.control.set_limits(org.corp_id, {"qps": 3, "qps:topapi/extcontact/list": 1})
    start_of_second(sandbox.clock)
    dt.token = dt.fetch_token()
    answers = [dt.post("topapi/v2/user/get", {"userid": "dt00001"})["errcode"] for _ in range(4)]
    assert answers == [0, 0, 0, 90018]
    assert dt.post("topapi/v2/department/listsub", {"dept_id": 1})["errcode"] == 0  # another API, its own budget
    assert [dt.post("topapi/extcontact/list", {"size": 5})["errcode"] for _ in range(2)] == [0, 90018]
    assert [dt.v1("GET", "v1.0/crm/personalCustomers").status_code for _ in range(3)] == [200, 200, 200]
    refused = dt.v1("GET", "v1.0/crm/personalCustomers")
    assert refused.status_code == 403 and refused.json()["code"] == "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
    sandbox.clock.advance(1)
    assert dt.post("topapi/v2/user/get", {"userid": "dt00001"})["errcode"] == 0  # the next second
    assert sandbox.control.calls(org.corp_id)["topapi/v2/user/get"] == 5


def test_monthly_quota_counts_message_and_crm_calls_only(sandbox, org, dt):
    send = {"agent_id": org.agent_id, "userid_list": "dt00001", "msg": {"msgtype": "text", "text": {"content": "1"}}}
    for n in range(3):  # off by default
        send["msg"]["text"]["content"] = str(n)
        dt.ok("topapi/message/corpconversation/asyncsend_v2", send)
    sandbox.control.set_limits(org.corp_id, {"monthly_quota": 2})
    dt.ok("topapi/message/corpconversation/asyncsend_v2", send)
    assert dt.v1("GET", "v1.0/crm/personalCustomers").status_code == 200
    assert dt.post("topapi/message/corpconversation/asyncsend_v2", send)["errcode"] == 90020
    spent = dt.v1("GET", "v1.0/crm/personalCustomers")
    assert spent.status_code == 403 and spent.json()["code"] == "Forbidden.AccessDenied.ApiCountLimitForOrg"
    for _ in range(3):  # the address book and contacts are exempt
        dt.ok("topapi/v2/user/get", {"userid": "dt00001"})
        dt.ok("topapi/extcontact/list", {"size": 1})
    sandbox.clock.advance(32 * 86400)
    dt.token = dt.fetch_token()
    dt.ok("topapi/message/corpconversation/asyncsend_v2", send)  # a new month


def test_work_notifications(sandbox, org, dt):
    send = {"agent_id": org.agent_id, "userid_list": "dt00001,dt00002",
            "msg": {"msgtype": "text", "text": {"content": "有新客户 🐯"}}}
    assert dt.ok("topapi/message/corpconversation/asyncsend_v2", send)["task_id"]
    dt.ok("topapi/message/corpconversation/asyncsend_v2", send)  # accepted, dropped by the host
    assert dt.post("topapi/message/corpconversation/asyncsend_v2", {**send, "agent_id": "1"})["errcode"] == 40056
    sandbox.clock.advance(86400)
    dt.token = dt.fetch_token()
    dt.ok("topapi/message/corpconversation/asyncsend_v2", send)
    with sandbox.db.session() as s:
        got = s.query(sbx_dt.DtMessage).filter_by(corp_id=org.corp_id, userid="dt00001").all()
    assert len(got) == 2 and got[0].msg["text"]["content"] == "有新客户 🐯"


def test_extcontact_validation(sandbox, org, dt):
    label = dt.ok("topapi/extcontact/listlabelgroups")["results"][0]["labels"][0]["id"]
    contact = {"name": "王小明🌸", "mobile": "13800138000", "state_code": "86", "follower_user_id": "dt00001",
               "label_ids": [label], "company_name": "杭州云帆科技有限公司"}
    assert dt.post("topapi/extcontact/create", {"contact": {**contact, "label_ids": []}})["errcode"] == 60204
    assert dt.post("topapi/extcontact/create", {"contact": {**contact, "label_ids": [999999]}})["errcode"] == 60204
    assert dt.post("topapi/extcontact/create", {"contact": {**contact, "mobile": "1380a"}})["errcode"] == 60103
    assert dt.post("topapi/extcontact/create", {"contact": {**contact, "label_ids": [label] * 21}})["errcode"] == 40035
    assert dt.post("topapi/extcontact/create", {"contact": {**contact, "state_code": ""}})["errcode"] == 60103
    assert dt.post("topapi/extcontact/create", {"contact": {**contact, "follower_user_id": "x"}})["errcode"] == 60121
    created = dt.ok("topapi/extcontact/create", {"contact": contact})["userid"]
    assert dt.post("topapi/extcontact/create", {"contact": contact})["errcode"] == 22005
    assert dt.ok("topapi/extcontact/create", {"contact": {**contact, "follower_user_id": "dt00002"}})["userid"]
    got = dt.ok("topapi/extcontact/get", {"user_id": created})["result"]
    assert got["name"] == "王小明🌸" and got["label_ids"] == [label] and got["follower_user_id"] == "dt00001"
    edit = {"user_id": created, "name": "王小明", "follower_user_id": "dt00001", "label_ids": []}
    assert dt.post("topapi/extcontact/update", {"contact": edit})["errcode"] == 60204
    dt.ok("topapi/extcontact/update", {"contact": {**edit, "label_ids": [label], "remark": "展会认识"}})
    assert dt.ok("topapi/extcontact/get", {"user_id": created})["result"]["remark"] == "展会认识"
    dt.ok("topapi/extcontact/delete", {"user_id": created})
    assert dt.post("topapi/extcontact/get", {"user_id": created})["errcode"] == 33012


def test_extcontact_update_needs_its_fields_and_a_current_follower(sandbox, org, dt):
    """update-enterprise-external-contacts: user_id, name, follower_user_id and label_ids are required (40036); the
    follower must be a current member (60121). A leaver stays the follower of their contacts until an update."""
    contacts = dt.ok("topapi/extcontact/list", {"offset": 0, "size": 100})["results"]
    mine = next(c for c in contacts if c["follower_user_id"] == contacts[0]["follower_user_id"])
    leaver = mine["follower_user_id"]
    heir = next(c["follower_user_id"] for c in contacts if c["follower_user_id"] != leaver)
    sandbox.play(org, "employee_leaves", userid=leaver)
    listed = {c["userid"]: c for c in dt.ok("topapi/extcontact/list", {"offset": 0, "size": 100})["results"]}
    assert listed[mine["userid"]]["follower_user_id"] == leaver
    edit = {"user_id": mine["userid"], "name": mine["name"], "follower_user_id": heir, "label_ids": mine["label_ids"]}
    for field in edit:
        assert dt.post("topapi/extcontact/update", {"contact": {**edit, field: ""}})["errcode"] == 40036
        short = {k: v for k, v in edit.items() if k != field}
        assert dt.post("topapi/extcontact/update", {"contact": short})["errcode"] == 40036
    assert dt.post("topapi/extcontact/update", {"contact": {**edit, "follower_user_id": leaver}})["errcode"] == 60121
    assert dt.post("topapi/extcontact/update", {"contact": {**edit, "follower_user_id": "x"}})["errcode"] == 60121
    create = {"name": "李雷", "mobile": "13900139000", "state_code": "86", "follower_user_id": leaver,
              "label_ids": mine["label_ids"]}
    assert dt.post("topapi/extcontact/create", {"contact": create})["errcode"] == 60121
    dt.ok("topapi/extcontact/update", {"contact": edit})
    assert dt.ok("topapi/extcontact/get", {"user_id": mine["userid"]})["result"]["follower_user_id"] == heir


def test_paging(sandbox, org, dt):
    seen, offset = [], 0
    while page := dt.ok("topapi/extcontact/list", {"offset": offset, "size": 7})["results"]:
        seen += [c["userid"] for c in page]
        offset += 7
    assert len(seen) == len(set(seen)) == 30
    assert dt.post("topapi/extcontact/list", {"size": 101})["errcode"] == 40035
    pages, cursor = [], 0
    while True:
        result = dt.ok("topapi/v2/user/list", {"dept_id": 1, "cursor": cursor, "size": 3})["result"]
        pages.append([u["userid"] for u in result["list"]])
        if not result["has_more"]:
            break
        cursor = result["next_cursor"]
    assert pages == [["dt00001", "dt00002", "dt00003"], ["dt00004", "dt00005", "dt00006"]]  # no empty last page
    assert dt.post("topapi/v2/user/list", {"dept_id": 1, "size": 0})["errcode"] == 40035
    for n in range(4):
        created = dt.v1("POST", "v1.0/crm/personalCustomers", {"creatorUserId": "dt00001", "data": {
            "customer_name": f"客户{n}"}, "permission": {"ownerStaffIds": ["dt00002"]}})
        assert created.status_code == 200, created.text
    crm_pages, token = [], None
    while True:
        page = dt.v1("GET", "v1.0/crm/personalCustomers", maxResults=2, **({"nextToken": token} if token else {}))
        crm_pages.append([v["data"]["customer_name"] for v in page.json()["values"]])
        token = page.json()["nextToken"]
        if not page.json()["hasMore"]:
            break
    assert len(crm_pages) == 2 and sorted(sum(crm_pages, [])) == [f"客户{n}" for n in range(4)]
    assert dt.v1("GET", "v1.0/crm/personalCustomers", maxResults=101).status_code == 400


def test_crm_owner_change_and_missing_instance(sandbox, org, dt):
    made = dt.v1("POST", "v1.0/crm/personalCustomers", {"creatorUserId": "dt00001", "data": {"customer_name": "甲"}})
    instance = made.json()["instanceId"]
    moved = dt.v1("PUT", "v1.0/crm/personalCustomers", {"instanceId": instance, "modifierUserId": "dt00001",
                                                          "permission": {"ownerStaffIds": ["dt00003"]}})
    assert moved.json() == {"instanceId": instance}
    listed = dt.v1("GET", "v1.0/crm/personalCustomers").json()["values"]
    assert listed[0]["permission"]["ownerStaffIds"] == ["dt00003"] and listed[0]["data"] == {"customer_name": "甲"}
    missing = dt.v1("PUT", "v1.0/crm/personalCustomers", {"instanceId": "nope", "data": {}})
    assert missing.status_code == 404
    assert dt.v1("POST", "v1.0/crm/personalCustomers", {"data": {}}).status_code == 400
