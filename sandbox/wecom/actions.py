"""The other side of WeCom: customers and employees acting, each action followed by the host's callback.

Every action changes the sandbox's state in its own transaction, then hands a signed, encrypted callback to the
sandbox's deliverer (thread pool, host retry policy). `play(sandbox, corp, name, **params)` runs one action or
scenario on a WeCom corp; `sandbox.scenarios.play` picks the half by the corp's platform.
"""
from __future__ import annotations

import random
import secrets
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import func, insert, select, update

from sandbox import names
from sandbox.core import Corp, SandboxDB
from sandbox.delivery import DeliveryResult
from sandbox.state import Sandbox
from sandbox.wecom.models import (LEFT, ContactWay, Customer, Follow, GroupChat, GroupMember, MassTarget, Settled, Tag,
                                  TagGroup, Token, Transfer, User, delete_tags, fail_transfer, issue_oauth_code,
                                  issue_welcome_code, new_id)
from sandbox.wecom.seed import customer_row, external_id, follow_row


@dataclass
class Run:
    """One play: the corp, a random source, and the callbacks it queued."""

    sandbox: Sandbox
    corp: Corp
    rng: random.Random
    sleep: Callable[[float], None] = time.sleep
    futures: list[Future] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    @property
    def db(self) -> SandboxDB:
        return self.sandbox.db

    @property
    def now(self) -> float:
        return self.db.clock.time()

    def emit(self, event: str, fields: list[tuple[str, Any]], key: str) -> None:
        """Queue one callback (a no-op when the corp has no callback URL yet)."""
        label = event + "".join(f":{v}" for k, v in fields if k == "ChangeType")
        self.events.append(label)
        corp = self.corp
        if not corp.callback_url:
            return
        from connectors.wecom.crypto import WeComCrypto  # the product's own codec, loaded only to send a callback

        plaintext = event_xml(corp.corp_id, event, int(self.now), fields, corp.agent_id)
        crypto = WeComCrypto(corp.callback_token or "", corp.callback_aes_key or "", corp.corp_id)

        def build() -> tuple[dict, bytes, str]:
            timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
            body, signature = crypto.signed_envelope(plaintext, nonce, timestamp, corp.agent_id)
            return {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}, body, "text/xml"

        self.futures.append(self.sandbox.deliverer.submit(corp.corp_id, corp.callback_url, build, platform="wecom",
                                                          event=label, key=key))


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def event_xml(corp_id: str, event: str, created: int, fields: list[tuple[str, Any]], agent_id: str | None) -> str:
    """The decrypted callback body: the common header, then the event's own fields in order."""
    parts = [f"<ToUserName>{_cdata(corp_id)}</ToUserName>", f"<FromUserName>{_cdata('sys')}</FromUserName>",
             f"<CreateTime>{created}</CreateTime>", f"<MsgType>{_cdata('event')}</MsgType>",
             f"<Event>{_cdata(event)}</Event>"]
    for name, value in fields:
        if isinstance(value, list):
            inner = "".join(f"<Item>{_cdata(str(v))}</Item>" for v in value)
            parts.append(f"<{name}>{inner}</{name}>")
        elif isinstance(value, int):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            parts.append(f"<{name}>{_cdata(str(value))}</{name}>")
    if agent_id:
        parts.append(f"<AgentID>{agent_id}</AgentID>")
    return "<xml>" + "".join(parts) + "</xml>"


ACTIONS: dict[str, Callable[..., dict[str, Any]]] = {}


def action(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    ACTIONS[fn.__name__] = fn
    return fn


def play(sandbox: Sandbox, corp: Corp, name: str, /, *, wait: bool = False, rng: random.Random | int | None = None,
         sleep: Callable[[float], None] = time.sleep, **params: Any) -> dict[str, Any]:
    """Run one WeCom action or scenario by name; with wait=True also wait for its callbacks and report them."""
    fn = ACTIONS.get(name)
    if fn is None:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(sorted(ACTIONS))}")
    run = Run(sandbox, corp, rng if isinstance(rng, random.Random) else random.Random(rng), sleep)
    result = fn(run, **params)
    out = {"scenario": name, "result": result, "events": run.events, "callbacks": len(run.futures)}
    if wait:
        done: list[DeliveryResult] = [f.result() for f in run.futures]
        out["delivered"] = sum(1 for r in done if r.delivered)
        out["attempts"] = sum(r.attempts for r in done)
    return out


