"""Channel codes on the urgent queue: beat's minute sweep (expiry, working hours). The rules applied after an add
and the notifications of landing pages are follow-ups (tasks.followups)."""
from __future__ import annotations

from celery import shared_task

from scrm.services import channels


@shared_task(name="scrm.channels.sweep")
def sweep() -> dict:
    """Expire channels past their time and keep each contact way's user list current."""
    return channels.sweep()
