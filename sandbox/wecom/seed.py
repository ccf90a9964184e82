"""Build a believable organisation in a WeCom sandbox corp, with bulk inserts so 100,000 customers take minutes.

`sandbox.seed.seed` picks the half by the corp's platform.
"""
from __future__ import annotations

import random
import secrets
from typing import Any

from sqlalchemy import func, insert, select

from sandbox import names
from sandbox.core import Corp, SandboxDB
from sandbox.wecom.models import Customer, Department, Follow, GroupChat, GroupMember, Tag, TagGroup, User, new_id

BATCH = 5000
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ADD_WAYS = (1, 1, 1, 2, 3, 3, 5, 8, 201)  # weighted: QR scan, phone search, card share, ...


def external_id(prefix: str = "wm") -> str:
    """An external userid shaped like WeCom's ("wm" + 30 characters), unique across seeds."""
    n = int.from_bytes(secrets.token_bytes(23), "big")
    out = []
    for _ in range(30):
        n, r = divmod(n, 62)
        out.append(B62[r])
    return prefix + "".join(out)


def seed(db: SandboxDB, corp: Corp, *, employees: int, customers: int, rng: random.Random,
         **params: Any) -> dict[str, int]:
    """Add departments, employees, tags, customers (some followed by several employees) and group chats."""
    return _seed_wecom(db, corp, int(employees), int(customers), rng, int(params.get("group_chats", 0)) or None,
                       float(params.get("follows_per_customer", 0)) or None)


