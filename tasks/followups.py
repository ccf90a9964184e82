"""Follow-up work on the urgent queue: each stored follow-up runs as one task; the sweeper publishes what a lost
task, a failed publish or a retry left due."""
from __future__ import annotations

import logging

from celery import shared_task

from scrm.services import channels, departures, followups, handovers, landing, org

log = logging.getLogger(__name__)

#: What each kind of follow-up does: a function of the service that owns it.
WORK = {
    channels.AFTER_ADD_TASK: channels.after_add,  # a channel's tags, remark, one-time code, contact way list
    landing.NOTIFY_TASK: landing.notify_employee,  # tell an employee about a customer from a landing page
    org.DEPARTED: departures.employee_departed,  # a member left: out of every channel at once, customers pooled
    handovers.RUN: handovers.run,  # a started handover advanced as far as the host allows (bulk queue)
    handovers.CARRY_OVER: handovers.carry_over,  # a taker's remark and tags on the host
}


@shared_task(name=followups.RUN_TASK)
def run(followup_id: int) -> str:
    """Do one follow-up; a transient failure schedules its next try (past the host's block, if any)."""
    outcome = followups.run(followup_id, WORK)
    if outcome.retry_in is not None:
        followups.start([followup_id], countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="scrm.followups.sweep")
def sweep() -> int:
    """Publish follow-ups that are due and have no live task."""
    due = followups.due_for_sweep()
    if due:
        log.info("sweep: starting %d follow-up(s) again: %s", len(due), due[:20])
    followups.start(due)
    return len(due)
