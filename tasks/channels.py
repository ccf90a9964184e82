"""Channel codes on the urgent queue: the rules applied after an add, beat's minute sweep (expiry, working hours),
and telling an employee about a new customer from a landing page."""
from __future__ import annotations

from celery import shared_task
from sqlalchemy.exc import IntegrityError, OperationalError

from scrm.host import HostRateLimited, HostUnavailable
from scrm.services import channels, landing

#: The host lets 5 tag or remark edits run at once per corp: an add waiting for a slot tries again later, freeing
#: its worker for welcomes meanwhile (a campaign burst can keep the slots busy for minutes). A sync or a salesperson
#: writing the same relationship's tags at that moment (a duplicate row, a deadlock) is worth another try as well.
EDIT_RETRY = dict(autoretry_for=(HostRateLimited, HostUnavailable, IntegrityError, OperationalError), retry_backoff=2,
                  retry_backoff_max=30, retry_jitter=True, max_retries=25)


@shared_task(name=channels.AFTER_ADD_TASK, **EDIT_RETRY)
def after_add(relationship_id: int) -> None:
    """Apply a channel's rules to a customer it brought: tags, remark, one-time code, contact way list."""
    channels.after_add(relationship_id)


@shared_task(name="scrm.channels.sweep")
def sweep() -> dict:
    """Expire channels past their time and keep each contact way's user list current."""
    return channels.sweep()


@shared_task(name=landing.NOTIFY_TASK, autoretry_for=(HostRateLimited, HostUnavailable), max_retries=5,
             retry_backoff=True)
def notify(corp_id: int, employee_host_id: str, text: str) -> None:
    """Send an employee a work notification (a customer was added to them through a channel)."""
    landing.notify_employee(corp_id, employee_host_id, text)
