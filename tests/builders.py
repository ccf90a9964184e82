"""Plain builder functions for test data: `make_x(**overrides)` commits and returns the row."""
from __future__ import annotations

import itertools

from scrm.db import unit_of_work
from scrm.extensions import db
from scrm.models import Corp, Customer, Employee

_seq = itertools.count(1)


def make_corp(**overrides) -> Corp:
    n = next(_seq)
    values = dict(platform="wecom", name=f"测试企业{n}", corp_id=f"ww{n:06d}", agent_id="1000002",
                  secret=f"secret-{n}", callback_token="Token123", callback_aes_key="k" * 43)
    values.update(overrides)
    with unit_of_work():
        corp = Corp(**values)
        db.session.add(corp)
    return corp


def make_employee(corp: Corp, **overrides) -> Employee:
    n = next(_seq)
    values = dict(corp_id=corp.id, host_id=f"user{n}", name=f"员工{n}")
    values.update(overrides)
    with unit_of_work():
        emp = Employee(**values)
        db.session.add(emp)
    return emp


def make_customer(corp: Corp, **overrides) -> Customer:
    n = next(_seq)
    values = dict(corp_id=corp.id, host_id=f"wm{n:08d}", name=f"客户{n}")
    values.update(overrides)
    with unit_of_work():
        cust = Customer(**values)
        db.session.add(cust)
    return cust
