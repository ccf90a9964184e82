"""A WeCom channel code end to end in the embedded default: the contact way on the sandbox, a customer scanning it,
the signed callback, tags and remark on the host, the welcome sent with its image, and stats that the host's
retries do not inflate."""
import io

from PIL import Image
from sqlalchemy import func, select

from sandbox.wecom.models import ContactWay, Follow, Tag as SandboxTag, WelcomeCode
from scrm.extensions import db
from scrm.models import Channel, Corp, Employee, InboxEvent, Relationship, Tag, TimelineEntry, WelcomeDelivery
from scrm.services import channel_qr, channel_stats, channels, media, sync
from scrm.services.channel_assets import decode_qr
from tests.e2e.test_embedded import embedded  # noqa: F401  (product + sandbox on one live server)


def _sandbox(app):
    return app.extensions["scrm.sandbox"].extensions["sandbox"].db


def _connected(app):
    from scrm.embedded import connect_sandbox_corp

    info = connect_sandbox_corp(app, "wecom", employees=4, customers=0)
    corp = db.session.scalar(select(Corp).where(Corp.corp_key == info["corp_key"]))
    run = sync.start(corp)
    sync.run_sync(run.id)
    return corp, info


def _image() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (120, 80), "orange").save(buf, "PNG")
    return buf.getvalue()


def test_a_scan_is_tagged_remarked_welcomed_and_counted_once(embedded):
    corp, info = _connected(embedded)
    control = embedded.extensions["scrm.sandbox"].extensions["sandbox_control"]
    staff = list(db.session.scalars(select(Employee).where(Employee.corp_id == corp.id).order_by(Employee.id)))[:2]
    tag_ids = list(db.session.scalars(select(Tag.id).where(Tag.corp_id == corp.id).order_by(Tag.id).limit(2)))
    banner = media.save_image(corp, "banner.png", _image())
    channel = channels.create_channel(corp, {
        "name": "地铁海报", "members": [{"employee_id": e.id} for e in staff], "tags": tag_ids,
        "remark_template": "{channel}{date}",
        "welcome": {"text": "{customer_name}，您好！我是{employee_name}。",
                    "attachments": [{"type": "image", "media_id": banner.id}]}})
    sbx = _sandbox(embedded)
    with sbx.session() as s:
        way = s.get(ContactWay, channel.config_id)
        assert (way.state, sorted(way.users), way.type) == (channel.state, sorted(e.host_id for e in staff), 2)

    played = control.play(info["corp_id"], "scan_one", config_id=channel.config_id, name="小红🌸", wait=True)
    scan = played["result"]
    db.session.expire_all()
    with sbx.session() as s:
        code = s.get(WelcomeCode, scan["welcome_code"])
        follow = s.scalar(select(Follow).where(Follow.external_userid == scan["external_userid"]))
        wanted = set(s.scalars(select(SandboxTag.tag_id).where(SandboxTag.tag_id.in_(
            [db.session.get(Tag, t).host_id for t in tag_ids]))))
    assert code.used and code.message["text"]["content"].startswith("小红🌸，您好！我是")
    assert code.message["attachments"][0]["msgtype"] == "image"
    assert set(follow.tag_ids) >= wanted and follow.remark.startswith("地铁海报")
    rel = db.session.scalar(select(Relationship))
    assert rel.channel_id == channel.id and rel.remark == follow.remark
    delivery = db.session.scalar(select(WelcomeDelivery))
    assert delivery.status == "sent" and (delivery.sent_at - delivery.received_at).total_seconds() < 20

    # the host delivers the same callback twice more (its retries): nothing is counted again
    row = db.session.scalar(select(InboxEvent).where(InboxEvent.event_type.like("%add_external_contact")))
    from connectors.wecom.crypto import WeComCrypto

    sbx_corp = control.corp(info["corp_id"])
    crypto = WeComCrypto(sbx_corp.callback_token, sbx_corp.callback_aes_key, sbx_corp.corp_id)
    client = embedded.test_client()
    for n in range(2):
        body, sig = crypto.signed_envelope(row.payload, f"nonce{n}", "1700000000", agent_id=sbx_corp.agent_id)
        answer = client.post(f"/callbacks/wecom/{corp.corp_key}", data=body,
                             query_string={"msg_signature": sig, "timestamp": "1700000000", "nonce": f"nonce{n}"})
        assert answer.status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(InboxEvent)) == 1
    assert db.session.scalar(select(func.count()).select_from(TimelineEntry).where(
        TimelineEntry.kind == "added", TimelineEntry.channel_id == channel.id)) == 1
    today = channels.local_now(corp).date()
    assert channel_stats.channel_stats(corp, channel.id, today, today)["total"]["new"] == 1