def _seed_wecom(db: SandboxDB, corp: Corp, employees: int, customers: int, rng: random.Random,
                chats: int | None, per_customer: float | None = None) -> dict[str, int]:
    now = int(db.clock.time())
    cid = corp.corp_id
    with db.session() as s:
        depts = _departments(s, corp, employees, rng)
        start = s.scalar(select(func.count()).select_from(User).where(User.corp_id == cid)) or 0
        users = []
        for i in range(start + 1, start + employees + 1):
            dept = rng.choice(depts)
            users.append(dict(corp_id=cid, userid=f"E{i:05d}", name=names.person(rng), department=[dept],
                              main_department=dept, position=rng.choice(names.POSITIONS), mobile=names.mobile(rng),
                              gender=rng.choice((1, 2)), email=f"e{i:05d}@sandbox.example", status=1))
        if users:
            s.execute(insert(User), users)
        staff = list(s.scalars(select(User.userid).where(User.corp_id == cid, User.status == 1)))
        tag_ids = _tags(s, cid, now)
    if not staff:
        return {"departments": len(depts), "employees": 0, "customers": 0, "follows": 0, "group_chats": 0}
    follows = 0
    customer_ids: list[str] = []
    for offset in range(0, customers, BATCH):
        rows, links = [], []
        for _ in range(min(BATCH, customers - offset)):
            ext = external_id()
            customer_ids.append(ext)
            rows.append(customer_row(cid, ext, rng))
            for userid in _followers(staff, rng, per_customer):
                links.append(follow_row(cid, userid, ext, tag_ids, now, rng))
        with db.session() as s:
            s.execute(insert(Customer), rows)
            s.execute(insert(Follow), links)
        follows += len(links)
    chat_count = chats if chats is not None else (min(8, max(3, employees // 5)) if customers else 0)
    _group_chats(db, cid, staff, customer_ids, chat_count, now, rng)
    return {"departments": len(depts), "employees": len(users), "customers": customers, "follows": follows,
            "group_chats": chat_count}


def _departments(s, corp: Corp, employees: int, rng: random.Random) -> list[int]:
    existing = list(s.scalars(select(Department.dept_id).where(Department.corp_id == corp.corp_id)))
    if existing:
        return [d for d in existing if d != 1] or existing
    s.add(Department(corp_id=corp.corp_id, dept_id=1, name=corp.name, parent_id=0, order=100000000))
    picked = rng.sample(names.DEPARTMENTS, k=min(len(names.DEPARTMENTS), max(3, employees // 8)))
    ids = []
    for i, name in enumerate(picked, start=2):
        s.add(Department(corp_id=corp.corp_id, dept_id=i, name=name, parent_id=1, order=100000000 - i * 1000))
        ids.append(i)
    s.flush()
    return ids


def _tags(s, corp_id: str, now: int) -> list[str]:
    have = {g for g in s.scalars(select(TagGroup.name).where(TagGroup.corp_id == corp_id))}
    for order, (group_name, tags) in enumerate(names.TAG_GROUPS.items()):
        if group_name in have:
            continue
        group = TagGroup(group_id=new_id("et"), corp_id=corp_id, name=group_name, order=100 - order,
                         create_time=now - 86400 * 400)
        s.add(group)
        for i, tag in enumerate(tags):
            s.add(Tag(tag_id=new_id("et"), corp_id=corp_id, group_id=group.group_id, name=tag, order=100 - i,
                      create_time=now - 86400 * 400))
    s.flush()
    return list(s.scalars(select(Tag.tag_id).where(Tag.corp_id == corp_id)))


def customer_row(corp_id: str, ext: str, rng: random.Random) -> dict[str, Any]:
    wecom_user = rng.random() < 0.08
    row = dict(external_userid=ext, corp_id=corp_id, gender=rng.choice((0, 1, 2)),
               name=names.person(rng) if wecom_user else names.nickname(rng), type=2 if wecom_user else 1,
               unionid="" if wecom_user else "o" + external_id("")[:27],
               avatar=f"https://wework.qpic.cn/wwhead/sandbox/{ext[-8:]}/0")
    if wecom_user:
        company = rng.choice(names.COMPANIES)
        row.update(corp_name=company[:4], corp_full_name=company, position=rng.choice(names.POSITIONS))
    return row


def _followers(staff: list[str], rng: random.Random, per_customer: float | None = None) -> list[str]:
    """Mostly one salesperson per customer; `per_customer` (1 to 3) sets the average instead."""
    if per_customer:
        whole = int(per_customer)
        k = whole + (rng.random() < per_customer - whole)
        return rng.sample(staff, min(max(k, 1), len(staff)))
    roll = rng.random()
    k = 1 if roll < 0.88 or len(staff) == 1 else (2 if roll < 0.97 or len(staff) == 2 else 3)
    return rng.sample(staff, k)


def follow_row(corp_id: str, userid: str, ext: str, tag_ids: list[str], now: int, rng: random.Random) -> dict[str, Any]:
    add_way = rng.choice(ADD_WAYS)
    return dict(corp_id=corp_id, userid=userid, external_userid=ext,
                remark=rng.choice(names.REMARKS) if rng.random() < 0.15 else "",
                description="", remark_company="", remark_mobiles=[names.mobile(rng)] if rng.random() < 0.1 else [],
                tag_ids=rng.sample(tag_ids, k=min(len(tag_ids), rng.choice((0, 0, 1, 1, 2, 3)))),
                createtime=now - rng.randrange(1, 365 * 86400), add_way=add_way,
                state=rng.choice(("", "", "store_01", "expo_2024", "web")) if add_way == 1 else "",
                oper_userid=userid)


def _group_chats(db: SandboxDB, corp_id: str, staff: list[str], customers: list[str], count: int, now: int,
                 rng: random.Random) -> None:
    if not count or not customers:
        return
    with db.session() as s:
        staff_names = dict(s.execute(select(User.userid, User.name).where(User.corp_id == corp_id)).all())
        for _ in range(count):
            chat_id = new_id("wr")
            owner = rng.choice(staff)
            created = now - rng.randrange(86400, 300 * 86400)
            s.add(GroupChat(chat_id=chat_id, corp_id=corp_id, name=rng.choice(names.CHAT_NAMES), owner=owner,
                            create_time=created, notice="欢迎加入，有问题随时在群里提问～", status=0,
                            admin_list=[], member_version=secrets.token_hex(16)))
            members = {owner: 1}
            for userid in rng.sample(staff, k=min(len(staff), rng.randrange(0, 3))):
                members.setdefault(userid, 1)
            for ext in rng.sample(customers, k=min(len(customers), rng.randrange(5, 40))):
                members[ext] = 2
            s.execute(insert(GroupMember), [
                dict(chat_id=chat_id, userid=m, type=t, join_time=created + rng.randrange(0, 86400 * 30),
                     join_scene=rng.choice((1, 2, 3)), invitor=owner if m != owner else "",
                     group_nickname="", name=staff_names.get(m, "") if t == 1 else names.nickname(rng))
                for m, t in members.items()])
