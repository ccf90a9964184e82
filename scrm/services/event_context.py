"""The context a handler of a host event runs in: which inbox row and corp it serves, and the slower work it leaves
for later. Processing makes one per row; a sync that applies the same changes makes one without a row."""
from __future__ import annotations

from dataclasses import dataclass, field

from scrm.services import followups


@dataclass
class EventContext:
    """What a handler knows about the row it serves: keys derived from it make its writes idempotent. Slower work
    a handler asks for with `then(kind, *args)` is stored as a follow-up in the handler's own transaction, and its
    task starts once that commits, so it retries at its own pace (the host's edit limits) without holding up the
    queue, and a crash at any instant loses none of it."""

    inbox_id: int | None
    corp_id: int
    followups: list[int] = field(default_factory=list)  # ids of the follow-ups stored, to start after the commit

    def key(self, kind: str, *parts) -> str | None:
        if self.inbox_id is None:
            return None
        return ":".join(["inbox", str(self.inbox_id), kind, *map(str, parts)])

    def then(self, kind: str, *args) -> None:
        self.followups.append(followups.add(self.corp_id, kind, *args, inbox_id=self.inbox_id).id)