# ---------------------------------------------------------------- customers


def _receiver(run: Run, s, way: ContactWay) -> str:
    candidates = list(way.users or [])
    if way.parties:
        members = s.scalars(select(User).where(User.corp_id == run.corp.corp_id, User.status == 1))
        candidates += [m.userid for m in members if set(way.parties) & set(m.department or [])]
    if not candidates:
        raise ValueError(f"contact way {way.config_id} has nobody to receive customers")
    return run.rng.choice(candidates)


@action
def scan_one(run: Run, config_id: str, name: str | None = None, external_userid: str | None = None) -> dict[str, Any]:
    """A customer scans a contact way: a new relationship with its state, then add_external_contact (or add_half)."""
    with run.db.session() as s:
        way = s.get(ContactWay, config_id)
        if way is None or way.corp_id != run.corp.corp_id:
            raise LookupError(f"no contact way {config_id!r}")
        if way.expired(run.now):
            raise LookupError(f"contact way {config_id!r} has expired")
        userid = _receiver(run, s, way)
        ext = external_userid
        if ext is None or s.get(Customer, ext) is None:
            ext = ext or external_id()
            s.add(Customer(external_userid=ext, corp_id=run.corp.corp_id, name=name or names.nickname(run.rng),
                           type=1, gender=run.rng.choice((0, 1, 2)), unionid="o" + external_id("")[:27]))
        existing = s.scalar(select(Follow).where(Follow.corp_id == run.corp.corp_id, Follow.userid == userid,
                                                 Follow.external_userid == ext))
        if existing is None:
            s.add(Follow(corp_id=run.corp.corp_id, userid=userid, external_userid=ext, createtime=int(run.now),
                         add_way=1, state=way.state, oper_userid=ext, tag_ids=[], remark_mobiles=[]))
        code = issue_welcome_code(s, run.corp.corp_id, userid, ext, run.now)
        if way.is_temp:
            way.first_added_at = run.now
        state, change = way.state, "add_external_contact" if way.skip_verify else "add_half_external_contact"
    fields = [("ChangeType", change), ("UserID", userid), ("ExternalUserID", ext)]
    if state:
        fields.append(("State", state))
    fields.append(("WelcomeCode", code))
    run.emit("change_external_contact", fields, key=ext)
    return {"userid": userid, "external_userid": ext, "state": state, "welcome_code": code}


def _ensure_ways(run: Run, count: int) -> list[str]:
    with run.db.session() as s:
        ways = list(s.scalars(select(ContactWay.config_id).where(ContactWay.corp_id == run.corp.corp_id)
                              .order_by(ContactWay.created_at.desc()).limit(count)))
        missing, have = count - len(ways), len(ways)
        if missing > 0:
            staff = list(s.scalars(select(User.userid).where(User.corp_id == run.corp.corp_id, User.status == 1)))
            if not staff:
                raise ValueError("seed employees before playing scans")
            for i in range(missing):
                config_id = secrets.token_hex(16)
                s.add(ContactWay(config_id=config_id, corp_id=run.corp.corp_id, type=1, scene=2,
                                 state=f"sandbox_{have + i + 1}", users=[run.rng.choice(staff)], parties=[],
                                 remark="沙箱渠道码", skip_verify=True, created_at=run.now))
                ways.append(config_id)
    return ways


