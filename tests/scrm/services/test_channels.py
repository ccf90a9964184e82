"""Channel codes against the fake host: checked input, the contact way, rules applied on add, welcome messages and
statistics that replays cannot inflate."""
import io
from datetime import date, timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from scrm import metrics
from scrm.db import unit_of_work
from scrm.errors import ValidationError
from scrm.extensions import db
from scrm.host import HostError, HostTag, HostTagGroup, platforms
from scrm.models import Channel, Customer, Relationship, RelationshipTag, Tag, TimelineEntry, WelcomeDelivery, utcnow
from scrm.services import channel_stats, channels, customers, media, welcome
from scrm.services.tags import upsert_tag_group
from tests import wecom_payloads as wx
from tests.builders import make_corp, make_employee
from tests.scrm.services.test_processing import count, ingest, status, ts


@pytest.fixture
def corp(app, fake_host):
    corp = make_corp()
    for host_id, name in (("zhang", "张三"), ("li", "李四"), ("wang", "王五")):
        fake_host.add_employee(host_id, name)
        make_employee(corp, host_id=host_id, name=name)
    fake_host.tag_groups["g1"] = HostTagGroup(id="g1", name="来源", tags=[HostTag(id="t-poster", name="海报"),
                                                                        HostTag(id="t-vip", name="VIP")])
    upsert_tag_group(corp, fake_host.tag_groups["g1"])
    return corp


def emp(corp, host_id):
    from scrm.services.org import find_employee

    return find_employee(corp, host_id).id


def tag(name):
    return db.session.scalar(select(Tag.id).where(Tag.name == name))


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), "red").save(buf, "PNG")
    return buf.getvalue()


def spec(corp, **overrides):
    values = {"name": "春季海报", "members": [{"employee_id": emp(corp, "zhang")}, {"employee_id": emp(corp, "li")}]}
    values.update(overrides)
    return values


# ---------------------------------------------------------------- checked before any host call


@pytest.mark.parametrize("change, field", [
    ({"members": []}, "members"),
    ({"members": [{"employee_id": 999999}]}, "members[0].employee_id"),
    ({"members": "zhang"}, "members"),
    ("only_backups", "members"),
    ({"tags": [424242]}, "tags"),
    ({"name": "x" * 65}, "name"),
    ({"state": "has space"}, "state"),
    ({"state": "s" * 31}, "state"),
    ({"remark_template": "{channel}-{secret}"}, "remark_template"),
    ({"welcome": {"text": "您好 {password}"}}, "welcome.text"),
    ({"welcome": {"text": "长" * 1400}}, "welcome.text"),
    ({"welcome": {"text": "hi", "attachments": [{"type": "link", "title": "官网"}]}}, "welcome.attachments[0].url"),
    ({"welcome": {"attachments": [{"type": "image", "media_id": 777}]}}, "welcome.attachments[0].media_id"),
    ({"welcome": {"attachments": [{"type": "video"}]}}, "welcome.attachments[0].type"),
    ({"welcome": {"text": "hi", "attachments": [{"type": "link", "title": "t", "url": "https://a.cn"}] * 10}},
     "welcome.attachments"),
    ({"welcome_mode": "channel"}, "welcome"),
    ({"temporary": True}, "members"),
    ({"members": [{"employee_id": 0, "schedule": {"mon": [["9", "18"]]}}]}, "members[0].employee_id"),
    ("bad_schedule", "members[0].schedule"),
    ({"members": [{"employee_id": "zhang", "weight": 0}]}, "members[0].employee_id"),
    ("zero_weight", "members[0].weight"),
    ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ({"colour": "red"}, "colour"),
])
def test_bad_input_names_the_field_and_makes_no_host_call(corp, fake_host, change, field):
    if change == "only_backups":
        change = {"members": [{"employee_id": emp(corp, "zhang"), "backup": True}]}
    elif change == "bad_schedule":
        change = {"members": [{"employee_id": emp(corp, "zhang"), "schedule": {"mon": [["9", "18"]]}}]}
    elif change == "zero_weight":
        change = {"members": [{"employee_id": emp(corp, "zhang"), "weight": 0}]}
    with pytest.raises(ValidationError) as raised:
        channels.create_channel(corp, spec(corp, **change))
    assert raised.value.field == field
    assert fake_host.called("create_channel_code") == []
    assert count(Channel) == 0


