"""Channel codes on the urgent queue: beat's minute sweep (expiry, working hours), and telling an employee about a
new customer from a landing page."""
from __future__ import annotations

from celery import shared_task

from scrm.extensions import db
from scrm.models import Corp
from scrm.services import channels
from scrm.services.corps import host_for


@shared_task(name="scrm.channels.sweep")
def sweep() -> dict:
    """Expire channels past their time and keep each contact way's user list current."""
    return channels.sweep()


@shared_task(name="scrm.channels.notify", autoretry_for=(Exception,), max_retries=5, retry_backoff=True)
def notify(corp_id: int, employee_host_id: str, text: str) -> None:
    """Send an employee a work notification (a customer was added to them through a channel)."""
    host_for(db.session.get(Corp, corp_id)).send_app_message([employee_host_id], text)
