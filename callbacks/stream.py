"""DingTalk Stream mode: a WebSocket client (no public URL needed) that feeds the same inbox pipeline.

The SDK reconnects on its own (1 to 60 s backoff); its ack cache is not durable, so dedupe stays on `eventId` in
the inbox. An event is acknowledged OK only once its row is committed.
"""
from __future__ import annotations

import asyncio
import logging

import dingtalk_stream
from dingtalk_stream import AckMessage
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from callbacks.ingest import NotStored, ingest
from scrm.host import CallbackError, platforms
from scrm.services.corps import get_corp

log = logging.getLogger(__name__)


class InboxEventHandler(dingtalk_stream.EventHandler):
    """Every subscribed event goes to the inbox of one corp."""

    def __init__(self, app: Flask, corp_key: str):
        super().__init__()
        self.app = app
        self.corp_key = corp_key

    async def process(self, event):
        # database work blocks: keep it off the SDK's event loop, which also answers keepalives
        return await asyncio.to_thread(self.store, event)

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
                return AckMessage.STATUS_SYSTEM_EXCEPTION, "not stored"
        return AckMessage.STATUS_OK, "OK"


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