def test_a_state_in_use_is_refused(corp, fake_host):
    channels.create_channel(corp, spec(corp, state="poster"))
    with pytest.raises(ValidationError) as raised:
        channels.create_channel(corp, spec(corp, name="另一个", state="poster"))
    assert raised.value.field == "state"
    assert len(fake_host.called("create_channel_code")) == 1


def test_a_departed_employee_cannot_join_a_pool(corp):
    from scrm.services.org import mark_departed

    with unit_of_work():
        mark_departed(corp, "wang", None)
    with pytest.raises(ValidationError, match="has left"):
        channels.create_channel(corp, spec(corp, members=[{"employee_id": emp(corp, "wang")}]))


# ---------------------------------------------------------------- the contact way


def test_create_edit_pause_resume_delete_follow_the_host(corp, fake_host):
    channel = channels.create_channel(corp, spec(corp, remark="门店", tags=[tag("海报")]))
    created = fake_host.called("create_channel_code")[0]["spec"]
    assert (created.state, created.user_ids, created.remark) == (channel.state, ["zhang", "li"], "门店")
    assert len(channel.state) <= 30 and channel.config_id.startswith("cfg") and channel.code
    channels.update_channel(corp, channel.id, {"members": [{"employee_id": emp(corp, "wang")}]})
    updated = fake_host.called("update_channel_code")[0]
    assert updated["config_id"] == channel.config_id and updated["spec"].user_ids == ["wang"]
    config_id = channel.config_id
    channels.pause_channel(corp, channel.id)
    assert fake_host.called("delete_channel_code") == [{"config_id": config_id}]
    assert (channel.status, channel.config_id) == ("paused", None)
    channels.resume_channel(corp, channel.id)
    assert channel.status == "active" and channel.config_id != config_id
    channels.delete_channel(corp, channel.id)
    assert channel.status == "deleted" and channels.list_channels(corp) == []


def test_a_host_refusal_leaves_nothing_behind(corp, fake_host):
    fake_host.fail_next["create_channel_code"] = HostError(41054, "member not activated")
    with pytest.raises(HostError):
        channels.create_channel(corp, spec(corp))
    assert count(Channel) == 0


def test_temporary_codes_take_one_employee_and_an_expiry_within_14_days(corp, fake_host):
    one = {"members": [{"employee_id": emp(corp, "zhang")}], "temporary": True}
    with pytest.raises(ValidationError, match="14 days"):
        channels.create_channel(corp, spec(corp, **one, expires_at=utcnow() + timedelta(days=15)))
    channels.create_channel(corp, spec(corp, **one))
    sent = fake_host.called("create_channel_code")[-1]["spec"]
    assert sent.temporary and 7 * 86400 - 120 < sent.expires_in <= 7 * 86400


# ---------------------------------------------------------------- an add through the channel


def welcome_channel(corp, **overrides):
    image = media.save_image(corp, "banner.png", png())
    return channels.create_channel(corp, spec(corp, **{
        "tags": [tag("海报"), tag("VIP")], "remark_template": "{channel}-{date}",
        "welcome": {"text": "{customer_name}您好，我是{employee_name}，欢迎来到{channel}！",
                    "attachments": [{"type": "image", "media_id": image.id},
                                    {"type": "link", "title": "门店地址", "url": "https://scrm.example.com/m"}]},
        **overrides}))


def test_an_add_gets_tags_remark_and_welcome_once_however_often_it_arrives(corp, fake_host):
    channel = welcome_channel(corp)
    fake_host.add_friend("zhang", "wm1", name="小明<b>", state=channel.state)
    payload = wx.added("zhang", "wm1", state=channel.state, welcome_code="CODE1")
    rows = {ingest(corp, payload) for _ in range(3)}
    assert len(rows) == 1 and status(rows.pop()) == "done"
    sent = fake_host.called("send_welcome")
    assert len(sent) == 1 and sent[0]["welcome_code"] == "CODE1"
    content = sent[0]["content"]
    assert content.text == "小明<b>您好，我是张三，欢迎来到春季海报！"
    assert [a.kind for a in content.attachments] == ["image", "link"]
    assert content.attachments[0].data["media_id"].startswith("media")
    marked = fake_host.called("mark_tags")
    assert len(marked) == 1 and sorted(marked[0]["add"]) == ["t-poster", "t-vip"]
    remark = fake_host.called("set_remark")[0]["remark"]
    assert remark.startswith("春季海报-") and len(remark) == len("春季海报-") + 8
    rel = db.session.scalar(select(Relationship))
    assert rel.channel_id == channel.id and rel.remark == remark
    assert count(RelationshipTag, RelationshipTag.relationship_id == rel.id) == 2
    assert count(TimelineEntry, TimelineEntry.kind == "added", TimelineEntry.channel_id == channel.id) == 1
    assert db.session.scalar(select(WelcomeDelivery.status)) == "sent"
    today = channels.local_now(corp).date()
    assert channel_stats.channel_stats(corp, channel.id, today, today)["total"]["new"] == 1


