"""The control surface over HTTP, its optional token, and the `sandbox` CLI."""
from __future__ import annotations

import json

import requests
from click.testing import CliRunner

from sandbox.app import create_sandbox_app
from sandbox.cli import sandbox as sandbox_cli


def test_control_http_round_trip(sandbox, callback_receiver):
    control = f"{sandbox.base_url}/_control"
    made = requests.post(f"{control}/corps", json={"platform": "wecom", "callback_url": callback_receiver.url,
                                                   "token_ttl": 120}).json()
    cid = made["corp_id"]
    assert made["token_ttl"] == 120 and made["secret"] and len(made["callback_aes_key"]) == 43
    assert requests.post(f"{control}/corps", json={"platform": "lark"}).status_code == 400
    assert requests.get(f"{control}/corps/nope").status_code == 404
    seeded = requests.post(f"{control}/corps/{cid}/seed", json={"employees": 3, "customers": 10, "rng": 1}).json()
    assert seeded["customers"] == 10
    assert requests.patch(f"{control}/corps/{cid}", json={"name": "演示企业"}).json()["name"] == "演示企业"
    assert requests.put(f"{control}/corps/{cid}/limits", json={"user/get": 1}).json()["limits"] == {"user/get": 1}
    played = requests.post(f"{control}/corps/{cid}/play/scan", json={"customers": 4, "codes": 2, "over": 0,
                                                                       "wait": True}).json()
    assert played["delivered"] == 4 and len(callback_receiver.received) == 4
    assert requests.post(f"{control}/corps/{cid}/play/dance", json={}).status_code == 400
    assert len(requests.get(f"{control}/corps/{cid}/deliveries").json()["deliveries"]) == 4
    before = requests.get(f"{control}/clock").json()["now"]
    after = requests.post(f"{control}/clock", json={"advance": 3600}).json()["now"]
    assert 3600 <= after - before < 3700
    token = requests.get(f"{sandbox.wecom_base}/cgi-bin/gettoken",
                         params={"corpid": cid, "corpsecret": made["secret"]}).json()["access_token"]
    requests.get(f"{sandbox.wecom_base}/cgi-bin/user/get", params={"access_token": token, "userid": "E00001"})
    assert requests.get(f"{control}/corps/{cid}/calls").json()["calls"] == {"gettoken": 1, "user/get": 1}
    assert requests.post(f"{control}/clock", json={"reset": True}).json()["now"] < before + 60


def test_control_token_guards_the_control_api(tmp_path):
    app = create_sandbox_app(f"sqlite:///{tmp_path / 'guarded.db'}", control_token="s3cret")
    client = app.test_client()
    assert client.post("/_control/corps", json={}).status_code == 403
    assert client.post("/_control/corps", json={}, headers={"X-Sandbox-Token": "s3cret"}).status_code == 201
    app.extensions["sandbox"].close()


def test_cli_create_seed_play_advance(tmp_path, callback_receiver):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    made = runner.invoke(sandbox_cli, ["create-corp", "--corp", "wwcli", "--callback-url", callback_receiver.url,
                                       "--db", db])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["corp_id"] == "wwcli"
    seeded = runner.invoke(sandbox_cli, ["seed", "--corp", "wwcli", "--customers", "50", "--employees", "4",
                                         "--seed", "3", "--db", db])
    assert seeded.exit_code == 0, seeded.output
    assert json.loads(seeded.output)["customers"] == 50
    played = runner.invoke(sandbox_cli, ["play", "scan", "--corp", "wwcli", "-p", "customers=3", "-p", "over=0",
                                         "--db", db])
    assert played.exit_code == 0, played.output
    assert json.loads(played.output)["delivered"] == 3
    callback_receiver.wait_for(3)
    missing = runner.invoke(sandbox_cli, ["seed", "--corp", "wwnope", "--db", db])
    assert missing.exit_code != 0 and "create-corp" in missing.output
    bad = runner.invoke(sandbox_cli, ["play", "scan", "--corp", "wwcli", "-p", "oops", "--db", db])
    assert bad.exit_code != 0
    moved = runner.invoke(sandbox_cli, ["advance", "60", "--db", db])
    assert moved.exit_code == 0 and json.loads(moved.output)["now"] > 0


def test_a_database_of_an_older_sandbox_is_named_with_what_to_do(tmp_path):
    """The sandbox never migrates: a table lacking a column is one clear error at start, not a failure later."""
    import sqlite3

    import pytest

    from sandbox.app import open_sandbox
    from sandbox.control import Control, StaleDatabase

    url = f"sqlite:///{tmp_path / 'old.db'}"
    Control(open_sandbox(url))
    with sqlite3.connect(tmp_path / "old.db") as conn:
        conn.execute("ALTER TABLE sbx_corp DROP COLUMN token_ttl")
    with pytest.raises(StaleDatabase, match=r"sbx_corp lacks token_ttl.*delete it"):
        Control(open_sandbox(url))