@action
def scan(run: Run, customers: int = 200, codes: int = 3, over: float = 60.0,
         config_ids: list[str] | None = None) -> dict[str, Any]:
    """N customers scan K contact ways over D seconds of real time (over=0: as fast as possible)."""
    ways = list(config_ids or _ensure_ways(run, int(codes)))
    customers = int(customers)
    per_way: dict[str, int] = {w: 0 for w in ways}
    gap = float(over) / customers if customers else 0.0
    for i in range(customers):
        way = run.rng.choice(ways)
        scan_one(run, way)
        per_way[way] += 1
        if gap and i < customers - 1:
            run.sleep(gap)
    return {"customers": customers, "per_way": per_way}


def _pick_follow(run: Run, s, userid: str | None, external_userid: str | None) -> Follow:
    q = select(Follow).where(Follow.corp_id == run.corp.corp_id)
    if userid:
        q = q.where(Follow.userid == userid)
    if external_userid:
        q = q.where(Follow.external_userid == external_userid)
    if not userid and not external_userid:
        total = s.scalar(select(func.count()).select_from(Follow).where(Follow.corp_id == run.corp.corp_id))
        if not total:
            raise LookupError("no relationship to act on")
        q = q.order_by(Follow.id).offset(run.rng.randrange(total))
    found = s.scalars(q.limit(1)).first()
    if found is None:
        raise LookupError("no such relationship")
    return found


@action
def give_customers(run: Run, userid: str, count: int = 1) -> dict[str, Any]:
    """Give one member `count` new customers at once (bulk inserts, like the seed, and no callbacks): a member at
    WeCom's customer limit, or a departed member with many unassigned customers, in well under a second."""
    count = int(count)
    cid, now = run.corp.corp_id, int(run.now)
    with run.db.session() as s:
        if s.get(User, (cid, userid)) is None:
            raise LookupError(f"no employee {userid!r}")
        ids = [external_id() for _ in range(count)]
        if ids:
            s.execute(insert(Customer), [customer_row(cid, ext, run.rng) for ext in ids])
            s.execute(insert(Follow), [follow_row(cid, userid, ext, [], now, run.rng) for ext in ids])
    return {"userid": userid, "external_userid": ids}


@action
def customer_deletes_employee(run: Run, userid: str | None = None,
                              external_userid: str | None = None) -> dict[str, Any]:
    """The customer deletes the employee: del_follow_user."""
    with run.db.session() as s:
        f = _pick_follow(run, s, userid, external_userid)
        userid, ext = f.userid, f.external_userid
        s.delete(f)
    run.emit("change_external_contact", [("ChangeType", "del_follow_user"), ("UserID", userid),
                                         ("ExternalUserID", ext)], key=ext)
    return {"userid": userid, "external_userid": ext}


@action
def employee_deletes_customer(run: Run, userid: str | None = None,
                              external_userid: str | None = None) -> dict[str, Any]:
    """The employee deletes the customer in the app: del_external_contact."""
    with run.db.session() as s:
        f = _pick_follow(run, s, userid, external_userid)
        userid, ext = f.userid, f.external_userid
        s.delete(f)
    run.emit("change_external_contact", [("ChangeType", "del_external_contact"), ("UserID", userid),
                                         ("ExternalUserID", ext), ("Source", "")], key=ext)
    return {"userid": userid, "external_userid": ext}


@action
def employee_edits_customer(run: Run, userid: str | None = None, external_userid: str | None = None,
                            remark: str | None = None) -> dict[str, Any]:
    """The employee edits the remark in the app: edit_external_contact."""
    with run.db.session() as s:
        f = _pick_follow(run, s, userid, external_userid)
        f.remark = remark if remark is not None else run.rng.choice(names.REMARKS)
        userid, ext = f.userid, f.external_userid
    run.emit("change_external_contact", [("ChangeType", "edit_external_contact"), ("UserID", userid),
                                         ("ExternalUserID", ext)], key=ext)
    return {"userid": userid, "external_userid": ext}


@action
def churn(run: Run, events: int = 20, over: float = 0.0) -> dict[str, Any]:
    """A mix of customers deleting employees, employees deleting customers and remark edits."""
    counts = {"customer_deletes_employee": 0, "employee_deletes_customer": 0, "employee_edits_customer": 0}
    moves = list(counts)
    gap = float(over) / events if events else 0.0
    for i in range(int(events)):
        move = run.rng.choices(moves, weights=(3, 2, 5))[0]
        try:
            ACTIONS[move](run)
        except LookupError:
            break
        counts[move] += 1
        if gap and i < events - 1:
            run.sleep(gap)
    return counts