def test_the_welcome_goes_out_before_the_slower_work(corp, fake_host):
    channel = welcome_channel(corp)
    fake_host.add_friend("zhang", "wm1", state=channel.state)
    ingest(corp, wx.added("zhang", "wm1", state=channel.state, welcome_code="CODE1"))
    order = [m for m, _ in fake_host.calls if m in ("send_welcome", "mark_tags", "set_remark")]
    assert order == ["send_welcome", "mark_tags", "set_remark"]


def test_an_employee_typed_remark_is_kept(corp, fake_host):
    channel = welcome_channel(corp)
    fake_host.add_friend("zhang", "wm1", state=channel.state, remark="老客户")
    ingest(corp, wx.added("zhang", "wm1", state=channel.state))
    assert fake_host.called("set_remark") == []


@pytest.mark.parametrize("mode, corp_default, expected", [
    ("none", {"text": "默认欢迎"}, None),
    ("default", {"text": "默认欢迎 {employee_name}"}, "默认欢迎 张三"),
    ("default", None, None),
])
def test_channel_default_or_no_welcome(corp, fake_host, mode, corp_default, expected):
    if corp_default:
        welcome.set_default_content(corp, corp_default)
    channel = channels.create_channel(corp, spec(corp, welcome_mode=mode))
    fake_host.add_friend("zhang", "wm1", state=channel.state)
    ingest(corp, wx.added("zhang", "wm1", state=channel.state))
    sent = [c["content"].text for c in fake_host.called("send_welcome")]
    assert sent == ([expected] if expected else [])
    assert db.session.scalar(select(WelcomeDelivery.status)) == ("sent" if expected else "none")


def test_adds_without_a_channel_get_the_corp_default(corp, fake_host):
    welcome.set_default_content(corp, {"text": "欢迎！"})
    fake_host.add_friend("li", "wm2")
    ingest(corp, wx.added("li", "wm2", state=None))
    assert [c["content"].text for c in fake_host.called("send_welcome")] == ["欢迎！"]


def test_templates_are_substituted_never_evaluated(corp, fake_host):
    channel = channels.create_channel(corp, spec(corp, welcome={"text": "{0.__class__} {employee_name} {{channel}}"}))
    fake_host.add_friend("zhang", "wm1", state=channel.state)
    ingest(corp, wx.added("zhang", "wm1", state=channel.state))
    assert fake_host.called("send_welcome")[0]["content"].text == "{0.__class__} 张三 {春季海报}"


def test_a_used_code_is_recorded_and_not_retried(corp, fake_host):
    channel = welcome_channel(corp)
    fake_host.fail_next["send_welcome"] = HostError(41051, "welcome code used")
    fake_host.add_friend("zhang", "wm1", state=channel.state)
    row = ingest(corp, wx.added("zhang", "wm1", state=channel.state))
    assert status(row) == "done"
    delivery = db.session.scalar(select(WelcomeDelivery))
    assert delivery.status == "used" and "41051" in delivery.error
    assert len(fake_host.called("send_welcome")) == 1


def test_a_code_the_host_calls_expired_is_recorded_as_expired(corp, fake_host):
    channel = welcome_channel(corp)
    fake_host.fail_next["send_welcome"] = HostError(41050, "invalid welcome_code")
    fake_host.add_friend("zhang", "wm1", state=channel.state)
    expired, failed = (metrics.WELCOMES.labels(o)._value.get() for o in ("expired", "failed"))
    row = ingest(corp, wx.added("zhang", "wm1", state=channel.state))
    assert status(row) == "done"
    delivery = db.session.scalar(select(WelcomeDelivery))
    assert delivery.status == "expired" and "41050" in delivery.error
    assert metrics.WELCOMES.labels("expired")._value.get() == expired + 1
    assert metrics.WELCOMES.labels("failed")._value.get() == failed


