"""The context a handler of a host event runs in: which inbox row it serves, and the slower work it leaves for
later. Processing makes one per row; a sync that applies the same changes makes one without a row."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EventContext:
    """What a handler knows about the row it serves: keys derived from it make its writes idempotent. Slower work
    a handler asks for with `then(task, *args)` becomes tasks of their own once its writes are committed, so it
    retries at its own pace (the host's edit limits) without holding up the queue."""

    inbox_id: int | None
    followups: list[tuple[str, tuple]] = field(default_factory=list)

    def key(self, kind: str, *parts) -> str | None:
        if self.inbox_id is None:
            return None
        return ":".join(["inbox", str(self.inbox_id), kind, *map(str, parts)])

    def then(self, task: str, *args) -> None:
        self.followups.append((task, args))
