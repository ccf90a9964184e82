"""The sandbox's signed, encrypted WeCom callbacks, verified, decrypted and parsed by this connector."""
from __future__ import annotations

import pytest

from connectors.wecom.crypto import WeComCrypto
from connectors.wecom.events import parse
from scrm.events import (CustomerAdded, CustomerEdited, CustomerRemovedByCustomer, CustomerRemovedByEmployee,
                         EmployeeChanged, GroupChatChanged, TagChanged)
from scrm.host import BadSignature, WrongReceiver


@pytest.fixture
def corp(sandbox, callback_receiver):
    corp = sandbox.create_corp("wecom", callback_url=callback_receiver.url)
    sandbox.seed(corp, employees=5, customers=20, rng=3)
    return corp


def received(sandbox, corp, callback_receiver, scenario, /, count=1, **params):
    before = len(callback_receiver.received)
    result = sandbox.play(corp, scenario, wait=True, **params)
    assert result["delivered"] == result["callbacks"] == count
    return result["result"], callback_receiver.wait_for(before + count)[before:]


def open_callback(corp, request):
    crypto = WeComCrypto(corp.callback_token, corp.callback_aes_key, corp.corp_id)
    args = request.args
    return parse(crypto.decrypt_body(request.body, args["msg_signature"], args["timestamp"], args["nonce"]))


def test_customer_events_round_trip(sandbox, corp, callback_receiver):
    result, (request,) = received(sandbox, corp, callback_receiver, "scan", customers=1, codes=1, over=0)
    parsed = open_callback(corp, request)
    assert isinstance(parsed.event, CustomerAdded) and parsed.event.welcome_code
    assert parsed.event.state and parsed.event_type == "change_external_contact/add_external_contact"
    customer = parsed.event.customer_id
    employee = parsed.event.employee_id

    _, (edit,) = received(sandbox, corp, callback_receiver, "employee_edits_customer", userid=employee,
                          external_userid=customer)
    event = open_callback(corp, edit).event
    assert isinstance(event, CustomerEdited) and (event.employee_id, event.customer_id) == (employee, customer)
    _, (gone,) = received(sandbox, corp, callback_receiver, "customer_deletes_employee", userid=employee,
                          external_userid=customer)
    event = open_callback(corp, gone).event
    assert isinstance(event, CustomerRemovedByCustomer) and event.customer_id == customer

    _, (dropped,) = received(sandbox, corp, callback_receiver, "employee_deletes_customer")
    assert isinstance(open_callback(corp, dropped).event, CustomerRemovedByEmployee)


def test_contact_tag_and_chat_events_round_trip(sandbox, corp, callback_receiver):
    joined, (request,) = received(sandbox, corp, callback_receiver, "join", name="新同事")
    event = open_callback(corp, request).event
    assert isinstance(event, EmployeeChanged) and (event.change, event.user_ids) == ("created", (joined["userid"],))
    assert event.details["Name"] == "新同事"

    left, (request,) = received(sandbox, corp, callback_receiver, "leave", userid=joined["userid"])
    assert open_callback(corp, request).event.change == "departed"

    tag, (request,) = received(sandbox, corp, callback_receiver, "tag_edit", change="create", name="直播")
    event = open_callback(corp, request).event
    assert event == TagChanged(change="create", tag_id=tag["tag_id"], kind="tag", occurred_at=event.occurred_at)

    chat, (request,) = received(sandbox, corp, callback_receiver, "group_chat", change="create")
    created = open_callback(corp, request)
    _, (request,) = received(sandbox, corp, callback_receiver, "group_chat", change="update",
                             chat_id=chat["chat_id"], members=2)
    updated = open_callback(corp, request)
    assert isinstance(updated.event, GroupChatChanged)
    assert (updated.event.chat_id, updated.event.detail, updated.event.join_scene) == (chat["chat_id"], "add_member", 3)
    assert len(updated.event.member_ids) == 2 and updated.dedupe_key != created.dedupe_key


def test_a_resent_callback_keeps_its_dedupe_key(sandbox, corp, callback_receiver):
    callback_receiver.statuses = [500]
    received(sandbox, corp, callback_receiver, "join")
    first, retry = callback_receiver.wait_for(2)[-2:]
    assert first.args["nonce"] != retry.args["nonce"] or first.body != retry.body
    assert open_callback(corp, first).dedupe_key == open_callback(corp, retry).dedupe_key


def test_callbacks_for_another_corp_or_with_a_bad_signature_are_refused(sandbox, corp, callback_receiver):
    _, (request,) = received(sandbox, corp, callback_receiver, "join")
    other = WeComCrypto(corp.callback_token, corp.callback_aes_key, "wwsomeoneelse")
    with pytest.raises(WrongReceiver):
        other.decrypt_body(request.body, request.args["msg_signature"], request.args["timestamp"],
                           request.args["nonce"])
    mine = WeComCrypto(corp.callback_token, corp.callback_aes_key, corp.corp_id)
    with pytest.raises(BadSignature):
        mine.decrypt_body(request.body, request.args["msg_signature"], request.args["timestamp"], "0")


def test_a_settled_transfer_calls_back_like_the_host(sandbox, corp, callback_receiver, runtime):
    """Doc 96325: the takeover member's add_external_contact, the handover member's del_external_contact with Source
    DELETE_BY_TRANSFER; no add when the customer comes back to a member they were transferred away from."""
    from connectors.wecom.platform import platform
    from tests.connectors.wecom.test_host import access_for

    sandbox.control.update_corp(corp.corp_id, token_ttl=400 * 86400)
    host = platform(runtime).host(access_for(sandbox, corp))
    staff = [e.user_id for e in host.list_employees()]
    handover = next(e for e in staff if host.list_customer_ids(e))
    takeover = next(e for e in staff if e != handover)
    customer = next(c for c in host.list_customer_ids(handover) if c not in host.list_customer_ids(takeover))
    assert [o.errcode for o in host.transfer_customers(handover, takeover, [customer], departed=False)] == [0]
    before = len(callback_receiver.received)
    sandbox.clock.advance(86400)
    assert host.transfer_results(handover, takeover, departed=False).items[0].status == 1  # settles the takeover
    added, removed = (open_callback(corp, r) for r in callback_receiver.wait_for(before + 2)[before:])
    assert isinstance(added.event, CustomerAdded) and not added.event.welcome_code
    assert (added.event.employee_id, added.event.customer_id) == (takeover, customer)
    assert isinstance(removed.event, CustomerRemovedByEmployee) and removed.event.source == "DELETE_BY_TRANSFER"
    assert (removed.event.employee_id, removed.event.customer_id) == (handover, customer)
    assert len(callback_receiver.received) == before + 2

    # back to the member it was transferred away from: only the deletion is called back
    host.transfer_customers(takeover, handover, [customer], departed=False)
    sandbox.clock.advance(86400)
    host.transfer_results(takeover, handover, departed=False)
    (back,) = callback_receiver.wait_for(before + 3)[before + 2:]
    event = open_callback(corp, back).event
    assert isinstance(event, CustomerRemovedByEmployee) and event.employee_id == takeover