def test_a_late_welcome_is_not_sent(corp, fake_host):
    from scrm.models import InboxEvent
    from scrm.services import inbox, processing

    channel = welcome_channel(corp)
    fake_host.add_friend("zhang", "wm1", state=channel.state)
    parsed = platforms().parse("wecom", wx.added("zhang", "wm1", state=channel.state))
    row_id, _ = inbox.store(corp, parsed, handled=True)
    with unit_of_work():
        db.session.get(InboxEvent, row_id).received_at = utcnow() - timedelta(seconds=21)
    processing.process(row_id)
    assert fake_host.called("send_welcome") == []
    assert db.session.scalar(select(WelcomeDelivery.status)) == "expired"


def test_a_late_welcome_goes_out_without_looking_the_name_up(corp, fake_host):
    from scrm.models import InboxEvent
    from scrm.services import inbox

    channel = welcome_channel(corp)
    fake_host.add_friend("zhang", "wm1", name="小明", state=channel.state)
    parsed = platforms().parse("wecom", wx.added("zhang", "wm1", state=channel.state))
    row_id, _ = inbox.store(corp, parsed, handled=True)
    with unit_of_work():  # a burst kept the workers busy: the welcome is 9 seconds old, still inside the window
        db.session.get(InboxEvent, row_id).received_at = utcnow() - timedelta(seconds=9)
    welcome.send_for_inbox([row_id])
    sent = fake_host.called("send_welcome")
    assert [c["content"].text for c in sent] == ["您好，我是张三，欢迎来到春季海报！"]
    assert fake_host.called("get_customer") == []


def test_a_one_time_code_is_used_up_by_its_first_customer(corp, fake_host):
    channel = channels.create_channel(corp, spec(corp, members=[{"employee_id": emp(corp, "zhang")}],
                                                 temporary=True))
    config_id = channel.config_id
    fake_host.add_friend("zhang", "wm1", state=channel.state)
    ingest(corp, wx.added("zhang", "wm1", state=channel.state))
    db.session.expire_all()
    channel = db.session.get(Channel, channel.id)
    assert channel.status == "used" and fake_host.called("delete_channel_code") == [{"config_id": config_id}]


def test_reaching_a_daily_cap_takes_the_member_off_the_contact_way(corp, fake_host):
    channel = channels.create_channel(corp, spec(corp, members=[
        {"employee_id": emp(corp, "zhang"), "daily_cap": 2}, {"employee_id": emp(corp, "li")}]))
    for n in range(3):
        fake_host.add_friend("zhang", f"wm{n}", state=channel.state)
        ingest(corp, wx.added("zhang", f"wm{n}", state=channel.state))
    updates = [c["spec"].user_ids for c in fake_host.called("update_channel_code")]
    assert updates == [["li"]]  # after the second add, and not again for the third
    assert db.session.get(Channel, channel.id).listed_user_ids == ["li"]


# ---------------------------------------------------------------- statistics


