"""Channel codes (渠道活码): their life on the host and here (lifecycle), the checks and allocation rules their
input and customers follow (rules), the host's contact way and its list (contact_way), and what follows an add
through a channel (after_add), and what a member's departure changes (departures).

A host write never runs inside a unit of work that holds row locks or could still fail to commit after the host
has changed: rows are read, the host is called, and what it did is recorded in a short unit afterwards.
"""
from scrm.services.channels.after_add import (AFTER_ADD_TASK, after_add, needs_rebalance, on_channel_customer_added,
                                              record_rules, rules_for, use_up_code)
from scrm.services.channels.contact_way import rebalance, sweep
from scrm.services.channels.departures import employee_left
from scrm.services.channels.lifecycle import (by_code, create_channel, delete_channel, get_channel, list_channels,
                                              pause_channel, resume_channel, update_channel)
from scrm.services.channels.rules import (ALLOCATIONS, MAX_MEMBERS, MAX_REMARK, WELCOME_MODES, counts_today,
                                          local_now, pick_employee, remark_for, seats)

__all__ = [
    "AFTER_ADD_TASK", "after_add", "needs_rebalance", "on_channel_customer_added", "record_rules", "rules_for",
    "use_up_code",
    "rebalance", "sweep", "employee_left",
    "by_code", "create_channel", "delete_channel", "get_channel", "list_channels", "pause_channel", "resume_channel",
    "update_channel",
    "ALLOCATIONS", "MAX_MEMBERS", "MAX_REMARK", "WELCOME_MODES", "counts_today", "local_now", "pick_employee",
    "remark_for", "seats",
]