@action
def refuse_transfer(run: Run, external_userid: str | None = None,
                    reason: str = "customer_refused") -> dict[str, Any]:
    """The customer refuses a waiting takeover (reason customer_limit_exceed: the takeover member is at their
    limit): status 3 (4) and a transfer_fail callback naming the takeover member. An on-job customer stays with
    the handover member; a departed member's customer is lost, as the community answer in the reference says
    ("refused/failed 离职 → customer lost"): the departed member's follow is removed without a callback of its
    own, so the customer leaves get_unassigned_list and nobody follows them for that member any more."""
    with run.db.session() as s:
        q = select(Transfer).where(Transfer.corp_id == run.corp.corp_id, Transfer.status == 2)
        if external_userid:
            q = q.where(Transfer.external_userid == external_userid)
        t = s.scalars(q.order_by(Transfer.id).limit(1)).first()
        if t is None:
            raise LookupError("no waiting transfer")
        fail_transfer(s, t, 3 if reason == "customer_refused" else 4)
        ended = Settled(t.handover, t.takeover, t.external_userid, failed=reason)
    transfers_settled(run, [ended])
    return {"external_userid": ended.external_userid, "takeover_userid": ended.takeover}


def transfers_settled(run: Run, settled: list[Settled]) -> None:
    """The host's callbacks for ended takeovers (doc 96325): transfer_fail with FailReason and the takeover
    member's UserID for one that failed; else add_external_contact for the takeover member (unless they were
    friends already or the customer came back to them), del_external_contact with Source DELETE_BY_TRANSFER for
    the handover member."""
    for t in settled:
        if t.failed:
            run.emit("change_external_contact", [("ChangeType", "transfer_fail"), ("FailReason", t.failed),
                                                 ("UserID", t.takeover), ("ExternalUserID", t.external_userid)],
                     key=t.external_userid)
            continue
        if t.added:
            run.emit("change_external_contact", [("ChangeType", "add_external_contact"), ("UserID", t.takeover),
                                                 ("ExternalUserID", t.external_userid)], key=t.external_userid)
        run.emit("change_external_contact", [("ChangeType", "del_external_contact"), ("UserID", t.handover),
                                             ("ExternalUserID", t.external_userid),
                                             ("Source", "DELETE_BY_TRANSFER")], key=t.external_userid)


# ---------------------------------------------------------------- employees


@action
def leave(run: Run, userid: str | None = None) -> dict[str, Any]:
    """An employee leaves: change_contact delete_user; their customers become unassigned, their chats wait."""
    with run.db.session() as s:
        q = select(User).where(User.corp_id == run.corp.corp_id, User.status != LEFT)
        if userid:
            q = q.where(User.userid == userid)
            member = s.scalar(q)
        else:
            staff = list(s.scalars(q))
            member = run.rng.choice(staff) if staff else None
        if member is None:
            raise LookupError("no such employee")
        member.status, member.left_at = LEFT, run.now
        customers = s.scalar(select(func.count()).select_from(Follow).where(Follow.corp_id == run.corp.corp_id,
                                                                           Follow.userid == member.userid))
        s.execute(update(GroupChat).where(GroupChat.corp_id == run.corp.corp_id, GroupChat.owner == member.userid)
                  .values(status=1))
        userid = member.userid
    run.emit("change_contact", [("ChangeType", "delete_user"), ("UserID", userid)], key=f"user:{userid}")
    return {"userid": userid, "unassigned": customers}


