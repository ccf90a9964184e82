"""Seeded organisations: sizes, believability, and bulk speed."""
from __future__ import annotations

import random
import re
import time

from sqlalchemy import func, select

from sandbox import names
from sandbox.wecom.models import Customer, Department, Follow, GroupChat, GroupMember, Tag, User

EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")


def _count(db, model, *where):
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_default_seed_is_a_believable_small_org(sandbox):
    corp = sandbox.create_corp("wecom")
    counts = sandbox.seed(corp, rng=11)
    cid = corp.corp_id
    assert counts["employees"] == 20 and counts["customers"] == 300 and counts["follows"] > 300
    assert _count(sandbox.db, User, User.corp_id == cid) == 20
    assert _count(sandbox.db, Department, Department.corp_id == cid) == counts["departments"] + 1 >= 4
    assert _count(sandbox.db, Tag, Tag.corp_id == cid) == sum(len(t) for t in names.TAG_GROUPS.values())
    assert 3 <= _count(sandbox.db, GroupChat, GroupChat.corp_id == cid) == counts["group_chats"]
    with sandbox.db.session() as s:
        people = list(s.scalars(select(Customer.name).where(Customer.corp_id == cid)))
        shared = s.scalar(select(func.count()).select_from(
            select(Follow.external_userid).where(Follow.corp_id == cid).group_by(Follow.external_userid)
            .having(func.count() > 1).subquery()))
        members = s.scalar(select(func.count()).select_from(GroupMember).join(
            GroupChat, GroupChat.chat_id == GroupMember.chat_id).where(GroupChat.corp_id == cid))
    assert sum(1 for n in people if EMOJI.search(n)) >= 5
    assert sum(1 for n in people if re.fullmatch(r"[\u4e00-\u9fff]{2,4}", n)) >= 50
    assert shared >= 10 and members > 15


def test_seed_is_repeatable_and_adds_to_an_existing_org(sandbox):
    a, b = sandbox.create_corp("wecom"), sandbox.create_corp("wecom")
    sandbox.seed(a, employees=5, customers=20, rng=4)
    sandbox.seed(b, employees=5, customers=20, rng=4)
    with sandbox.db.session() as s:
        def names_of(cid):
            return list(s.scalars(select(User.name).where(User.corp_id == cid).order_by(User.userid)))

        assert names_of(a.corp_id) == names_of(b.corp_id)
    more = sandbox.seed(a, employees=3, customers=10, rng=random.Random(9))
    assert more["employees"] == 3
    assert _count(sandbox.db, User, User.corp_id == a.corp_id) == 8
    assert _count(sandbox.db, Customer, Customer.corp_id == a.corp_id) == 30


def test_two_thousand_customers_seed_quickly(sandbox):
    corp = sandbox.create_corp("wecom")
    started = time.monotonic()
    counts = sandbox.seed(corp, employees=50, customers=2000, rng=2)
    elapsed = time.monotonic() - started
    assert counts["customers"] == 2000 == _count(sandbox.db, Customer, Customer.corp_id == corp.corp_id)
    assert elapsed < 5, elapsed  # bulk inserts: 100,000 take well under the minutes budget