def test_statistics_per_day_and_employee_from_rows(corp, fake_host):
    channel = channels.create_channel(corp, spec(corp))
    now = utcnow().replace(microsecond=0)
    day1, day2 = now - timedelta(days=10), now - timedelta(days=2)
    for n, (who, when) in enumerate([("zhang", day1), ("zhang", day1), ("li", day1), ("li", day2)]):
        fake_host.add_friend(who, f"wm{n}", state=channel.state, created_at=when)
        for _ in range(3):  # delivered three times
            ingest(corp, wx.added(who, f"wm{n}", state=channel.state, at=ts(when)))
    # wm0 leaves after 3 days (early), wm1 after 9 days, wm2 is deleted by the employee
    ingest(corp, wx.removed_by_customer("zhang", "wm0", at=ts(day1 + timedelta(days=3))))
    ingest(corp, wx.removed_by_customer("zhang", "wm1", at=ts(day1 + timedelta(days=9))))
    ingest(corp, wx.removed_by_employee("li", "wm2", at=ts(day2 + timedelta(hours=1))))
    won = db.session.scalar(select(Customer.id).where(Customer.host_id == "wm3"))
    customers.set_stage(corp, won, "won")
    customers.set_stage(corp, won, "intent")
    customers.set_stage(corp, won, "won")  # converted twice the same day: counted once
    channel_stats.set_costs(corp, channel.id, [{"day": channels.local_now(corp, day1).date(), "amount": 90.0}])
    local = lambda moment: channels.local_now(corp, moment).date()  # noqa: E731
    stats = channel_stats.channel_stats(corp, channel.id, local(day1), local(now))
    by_day = {d["day"]: d for d in stats["days"] if any(d[k] for k in ("new", "lost", "removed_by_employee",
                                                                       "conversions"))}
    assert by_day[local(day1).isoformat()] | {} == {
        "day": local(day1).isoformat(), "new": 3, "lost": 0, "lost_within_7d": 0, "removed_by_employee": 0, "net": 3,
        "conversions": 0, "cost": 90.0, "cost_per_acquisition": 30.0}
    assert by_day[local(day1 + timedelta(days=3)).isoformat()]["lost_within_7d"] == 1
    assert by_day[local(day1 + timedelta(days=9)).isoformat()]["lost"] == 1
    assert by_day[local(day1 + timedelta(days=9)).isoformat()]["lost_within_7d"] == 0
    total = stats["total"]
    assert (total["new"], total["lost"], total["lost_within_7d"], total["removed_by_employee"], total["net"],
            total["conversions"]) == (4, 2, 1, 1, 1, 1)
    people = {p["name"]: p for p in stats["employees"]}
    assert (people["张三"]["new"], people["张三"]["lost"]) == (2, 2)
    assert (people["李四"]["new"], people["李四"]["removed_by_employee"], people["李四"]["conversions"]) == (2, 1, 1)
    csv = channel_stats.to_csv(stats)
    assert csv.splitlines()[0].startswith("day,new,lost") and csv.splitlines()[-1].startswith("total,4,2,1,1,1,1")


def test_a_removal_by_transfer_is_not_a_customer_lost(corp, fake_host):
    """A settled transfer deletes the handover's relationship with Source DELETE_BY_TRANSFER (doc 96325): the
    customer is not lost, so neither lost nor removed_by_employee counts it."""
    channel = channels.create_channel(corp, spec(corp))
    when = utcnow().replace(microsecond=0) - timedelta(hours=3)
    fake_host.add_friend("zhang", "wm1", state=channel.state, created_at=when)
    ingest(corp, wx.added("zhang", "wm1", state=channel.state, at=ts(when)))
    ingest(corp, wx.removed_by_employee("zhang", "wm1", at=ts(when + timedelta(hours=1)), source="DELETE_BY_TRANSFER"))
    today = channels.local_now(corp).date()
    total = channel_stats.channel_stats(corp, channel.id, today - timedelta(days=1), today)["total"]
    assert (total["new"], total["lost"], total["lost_within_7d"], total["removed_by_employee"], total["net"]) == \
        (1, 0, 0, 0, 1)
    assert db.session.scalar(select(Relationship.status)) == "transferred"


def test_a_conversion_is_credited_once_to_the_channel_that_brought_the_customer_first(corp, fake_host):
    poster = channels.create_channel(corp, spec(corp))
    fair = channels.create_channel(corp, spec(corp, name="展会", members=[{"employee_id": emp(corp, "wang")}]))
    first, later = utcnow() - timedelta(days=3), utcnow() - timedelta(days=1)
    fake_host.add_friend("zhang", "wm1", state=poster.state, created_at=first)
    ingest(corp, wx.added("zhang", "wm1", state=poster.state, at=ts(first)))
    fake_host.add_friend("wang", "wm1", state=fair.state, created_at=later)  # the same customer, a second channel
    ingest(corp, wx.added("wang", "wm1", state=fair.state, at=ts(later)))
    customer = db.session.scalar(select(Customer.id).where(Customer.host_id == "wm1"))
    customers.set_stage(corp, customer, "won")
    today = channels.local_now(corp).date()
    won = {c.name: channel_stats.channel_stats(corp, c.id, today - timedelta(days=7), today)["total"]["conversions"]
           for c in (poster, fair)}
    assert won == {"春季海报": 1, "展会": 0}
    people = channel_stats.channel_stats(corp, poster.id, today - timedelta(days=7), today)["employees"]
    assert [(p["name"], p["conversions"]) for p in people if p["conversions"]] == [("张三", 1)]


