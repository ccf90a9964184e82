"""Prometheus metrics. Counters live in each process (multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set);
inbox gauges are read from the database at scrape time, so they are exact whichever process did the work."""
from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

CALLBACKS_RECEIVED = Counter("scrm_callbacks_received_total", "Host callbacks received", ["platform"])
CALLBACKS_REJECTED = Counter("scrm_callbacks_rejected_total", "Host callbacks rejected", ["platform", "reason"])
CALLBACKS_DUPLICATE = Counter("scrm_callbacks_duplicate_total", "Host callbacks already stored", ["platform"])
EVENTS_PROCESSED = Counter("scrm_events_processed_total", "Inbox rows finished", ["platform", "outcome"])
EVENT_LATENCY = Histogram("scrm_event_receipt_to_processed_seconds", "From callback receipt to processed",
                          ["platform"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300))
RECONCILE_FIXES = Counter("scrm_reconcile_fixes_total", "Drift repaired by reconcile", ["kind"])
WELCOMES = Counter("scrm_welcome_messages_total", "Welcome messages by outcome", ["outcome"])
FOLLOWUPS = Counter("scrm_followups_total", "Follow-up work by kind and outcome", ["kind", "outcome"])
WELCOME_LATENCY = Histogram("scrm_welcome_receipt_to_sent_seconds", "From the add's callback receipt to the welcome "
                            "sent (the host accepts it for 20 s)", buckets=(0.25, 0.5, 1, 2, 3, 5, 8, 12, 16, 20, 30))


class InboxCollector:
    """Inbox rows and follow-ups by status (and dead ones), counted in the database when scraped."""

    def __init__(self, count_by_status, count_followups):
        self._count = count_by_status
        self._count_followups = count_followups

    def collect(self):
        for name, what, counts in (("inbox", "Inbox rows", self._count()),
                                   ("followup", "Follow-ups", self._count_followups())):
            rows = GaugeMetricFamily(f"scrm_{name}_rows", f"{what} by status", labels=["status"])
            for status, n in sorted(counts.items()):
                rows.add_metric([status], n)
            yield rows
            yield GaugeMetricFamily(f"scrm_{name}_dead_rows", f"{what} that exhausted their attempts",
                                    value=counts.get("dead", 0))


def render(count_by_status, count_followups) -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    output = generate_latest(registry)
    inbox = CollectorRegistry()
    inbox.register(InboxCollector(count_by_status, count_followups))
    return output + generate_latest(inbox)
