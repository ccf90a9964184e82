"""Handing customers and group chats over from one employee to others: departed (离职继承) and on-job (在职继承).

planning: who still has customers to hand over, and the plan (who gets whom); execution: start and advance a
handover against the host; ledger: each line's state machine and the local records that move with it; carry:
the taker's remark and tags on the host; rules: the corp's rule (to the manager after N hours); beat: the
periodic round; reading: handovers as shown."""
from scrm.services.handovers.beat import poll
from scrm.services.handovers.carry import carry_over
from scrm.services.handovers.execution import RUN, advance, run, start
from scrm.services.handovers.ledger import CARRY_OVER, COMPLETED
from scrm.services.handovers.planning import Spec, create, unassigned
from scrm.services.handovers.reading import list_handovers, show, steps

__all__ = ["RUN", "CARRY_OVER", "COMPLETED", "Spec", "advance", "carry_over", "create", "list_handovers", "poll",
           "run", "show", "start", "steps", "unassigned"]
