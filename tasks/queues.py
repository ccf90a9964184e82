"""The queues tasks run on, and the priorities they are published at."""
from __future__ import annotations

URGENT = "urgent"  # callbacks, welcome messages, channel rules
BULK = "bulk"  # syncs, reconciles, campaigns
ROUTES = {"scrm.events.*": {"queue": URGENT}, "scrm.channels.*": {"queue": URGENT},
          "scrm.followups.*": {"queue": URGENT}, "scrm.sync.*": {"queue": BULK},
          "scrm.handovers.*": {"queue": BULK}}

#: Tasks go out at priority 5; time-critical ones (welcome messages) at the top of the broker's scale, which runs
#: the other way round on Redis (0 first) than on AMQP (9 first).
DEFAULT_PRIORITY = 5
HIGH_PRIORITY = {"redis": 0, "rediss": 0, "amqp": 9, "pyamqp": 9}


def high_priority(broker_url: str | None) -> int:
    """The priority that goes ahead of every other task on this broker."""
    return HIGH_PRIORITY.get((broker_url or "").split(":", 1)[0], 0)
