"""Play an action or scenario on a sandbox corp of either platform: the half of the corp's platform runs it."""
from __future__ import annotations

from typing import Any, Callable

from sandbox.core import Corp
from sandbox.dingtalk import actions as dingtalk_actions
from sandbox.state import Sandbox
from sandbox.wecom import actions as wecom_actions

#: the actions and scenarios each platform's half knows, by name
ACTIONS: dict[str, dict[str, Callable[..., dict[str, Any]]]] = {
    "wecom": wecom_actions.ACTIONS, "dingtalk": dingtalk_actions.ACTIONS}


def play(sandbox: Sandbox, corp: Corp, name: str, /, **params: Any) -> dict[str, Any]:
    """Run one action or scenario by name (wait=True also waits for its callbacks and reports them)."""
    half = wecom_actions if corp.platform == "wecom" else dingtalk_actions
    return half.play(sandbox, corp, name, **params)
