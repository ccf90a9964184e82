"""Placeholders in marketer-written texts (welcome messages, remark templates): `{customer_name}` and the like.

Only the names below are replaced, by plain substitution: a template is never evaluated, so `{0.__class__}` or
any other format trick stays literal text.
"""
from __future__ import annotations

import re

PLACEHOLDERS = {
    "customer_name": "客户昵称",
    "employee_name": "员工姓名",
    "channel": "渠道名称",
    "date": "添加日期（YYYYMMDD）",
}
_TOKEN = re.compile(r"\{([A-Za-z_]+)\}")


def unknown(template: str, allowed: tuple[str, ...] = tuple(PLACEHOLDERS)) -> list[str]:
    """The placeholder names in a template that are not allowed."""
    return [name for name in _TOKEN.findall(template or "") if name not in allowed]


def used(template: str) -> set[str]:
    return set(_TOKEN.findall(template or "")) & set(PLACEHOLDERS)


def render(template: str, values: dict[str, str]) -> str:
    """Replace the known placeholders; anything else stays as written."""
    return _TOKEN.sub(lambda m: str(values.get(m.group(1), m.group(0))), template or "")