@action
def join(run: Run, name: str | None = None, department: int = 1) -> dict[str, Any]:
    """A new employee joins: change_contact create_user."""
    with run.db.session() as s:
        count = s.scalar(select(func.count()).select_from(User).where(User.corp_id == run.corp.corp_id)) or 0
        userid = f"E{count + 1:05d}"
        member = User(corp_id=run.corp.corp_id, userid=userid, name=name or names.person(run.rng),
                      department=[int(department)], main_department=int(department),
                      position=run.rng.choice(names.POSITIONS), mobile=names.mobile(run.rng), status=1)
        s.add(member)
    run.emit("change_contact", [("ChangeType", "create_user"), ("UserID", userid), ("Name", member.name),
                                ("Department", str(department)), ("MainDepartment", int(department)),
                                ("Position", member.position), ("Status", 1)], key=f"user:{userid}")
    return {"userid": userid, "name": member.name}


# ---------------------------------------------------------------- console tag edits


@action
def tag_edit(run: Run, change: str = "create", tag_id: str | None = None, group_name: str = "活动标签",
             name: str | None = None) -> dict[str, Any]:
    """An admin edits the tag library in the console: change_external_tag create | update | delete."""
    cid = run.corp.corp_id
    with run.db.session() as s:
        if change == "create":
            group = s.scalar(select(TagGroup).where(TagGroup.corp_id == cid, TagGroup.name == group_name))
            if group is None:
                group = TagGroup(group_id=new_id("et"), corp_id=cid, name=group_name, create_time=int(run.now))
                s.add(group)
            tag = Tag(tag_id=new_id("et"), corp_id=cid, group_id=group.group_id,
                      name=name or f"标签{secrets.randbelow(10000)}", create_time=int(run.now))
            s.add(tag)
        else:
            q = select(Tag).where(Tag.corp_id == cid)
            tag = s.scalar(q.where(Tag.tag_id == tag_id) if tag_id else q.order_by(Tag.create_time.desc()).limit(1))
            if tag is None:
                raise LookupError("no such tag")
            if change == "update":
                tag.name = name or tag.name + "（新）"
            elif change == "delete":
                delete_tags(s, cid, [tag.tag_id], [])
            else:
                raise ValueError("change must be create, update or delete")
        tag_id = tag.tag_id
    run.emit("change_external_tag", [("Id", tag_id), ("TagType", "tag"), ("ChangeType", change)], key=f"tag:{tag_id}")
    return {"tag_id": tag_id, "change": change}


# ---------------------------------------------------------------- group chats


@action
def group_chat(run: Run, change: str = "create", chat_id: str | None = None, owner: str | None = None,
               members: int = 3) -> dict[str, Any]:
    """A group chat is created, gains members, or is dismissed: change_external_chat."""
    cid, now = run.corp.corp_id, int(run.now)
    fields: list[tuple[str, Any]] = []
    with run.db.session() as s:
        if change == "create":
            owner = owner or run.rng.choice(list(s.scalars(select(User.userid).where(User.corp_id == cid,
                                                                                     User.status == 1))))
            chat_id = new_id("wr")
            s.add(GroupChat(chat_id=chat_id, corp_id=cid, name=run.rng.choice(names.CHAT_NAMES), owner=owner,
                            create_time=now, member_version=secrets.token_hex(16)))
            s.add(GroupMember(chat_id=chat_id, userid=owner, type=1, join_time=now, join_scene=1))
        else:
            q = select(GroupChat).where(GroupChat.corp_id == cid)
            q = q.where(GroupChat.chat_id == chat_id) if chat_id else q.order_by(GroupChat.create_time.desc())
            chat = s.scalars(q.limit(1)).first()
            if chat is None:
                raise LookupError("no such group chat")
            chat_id = chat.chat_id
            if change == "update":
                customers = list(s.scalars(select(Customer.external_userid).where(Customer.corp_id == cid)
                                           .order_by(Customer.external_userid).limit(200)))
                present = set(s.scalars(select(GroupMember.userid).where(GroupMember.chat_id == chat_id)))
                added = [c for c in run.rng.sample(customers, k=min(len(customers), int(members))) if c not in present]
                for ext in added:
                    s.add(GroupMember(chat_id=chat_id, userid=ext, type=2, join_time=now, join_scene=3,
                                      invitor=chat.owner, name=names.nickname(run.rng)))
                last, chat.member_version = chat.member_version, secrets.token_hex(16)
                fields = [("UpdateDetail", "add_member"), ("JoinScene", 3), ("MemChangeCnt", len(added)),
                          ("MemChangeList", added), ("LastMemVer", last), ("CurMemVer", chat.member_version)]
            elif change == "dismiss":
                s.execute(GroupMember.__table__.delete().where(GroupMember.chat_id == chat_id))
                s.delete(chat)
            else:
                raise ValueError("change must be create, update or dismiss")
    run.emit("change_external_chat", [("ChatId", chat_id), ("ChangeType", change), *fields], key=f"chat:{chat_id}")
    return {"chat_id": chat_id, "change": change}