def test_statistics_ranges_are_checked(corp):
    channel = channels.create_channel(corp, spec(corp))
    with pytest.raises(ValidationError) as raised:
        channel_stats.channel_stats(corp, channel.id, date(2026, 3, 2), date(2026, 3, 1))
    assert raised.value.field == "to"
    with pytest.raises(ValidationError):
        channel_stats.channel_stats(corp, channel.id, date(2025, 1, 1), date(2026, 3, 1))


def test_spreadsheet_formulas_in_names_are_defused(corp):
    stats = {"employees": [{"employee_id": 1, "name": "=HYPERLINK(\"x\")", **{c: 0 for c in channel_stats.COLUMNS}}]}
    assert "'=HYPERLINK" in channel_stats.to_csv(stats, by="employee")


def test_editing_members_keeps_those_who_stay(corp, fake_host):
    channel = channels.create_channel(corp, spec(corp))
    channels.update_channel(corp, channel.id, {"members": [{"employee_id": emp(corp, "li"), "weight": 3},
                                                           {"employee_id": emp(corp, "zhang"), "daily_cap": 9},
                                                           {"employee_id": emp(corp, "wang"), "backup": True}]})
    db.session.expire_all()
    members = [(m.employee_id, m.weight, m.daily_cap, m.is_backup, m.position)
               for m in db.session.get(Channel, channel.id).members]
    assert members == [(emp(corp, "li"), 3, None, False, 0), (emp(corp, "zhang"), 1, 9, False, 1),
                       (emp(corp, "wang"), 1, None, True, 2)]
    assert fake_host.called("update_channel_code")[-1]["spec"].user_ids == ["li", "zhang"]


def test_rules_apply_when_a_sync_recorded_the_relationship_first(corp, fake_host):
    """A full sync running beside a campaign may store the new friendship before its add event is handled."""
    from scrm.services import sync

    channel = welcome_channel(corp)
    fake_host.add_friend("zhang", "wm1", state=channel.state)
    sync.run_sync(sync.start(corp, "customers").id, host=fake_host)
    rel = db.session.scalar(select(Relationship))
    assert rel.channel_id == channel.id and count(RelationshipTag) == 0
    ingest(corp, wx.added("zhang", "wm1", state=channel.state))
    assert sorted(fake_host.called("mark_tags")[0]["add"]) == ["t-poster", "t-vip"]
    assert count(RelationshipTag, RelationshipTag.relationship_id == rel.id) == 2
    assert db.session.get(Relationship, rel.id).remark.startswith("春季海报-")


class Killed(BaseException):
    """The worker dies: no except clause of ours sees it."""


def killed_in(corp, fake_host, method: str, **channel) -> int:
    """An add with a welcome code, processed until the host call `method`, where its worker dies; the row's id."""
    from scrm.services import inbox, processing

    created = welcome_channel(corp, **channel)
    fake_host.add_friend("zhang", "wm1", state=created.state)
    fake_host.fail_next[method] = Killed()
    row_id, _ = inbox.store(corp, platforms().parse("wecom", wx.added("zhang", "wm1", state=created.state,
                                                                      welcome_code="CODE1")), handled=True)
    with pytest.raises(Killed):
        processing.process(row_id)
    db.session.rollback()
    return row_id


def test_a_worker_killed_mid_welcome_is_taken_over_while_the_code_lives(corp, fake_host, app):
    """The lease on an add is seconds long until its welcome is recorded (the code lives 20 s), then the usual."""
    from scrm.models import InboxEvent
    from scrm.services import inbox, processing

    row_id = killed_in(corp, fake_host, "send_welcome")
    row = db.session.get(InboxEvent, row_id)
    short = timedelta(seconds=app.config["INBOX_WELCOME_LEASE_SECONDS"])
    assert row.status == "processing" and row.locked_until <= utcnow() + short
    assert inbox.due_for_sweep(now=utcnow() + short + timedelta(seconds=1)) == [row_id]
    with unit_of_work():
        db.session.get(InboxEvent, row_id).locked_until = utcnow() - timedelta(seconds=1)
    assert processing.process(row_id).status == "done"
    assert db.session.scalar(select(WelcomeDelivery.status)) == "sent"


