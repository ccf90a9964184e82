"""DingTalk Stream mode: a WebSocket client (no public URL needed) that feeds the same inbox pipeline.

The SDK reconnects on its own (1 to 60 s backoff); its ack cache is not durable, so dedupe stays on `eventId` in
the inbox. An event is acknowledged SUCCESS only once its row is committed; one that could not be stored is
answered LATER, DingTalk's way to ask for redelivery (EventAckStatus.LATER of its Java and Node SDKs). The Python SDK
has no such status (its ack echoes the event's data), so `raw_process` frames the ack as the Node SDK does:
code 200, data {"status": "SUCCESS" | "LATER", "message"}.
"""
from __future__ import annotations

import asyncio
import logging

import dingtalk_stream
from dingtalk_stream import AckMessage
from dingtalk_stream.frames import Headers
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from callbacks.ingest import NotStored, ingest
from scrm.host import CallbackError, platforms
from scrm.services.corps import get_corp

log = logging.getLogger(__name__)
SUCCESS, LATER = "SUCCESS", "LATER"  # EventAckStatus
NOT_STORED = AckMessage.STATUS_SYSTEM_EXCEPTION  # what store() answers for an event to be delivered again


class InboxEventHandler(dingtalk_stream.EventHandler):
    """Every subscribed event goes to the inbox of one corp."""

    def __init__(self, app: Flask, corp_key: str):
        super().__init__()
        self.app = app
        self.corp_key = corp_key

    async def process(self, event):
        # database work blocks: keep it off the SDK's event loop, which also answers keepalives
        return await asyncio.to_thread(self.store, event)

    async def raw_process(self, event_message) -> AckMessage:
        code, message = await self.process(event_message)
        return ack_for(event_message, code, message)

    def store(self, event) -> tuple[int, str]:
        headers = event.headers
        with self.app.app_context():
            try:
                corp = get_corp(self.corp_key)
                parse = platforms(self.app).get("dingtalk").parse_stream
                parsed = parse(headers.event_type, headers.event_id, event.data, headers.event_born_time)
                ingest(corp, parsed)
            except CallbackError as exc:
                log.warning("stream event %s refused: %s", headers.event_id, exc)
                return AckMessage.STATUS_BAD_REQUEST, exc.reason
            except (NotStored, SQLAlchemyError) as exc:
                log.error("stream event %s not stored (database: %s); asking for redelivery", headers.event_id, exc)
                return NOT_STORED, "not stored"
        return AckMessage.STATUS_OK, "OK"


def ack_for(event, code: int, message: str) -> AckMessage:
    """The ack frame of an event: stored → SUCCESS, not stored → LATER (redeliver), refused → the error code."""
    ack = AckMessage()
    ack.headers.message_id = event.headers.message_id
    ack.headers.content_type = Headers.CONTENT_TYPE_APPLICATION_JSON
    ack.message = message
    if code == NOT_STORED:
        ack.code, ack.data = AckMessage.STATUS_OK, {"status": LATER, "message": message}
    elif code == AckMessage.STATUS_OK:
        ack.code, ack.data = code, {"status": SUCCESS, "message": message}
    else:
        ack.code, ack.data = code, {"message": message}
    return ack


def run(app: Flask, corp_key: str) -> None:
    """Connect with the corp's app credentials and process events until stopped."""
    with app.app_context():
        corp = get_corp(corp_key)
        if corp.platform != "dingtalk":
            raise ValueError(f"corp {corp_key} is not a DingTalk corp")
        credential = dingtalk_stream.Credential(corp.app_key, corp.secret)
    client = dingtalk_stream.DingTalkStreamClient(credential)
    client.register_all_event_handler(InboxEventHandler(app, corp_key))
    client.start_forever()
