"""Build a believable organisation in a DingTalk sandbox corp: departments, employees, label groups, external
contacts with Chinese names (some with emoji) and group chats, with bulk inserts.

`sandbox.seed.seed` picks the half by the corp's platform.
"""
from __future__ import annotations

import random
import secrets
from typing import Any

from sqlalchemy import func, insert, select

from sandbox import names
from sandbox.core import Corp, SandboxDB
from sandbox.dingtalk.models import DtChat, DtContact, DtDepartment, DtLabel, DtUser

BATCH = 5000


def seed(db: SandboxDB, corp: Corp, *, employees: int, customers: int, rng: random.Random,
         **params: Any) -> dict[str, int]:
    """Departments, employees, label groups, external contacts with Chinese names (some with emoji), group chats."""
    employees, customers, cid = int(employees), int(customers), corp.corp_id
    with db.session() as s:
        depts = _departments(s, corp, employees)
        start = s.scalar(select(func.count()).select_from(DtUser).where(DtUser.corp_id == cid)) or 0
        new_staff = [f"dt{start + n + 1:05d}" for n in range(employees)]
        if new_staff:
            s.execute(insert(DtUser), [
                {"corp_id": cid, "userid": u, "name": names.person(rng), "mobile": names.mobile(rng),
                 "title": rng.choice(names.POSITIONS), "dept_ids": [1, rng.choice(depts)], "left": False}
                for u in new_staff])
        staff = list(s.scalars(select(DtUser.userid).where(DtUser.corp_id == cid, DtUser.left.is_(False))))
        label_ids = _labels(s, cid)
    if customers and not staff:
        raise ValueError("external contacts need a follower: seed employees first")
    for offset in range(0, customers, BATCH):
        rows = [_contact(cid, staff, label_ids, rng) for _ in range(min(BATCH, customers - offset))]
        with db.session() as s:
            s.execute(insert(DtContact), rows)
    chats = params.get("group_chats")
    chats = int(chats) if chats is not None else (min(8, max(2, len(new_staff) // 5)) if len(staff) >= 2 else 0)
    _group_chats(db, cid, staff, chats, rng)
    return {"departments": len(depts), "employees": employees, "customers": customers, "labels": len(label_ids),
            "group_chats": chats}


def _departments(s, corp: Corp, employees: int) -> list[int]:
    existing = list(s.scalars(select(DtDepartment.dept_id).where(DtDepartment.corp_id == corp.corp_id)
                              .order_by(DtDepartment.dept_id)))
    if existing:
        return existing
    count = max(1, min(len(names.DEPARTMENTS), employees // 8))
    s.add_all(DtDepartment(corp_id=corp.corp_id, dept_id=n + 2, name=names.DEPARTMENTS[n], parent_id=1)
              for n in range(count))
    return [n + 2 for n in range(count)]


def _labels(s, corp_id: str) -> list[int]:
    if not s.scalar(select(DtLabel.id).where(DtLabel.corp_id == corp_id).limit(1)):
        for color, (group, tags) in enumerate(names.TAG_GROUPS.items()):
            s.add_all(DtLabel(corp_id=corp_id, group_name=group, color=color, name=tag) for tag in tags)
        s.flush()
    return list(s.scalars(select(DtLabel.id).where(DtLabel.corp_id == corp_id).order_by(DtLabel.id)))


def _contact(corp_id: str, staff: list[str], label_ids: list[int], rng: random.Random) -> dict[str, Any]:
    return {"corp_id": corp_id, "userid": secrets.token_hex(8),
            "name": names.nickname(rng) if rng.random() < 0.3 else names.person(rng),
            "mobile": names.mobile(rng), "follower_user_id": rng.choice(staff),
            "label_ids": rng.sample(label_ids, k=min(len(label_ids), rng.randint(1, 2))),
            "company_name": rng.choice(names.COMPANIES) if rng.random() < 0.4 else None,
            "remark": rng.choice(names.REMARKS) if rng.random() < 0.2 else None, "title": None}


def _group_chats(db: SandboxDB, corp_id: str, staff: list[str], count: int, rng: random.Random) -> None:
    if count <= 0 or len(staff) < 2:
        return
    with db.session() as s:
        for n in range(count):
            members = rng.sample(staff, k=min(len(staff), rng.randint(2, 8)))
            s.add(DtChat(chat_id=f"chat{secrets.token_hex(16)}", corp_id=corp_id,
                         open_conversation_id=f"cid{secrets.token_hex(12)}==",
                         title=names.CHAT_NAMES[n % len(names.CHAT_NAMES)], owner=members[0], members=members))
