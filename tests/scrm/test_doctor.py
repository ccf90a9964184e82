"""scrm doctor: one line per check, exit status 1 on a problem; the checks as a service."""
import time

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.host import HostCredentialsError
from scrm.models import Followup, InboxEvent
from scrm.services import doctor
from tests.builders import make_corp
from tests.scrm import test_cli

run = test_cli.run  # the `scrm` console script, as an admin runs it (a fixture)


def by_name(checks):
    return {c.name: c for c in checks}


def test_embedded_mode_says_tasks_run_in_process_and_beat_is_recorded(app):
    checks = by_name(doctor.check_tasks())
    assert checks["tasks"].ok and "in-process" in checks["tasks"].message
    doctor.record_beat(time.time() - 5)
    assert by_name(doctor.check_tasks())["beat"].ok
    doctor.record_beat(time.time() - 3600)
    late = by_name(doctor.check_tasks())["beat"]
    assert not late.ok and "scrm beat" in late.message


def test_the_inbox_sweep_records_beat(app):
    from tasks.events import sweep

    doctor.record_beat(0)
    sweep.apply(throw=True)
    assert time.time() - doctor.last_beat() < 60


def test_a_corp_whose_secret_is_refused_is_a_problem_with_the_command_to_fix_it(app, fake_host):
    corp = make_corp()
    assert all(c.ok for c in doctor.check_corp(corp))
    assert fake_host.called("check_credentials")
    fake_host.fail_next["check_credentials"] = HostCredentialsError(40001, "invalid credential", api="gettoken")
    host = by_name(doctor.check_corp(corp))["host"]
    assert not host.ok and host.message == (f"WeCom refused the corp secret (40001): run scrm corp update "
                                            f"{corp.corp_key} --secret")


def test_production_with_a_loopback_base_url_is_a_problem(app, monkeypatch, fake_host):
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    monkeypatch.setitem(app.config, "BASE_URL", "http://127.0.0.1:5000")
    base = by_name(doctor.check_configuration())["base URL"]
    assert not base.ok and "SCRM_BASE_URL" in base.message
    callback = by_name(doctor.check_corp(make_corp()))["callback URL"]
    assert not callback.ok and "loopback" in callback.message
    monkeypatch.setitem(app.config, "BASE_URL", "https://scrm.example.com")
    assert by_name(doctor.check_configuration())["base URL"].ok


def test_dead_rows_are_counted_with_the_command_to_inspect_them(app):
    a, b = make_corp(), make_corp()
    with unit_of_work():
        db.session.add(InboxEvent(corp_id=a.id, platform="wecom", event_type="x", dedupe_key="d1", payload="{}",
                                  status="dead"))
        db.session.add(Followup(corp_id=b.id, kind="noop", args="[]", status="dead"))
    work = by_name(doctor.check_work())
    assert not work["inbox"].ok and "scrm events list --status dead" in work["inbox"].message
    assert not work["follow-ups"].ok and "scrm followups list --status dead" in work["follow-ups"].message
    mine = by_name(doctor.check_work(a.id))
    assert mine["follow-ups"].ok  # another corp's dead follow-up is not this corp's


def test_doctor_command_prints_one_line_per_check_and_fails_on_a_problem(app, run):
    proc = run("doctor", check=False)
    lines = proc.stdout.strip().splitlines()
    assert any(line.startswith("ok   database") for line in lines)
    assert any("tasks run in-process" in line for line in lines)
    # no beat has run in this fresh instance folder: a problem, so exit status 1
    assert any(line.startswith("FAIL beat") for line in lines) and proc.returncode == 1
    assert "Traceback" not in proc.stderr
