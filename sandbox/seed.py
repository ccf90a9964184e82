"""Build a believable organisation in a sandbox corp of either platform (bulk inserts: 100,000 customers in minutes)."""
from __future__ import annotations

import random
from typing import Any

from sandbox.core import Corp, SandboxDB
from sandbox.dingtalk import seed as dingtalk_seed
from sandbox.wecom import seed as wecom_seed


def seed(db: SandboxDB, corp: Corp, employees: int = 20, customers: int = 300,
         rng: random.Random | int | None = None, **params: Any) -> dict[str, int]:
    """Add departments, employees, tags or labels, customers and group chats; `rng` (or a seed) makes it repeatable."""
    if not isinstance(rng, random.Random):
        rng = random.Random(rng)
    half = wecom_seed if corp.platform == "wecom" else dingtalk_seed
    return half.seed(db, corp, employees=employees, customers=customers, rng=rng, **params)