def test_the_hosts_qr_code_is_served_and_decodes_to_the_scan_page(embedded):
    corp, _ = _connected(embedded)
    staff = db.session.scalar(select(Employee).where(Employee.corp_id == corp.id))
    channel = channels.create_channel(corp, {"name": "门店", "members": [{"employee_id": staff.id}]})
    image = channel_qr.png(corp, channel)
    target = decode_qr(image)
    assert target and target.endswith(f"/c/{channel.config_id}")
    assert decode_qr(channel_qr.poster(corp, channel, text="扫码添加店长")) == target
    assert db.session.get(Channel, channel.id).qr_content == target


def test_a_temporary_code_expires_on_the_host(embedded):
    corp, info = _connected(embedded)
    control = embedded.extensions["scrm.sandbox"].extensions["sandbox_control"]
    staff = db.session.scalar(select(Employee).where(Employee.corp_id == corp.id))
    channel = channels.create_channel(corp, {"name": "一次性", "members": [{"employee_id": staff.id}],
                                             "temporary": True})
    config_id = channel.config_id
    with _sandbox(embedded).session() as s:
        assert s.get(ContactWay, config_id).is_temp
    control.play(info["corp_id"], "scan_one", config_id=config_id, wait=True)
    db.session.expire_all()
    assert db.session.get(Channel, channel.id).status == "used"
    with _sandbox(embedded).session() as s:
        assert s.get(ContactWay, config_id) is None  # deleted on the host: nobody else can use it


def test_the_wecom_landing_pages_qr_code_sits_centred_under_its_text(embedded):
    from tests.e2e.test_landing import CHROMIUM, CHROMIUM_FLAGS, SHOTS, SIZES, WEUI, _need

    _need(CHROMIUM, "install Debian's chromium (`make setup` does)")
    _need(WEUI, "`make setup` copies WeUI from node_modules (npm ci)")
    from playwright.sync_api import sync_playwright

    corp, _ = _connected(embedded)
    staff = db.session.scalar(select(Employee).where(Employee.corp_id == corp.id))
    channel = channels.create_channel(corp, {"name": "门店海报", "members": [{"employee_id": staff.id}]})
    assert channel.qr_url  # a host contact way: the page shows its QR code
    url = f"{embedded.config['BASE_URL']}/h5/c/{channel.code}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            for name, viewport, mobile in SIZES:
                page = browser.new_page(viewport=viewport, is_mobile=mobile, locale="zh-CN")
                page.goto(url)
                page.wait_for_function("document.getElementById('channel-qr').complete")
                page.screenshot(path=SHOTS / f"landing-qr-{name}.png", full_page=True)
                qr = page.locator("#channel-qr").bounding_box()
                title = page.locator(".weui-msg__title").bounding_box()
                assert qr["width"] > 100 and qr["x"] + qr["width"] <= viewport["width"]
                assert abs((qr["x"] + qr["width"] / 2) - (title["x"] + title["width"] / 2)) <= 2, (name, qr, title)
                assert page.locator("#channel-qr").evaluate("el => el.naturalWidth") > 0  # the image loaded
                page.close()
        finally:
            browser.close()