def test_once_the_welcome_is_recorded_the_add_keeps_the_usual_lease(corp, fake_host, app):
    from scrm.models import InboxEvent

    # after the welcome (whose text needs no name lookup), in the slower work
    row = db.session.get(InboxEvent, killed_in(corp, fake_host, "get_customer", welcome={"text": "欢迎！"}))
    assert row.locked_until >= utcnow() + timedelta(seconds=app.config["INBOX_LEASE_SECONDS"] - 5)


def test_a_member_who_leaves_is_taken_off_every_contact_way_at_once(corp, fake_host):
    """After `delete_user` the contact way no longer lists them (no customers, no welcomes in their name); a channel
    left with nobody to receive its customers is paused rather than keep routing them to the departed."""
    pool = channels.create_channel(corp, spec(corp))
    solo = channels.create_channel(corp, spec(corp, name="张三专属", members=[{"employee_id": emp(corp, "zhang")}]))
    elsewhere = channels.create_channel(corp, spec(corp, name="王五", members=[{"employee_id": emp(corp, "wang")}]))
    solo_way = solo.config_id
    fake_host.calls.clear()
    ingest(corp, wx.user("delete_user", "zhang"))
    assert [c["spec"].user_ids for c in fake_host.called("update_channel_code")] == [["li"]]
    assert fake_host.called("delete_channel_code") == [{"config_id": solo_way}]
    db.session.expire_all()
    assert db.session.get(Channel, pool.id).listed_user_ids == ["li"]
    assert (db.session.get(Channel, solo.id).status, db.session.get(Channel, elsewhere.id).status) == (
        "paused", "active")
    assert channels.pick_employee(corp, db.session.get(Channel, pool.id)).host_id == "li"


def test_a_starting_worker_sends_the_welcomes_a_killed_worker_held_while_their_codes_live(corp, fake_host):
    """The broker gives back what a killed worker held only after its visibility timeout: a worker that starts
    sends the welcomes of adds published before it started, in their window, with no welcome recorded; adds with
    a welcome recorded, past the window, or published since wait as usual (a backlog is not a loss)."""
    from scrm.models import InboxEvent
    from scrm.services import inbox
    from tasks.events import recover_welcomes

    channel = welcome_channel(corp)
    rows = {}
    for name in ("lost", "welcomed", "late", "queued"):
        fake_host.add_friend("zhang", f"wm-{name}", state=channel.state)
        rows[name], _ = inbox.store(corp, platforms().parse("wecom", wx.added(
            "zhang", f"wm-{name}", state=channel.state, welcome_code=f"C-{name}")), handled=True)
    started = utcnow() - timedelta(seconds=2)
    with unit_of_work():
        for name, received, published in (("lost", 6, 5), ("welcomed", 6, 5), ("late", 25, 24), ("queued", 1, 1)):
            row = db.session.get(InboxEvent, rows[name])
            row.received_at = utcnow() - timedelta(seconds=received)
            row.enqueued_at = utcnow() - timedelta(seconds=published)
        db.session.add(WelcomeDelivery(corp_id=corp.id, inbox_id=rows["welcomed"], status="sent",
                                       employee_host_id="zhang", customer_host_id="wm-welcomed",
                                       received_at=utcnow()))
    assert inbox.welcomes_owed(started) == [rows["lost"]]
    assert recover_welcomes(started.isoformat()) == 1
    assert [c["welcome_code"] for c in fake_host.called("send_welcome")] == ["C-lost"]
    assert db.session.scalar(select(WelcomeDelivery.status).where(WelcomeDelivery.inbox_id == rows["lost"])) == "sent"


def test_every_worker_start_asks_for_the_recovery(app, monkeypatch):
    from types import SimpleNamespace

    from tasks import events

    published = []
    task = app.extensions["celery"].tasks[events.recover_welcomes.name]
    monkeypatch.setattr(task, "apply_async", lambda **kw: published.append(kw))
    events._worker_ready(sender=SimpleNamespace(app=app.extensions["celery"]))
    assert len(published) == 1 and published[0]["args"][0] <= utcnow().isoformat()