@action
def give_group_chats(run: Run, userid: str, count: int = 1, customers: int = 2) -> dict[str, Any]:
    """Give one member `count` customer group chats they own, each with `customers` of their customers (new ones
    when they have too few) as members; set-up like the seed's chats, so no callbacks."""
    cid, now = run.corp.corp_id, int(run.now)
    count, customers = int(count), int(customers)
    with run.db.session() as s:
        owner = s.get(User, (cid, userid))
        if owner is None:
            raise LookupError(f"no employee {userid!r}")
        own = list(s.scalars(select(Follow.external_userid).where(Follow.corp_id == cid, Follow.userid == userid)
                             .order_by(Follow.id).limit(customers)))
    if len(own) < customers:
        own += give_customers(run, userid, customers - len(own))["external_userid"]
    chat_ids = [new_id("wr") for _ in range(count)]
    with run.db.session() as s:
        for chat_id in chat_ids:
            s.add(GroupChat(chat_id=chat_id, corp_id=cid, name=run.rng.choice(names.CHAT_NAMES), owner=userid,
                            create_time=now, status=1 if owner.status == LEFT else 0,
                            member_version=secrets.token_hex(16)))
        s.execute(insert(GroupMember), [
            dict(chat_id=chat_id, userid=m, type=1 if m == userid else 2, join_time=now, join_scene=1,
                 invitor="" if m == userid else userid, name=owner.name if m == userid else names.nickname(run.rng))
            for chat_id in chat_ids for m in [userid, *own]])
    return {"userid": userid, "chat_id": chat_ids}


# ---------------------------------------------------------------- members acting in the app


@action
def confirm_mass_message(run: Run, msgid: str, userid: str | None = None) -> dict[str, Any]:
    """Members confirm a mass message in the app: their recipients are sent (3 when another sender got there)."""
    with run.db.session() as s:
        q = select(MassTarget).where(MassTarget.msgid == msgid, MassTarget.status == 0)
        if userid:
            q = q.where(MassTarget.userid == userid)
        targets = list(s.scalars(q.order_by(MassTarget.id)))
        reached = set(s.scalars(select(MassTarget.external_userid).where(MassTarget.msgid == msgid,
                                                                          MassTarget.status == 1,
                                                                          MassTarget.external_userid != "")))
        for t in targets:
            t.send_time = int(run.now)
            t.status = 3 if t.external_userid and t.external_userid in reached else 1
            reached.add(t.external_userid)
    return {"sent": sum(1 for t in targets if t.status == 1), "skipped": sum(1 for t in targets if t.status == 3)}


@action
def login(run: Run, userid: str | None = None, external_userid: str | None = None) -> dict[str, Any]:
    """Issue an OAuth code as if the member (or a non-member) opened an H5 page in WeCom."""
    with run.db.session() as s:
        code = issue_oauth_code(s, run.corp.corp_id, run.now, userid=userid, external_userid=external_userid)
    return {"code": code}


@action
def expire_tokens(run: Run) -> dict[str, Any]:
    """Invalidate every live access token and ticket early, as the host may do."""
    with run.db.session() as s:
        count = s.execute(update(Token).where(Token.corp_id == run.corp.corp_id, Token.expires_at > run.now)
                          .values(expires_at=run.now)).rowcount
    run.db.generation.set(add=1)
    return {"expired": count}
