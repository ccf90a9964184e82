"""The admin's corp commands (update, remove) and host errors as one line, through the `scrm` console script."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import func, select

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.models import Base, Channel, Corp, Followup, InboxEvent, Relationship
from scrm.services import access, corps
from tests.builders import make_corp, make_customer, make_employee
from tests.scrm import test_cli

run = test_cli.run  # the `scrm` console script, as an admin runs it (a fixture)


def add_corp(run, *extra, platform="wecom"):
    ids = ["--agent-id", "1000002"] if platform == "wecom" else ["--app-key", "dingappkey"]
    out = run("corp", "add", "--platform", platform, "--name", "星火科技", "--corp-id", f"{platform}-cli",
              *ids, "--secret", "first-secret", *extra).stdout
    return json.loads(out)["corp_key"]


def test_update_changes_fields_validates_and_never_prints_a_secret(app, run):
    key = add_corp(run)
    out = run("corp", "update", key, "--name", "新名字", "--secret", "second-secret", "--api-base",
              "http://127.0.0.1:5000/sandbox/wecom/").stdout
    shown = json.loads(out)
    assert shown["name"] == "新名字" and shown["api_base"] == "http://127.0.0.1:5000/sandbox/wecom"
    assert "secret" not in out
    db.session.remove()
    assert corps.get_corp(key).secret == "second-secret"
    assert json.loads(run("corp", "update", key, "--real-host").stdout)["api_base"] is None
    bad = run("corp", "update", key, "--callback-aes-key", "short", check=False)
    assert bad.returncode == 1 and "callback_aes_key" in bad.stderr and "Traceback" not in bad.stderr
    assert run("corp", "update", key, check=False).returncode == 2  # nothing to change
    missing = run("corp", "update", "nope", "--name", "x", check=False)
    assert missing.returncode == 1 and "no corp with key nope" in missing.stderr


def test_update_secret_from_the_environment_and_prompt(app, run):
    key = add_corp(run)
    run("corp", "update", key, "--secret", env={"SCRM_CORP_SECRET": "from-env"})
    db.session.remove()
    assert corps.get_corp(key).secret == "from-env"


def test_a_new_secret_drops_the_cached_token(app):
    corp = make_corp()
    tokens = app.extensions["scrm.host_runtime"].tokens
    tokens.get_or_fetch(f"wecom:{corp.corp_key}:token", lambda: ("old-token", 7200))
    corps.update_corp(corp.corp_key, name="只改名字")
    assert tokens.get(f"wecom:{corp.corp_key}:token") == "old-token"
    corps.update_corp(corp.corp_key, secret="new-secret")
    assert tokens.get(f"wecom:{corp.corp_key}:token") is None


def _fill(corp):
    emp = make_employee(corp, host_id=f"e{corp.id}")
    cust = make_customer(corp, host_id=f"c{corp.id}")
    with unit_of_work():
        channel = Channel(corp_id=corp.id, name="海报", state=f"s{corp.id}")
        db.session.add(channel)
        db.session.flush()
        db.session.add(Relationship(corp_id=corp.id, employee_id=emp.id, customer_id=cust.id, status="active",
                                    channel_id=channel.id))
        db.session.add(Followup(corp_id=corp.id, kind="noop", args="[]"))
    access.create_token(corp, "admin")
    return emp


def _rows_of(corp_id):
    found = {}
    for table, fk in corps._corp_tables():
        n = db.session.scalar(select(func.count()).select_from(table).where(corps._corp_rows(table, fk, corp_id)))
        if n:
            found[table.name] = n
    return found


def test_remove_deletes_every_row_of_the_corp_and_nothing_of_another(app, fake_host):
    a, b = make_corp(), make_corp()
    _fill(a), _fill(b)
    before_b = _rows_of(b.id)
    counts = corps.removal_counts(a)
    assert counts["customer"] == counts["relationship"] == counts["employee"] == counts["api_token"] == 1
    # every table that holds a corp's rows is reached
    assert {t.name for t, _ in corps._corp_tables()} == {t.name for t in Base.metadata.sorted_tables} - {"corp"}
    a_id, a_key, b_id = a.id, a.corp_key, b.id
    deleted = corps.remove_corp(a_key)
    assert deleted["customer"] == 1 and deleted["relationship"] == 1
    db.session.remove()
    assert _rows_of(a_id) == {} and db.session.get(Corp, a_id) is None
    assert _rows_of(b_id) == before_b and before_b["relationship"] == 1


def test_remove_says_what_happens_and_asks_for_the_key(app, run):
    key = add_corp(run)
    token = run("token", "create", "--corp", key, "--role", "admin").stdout.strip().splitlines()[-1]
    refused = run("corp", "remove", key, check=False)  # no input: not confirmed
    assert refused.returncode == 1 and "not confirmed" in refused.stderr
    assert "api token" in refused.stdout and "contact ways" in refused.stdout
    db.session.remove()
    assert access.authenticate(token) is not None
    done = run("corp", "remove", key, "--yes")
    assert json.loads(done.stdout.strip().splitlines()[-1])["removed"] == key
    db.session.remove()
    assert access.authenticate(token) is None and db.session.scalar(select(func.count()).select_from(Corp)) == 0


class _Refusing(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self._answer()

    do_POST = do_GET

    def _answer(self):
        body = json.dumps({"errcode": self.server.errcode, "errmsg": "invalid credential",
                           "code": "invalidClientIdOrSecret", "message": "bad secret"}).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_host():
    def start(errcode, status=200):
        server = HTTPServer(("127.0.0.1", 0), _Refusing)
        server.errcode, server.status = errcode, status
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"
    servers = []
    yield start
    for s in servers:
        s.shutdown()


@pytest.mark.parametrize("platform,errcode,status,expected", [
    ("wecom", 40001, 200, "WeCom refused the corp secret (40001): run scrm corp update {key} --secret"),
    ("dingtalk", 40089, 400, "DingTalk refused the app secret"),
])
def test_a_wrong_secret_at_sync_is_one_line(app, run, refusing_host, platform, errcode, status, expected):
    base = refusing_host(errcode, status)
    key = add_corp(run, "--api-base", base, platform=platform)
    proc = run("sync", "--corp", key, check=False)
    assert proc.returncode == 1
    assert expected.format(key=key) in proc.stderr and "Traceback" not in proc.stderr
    assert "first-secret" not in proc.stderr


def test_an_unreachable_host_at_sync_names_the_url_and_what_to_do(app, run):
    key = add_corp(run, "--api-base", "http://127.0.0.1:1")
    proc = run("sync", "--corp", key, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "cannot reach the host at http://127.0.0.1:1/cgi-bin/gettoken (" in line
    assert "make run" in line and "first-secret" not in line and "corpsecret" not in line
    assert "the host refused" not in line


def test_inbox_rows_are_counted_for_removal(app):
    corp = make_corp()
    with unit_of_work():
        db.session.add(InboxEvent(corp_id=corp.id, platform="wecom", event_type="x", dedupe_key="d1",
                                  payload="{}", status="dead"))
    assert corps.removal_counts(corp)["inbox_event"] == 1
