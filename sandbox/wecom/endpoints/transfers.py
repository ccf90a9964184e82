"""On-job and departed transfers, unassigned customers and group chats (docs 92125, 94081, 92273, 92120, 92127,
95703)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, func, select

from sandbox.wecom.endpoints.base import (Ctx, ERRMSG, WeComError, api, cursor_in, cursor_out, int_cursor, page_limit,
                                          settle, user)
from sandbox.wecom.models import (Customer, Follow, GROUPCHAT_TRANSFERS_PER_DAY, GroupChat, GroupChatTransfer,
                                  GroupMember, LEFT, TAKEOVER_DELAY, TRANSFERS_PER_WINDOW, TRANSFER_WINDOW, Transfer,
                                  User, day_start)

OWNER_FILTER_MAX = 100  # groupchat/list's owner_filter.userid_list (doc 92120)
#: groupchat/list without owner_filter answers 81017 once the app sees more members than this (limits can lower it)
GROUPCHAT_LIST_MEMBERS = 1000

# ---------------------------------------------------------------- transfers


def _transfer(ctx: Ctx, *, resigned: bool) -> dict[str, Any]:
    handover_id = ctx.need("handover_userid", 41009)
    handover = user(ctx, handover_id, active=False)
    if resigned and handover.status != LEFT:
        raise WeComError(40097, handover_id)
    if not resigned and handover.status == LEFT:
        raise WeComError(40003, handover_id)
    takeover = user(ctx, ctx.need("takeover_userid", 41009))
    if handover.userid == takeover.userid:
        raise WeComError(40130)
    ids = ctx.need("external_userid", 41035, kind=list)
    if len(ids) > 100:
        raise WeComError(40058, "external_userid holds at most 100 ids")
    message = ctx.opt("transfer_success_msg", "", kind=str)
    if len(message) > 200:
        raise WeComError(40058, "transfer_success_msg longer than 200")
    settle(ctx)
    out = []
    for ext in dict.fromkeys(ids):
        out.append({"external_userid": ext,
                    "errcode": _transfer_one(ctx, ext, handover.userid, takeover.userid, resigned, message)})
    return {"customer": out}


def _transfer_one(ctx: Ctx, ext: Any, handover: str, takeover: str, resigned: bool, message: str) -> int:
    corp_id = ctx.corp.corp_id
    c = ctx.s.get(Customer, ext) if isinstance(ext, str) else None
    if c is None or c.corp_id != corp_id:
        return 40096
    if ctx.s.scalar(select(Follow.id).where(Follow.corp_id == corp_id, Follow.userid == handover,
                                            Follow.external_userid == ext)) is None:
        return 40131 if not resigned else 84061
    history = list(ctx.s.scalars(select(Transfer).where(Transfer.external_userid == ext,
                                                        Transfer.created_at > ctx.now - TRANSFER_WINDOW)))
    if any(t.status == 2 for t in history):
        return 40129
    if not resigned and sum(1 for t in history if not t.resigned) >= TRANSFERS_PER_WINDOW:
        return 40128
    ctx.s.add(Transfer(corp_id=corp_id, external_userid=ext, handover=handover, takeover=takeover, resigned=resigned,
                       status=2, created_at=ctx.now, message=message))
    return 0


@api("externalcontact/transfer_customer")
def transfer_customer(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/transfer_customer (doc 92125): 2 per customer per 90 days, takeover after 24 h."""
    return _transfer(ctx, resigned=False)


@api("externalcontact/resigned/transfer_customer")
def resigned_transfer_customer(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/resigned/transfer_customer (doc 94081): the handover must have left (40097)."""
    return _transfer(ctx, resigned=True)


def _transfer_result(ctx: Ctx, *, resigned: bool) -> dict[str, Any]:
    handover = ctx.need("handover_userid", 41009)
    takeover = ctx.need("takeover_userid", 41009)
    settle(ctx)
    after = int_cursor(ctx.opt("cursor"))
    page = 1000
    rows = list(ctx.s.scalars(select(Transfer).where(Transfer.corp_id == ctx.corp.corp_id,
                                                     Transfer.handover == handover, Transfer.takeover == takeover,
                                                     Transfer.resigned == resigned, Transfer.id > after)
                              .order_by(Transfer.id).limit(page + 1)))
    more = len(rows) > page
    out = []
    for t in rows[:page]:
        item = {"external_userid": t.external_userid, "status": t.status}
        if t.status in (1, 2):
            item["takeover_time"] = int(t.takeover_time or t.created_at + TAKEOVER_DELAY)
        out.append(item)
    return {"customer": out, "next_cursor": cursor_out(rows[page - 1].id) if more else ""}


@api("externalcontact/transfer_result")
def transfer_result(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/transfer_result (doc 94088): status 1 done, 2 waiting, 3 refused, 4 limit, 5 none."""
    return _transfer_result(ctx, resigned=False)


@api("externalcontact/resigned/transfer_result")
def resigned_transfer_result(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/resigned/transfer_result (doc 94082)."""
    return _transfer_result(ctx, resigned=True)


@api("externalcontact/get_unassigned_list")
def get_unassigned_list(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/get_unassigned_list (doc 92273): customers of departed members, page_size <= 1000."""
    size = page_limit(ctx, "page_size", 1000, 1000)
    after = int_cursor(ctx.opt("cursor"))
    # the legacy page_id paging still works when no cursor is given
    skip = 0 if after else int(ctx.opt("page_id", 0, kind=(int, str)) or 0) * size
    corp_id = ctx.corp.corp_id
    settle(ctx)
    pending = exists().where(Transfer.external_userid == Follow.external_userid, Transfer.handover == Follow.userid,
                             Transfer.status == 2)
    rows = list(ctx.s.execute(
        select(Follow.id, Follow.userid, Follow.external_userid, User.left_at)
        .join(User, and_(User.corp_id == Follow.corp_id, User.userid == Follow.userid))
        .where(Follow.corp_id == corp_id, User.status == LEFT, Follow.id > after, ~pending)
        .order_by(Follow.id).offset(skip).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    info = [{"handover_userid": u, "external_userid": e, "dimission_time": int(left or 0)} for _, u, e, left in rows]
    if not after and ctx.opt("page_id") not in (None, ""):  # the legacy mode answers is_last and no cursor
        return {"info": info, "is_last": not more}
    # cursor paging ends on an empty next_cursor (doc 92124); is_last says only whether the record is the last one
    return {"info": info, "next_cursor": cursor_out(rows[-1][0]) if more else ""}


# ---------------------------------------------------------------- group chats


@api("externalcontact/groupchat/list")
def groupchat_list(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/groupchat/list (doc 92120): limit 1..1000, status_filter 0..3, owner_filter (at most 100
    owners); without one, an app that sees more than 1,000 members is refused with 81017. A departed owner's chats
    are listed only when owner_filter names that owner, or with status_filter 1..3 (doc 93414)."""
    limit = page_limit(ctx, "limit", None, 1000)
    status = int(ctx.opt("status_filter", 0, kind=int))
    if status not in (0, 1, 2, 3):
        raise WeComError(40058, "status_filter")
    owners = (ctx.opt("owner_filter", {}, kind=dict) or {}).get("userid_list") or []
    if len(owners) > OWNER_FILTER_MAX:
        raise WeComError(40058, f"owner_filter.userid_list holds at most {OWNER_FILTER_MAX} userids")
    if not owners:
        visible = ctx.s.scalar(select(func.count()).select_from(User).where(User.corp_id == ctx.corp.corp_id,
                                                                             User.status != LEFT))
        if visible > int(ctx.corp.limit("groupchat_list_members", GROUPCHAT_LIST_MEMBERS)):
            raise WeComError(81017)
    after = cursor_in(ctx.opt("cursor")) or ""
    q = select(GroupChat.chat_id, GroupChat.status).where(GroupChat.corp_id == ctx.corp.corp_id,
                                                          GroupChat.chat_id > after)
    if status:
        q = q.where(GroupChat.status == status)
    if owners:
        q = q.where(GroupChat.owner.in_(owners))
    elif not status:  # a departed owner's chats only when owner_filter names them, or by their 离职 status
        q = q.where(GroupChat.owner.not_in(select(User.userid).where(User.corp_id == ctx.corp.corp_id,
                                                                     User.status == LEFT)))
    rows = list(ctx.s.execute(q.order_by(GroupChat.chat_id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"group_chat_list": [{"chat_id": c, "status": st} for c, st in rows],
            "next_cursor": cursor_out(rows[-1][0]) if more else ""}


@api("externalcontact/groupchat/get")
def groupchat_get(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/groupchat/get (doc 92122)."""
    chat_id = ctx.need("chat_id", 40058)
    chat = ctx.s.get(GroupChat, chat_id)
    if chat is None or chat.corp_id != ctx.corp.corp_id:
        raise WeComError(90501, chat_id)
    members = ctx.s.scalars(select(GroupMember).where(GroupMember.chat_id == chat_id).order_by(GroupMember.join_time))
    need_name = bool(ctx.opt("need_name", 0))
    member_list = []
    for m in members:
        item = {"userid": m.userid, "type": m.type, "join_time": m.join_time, "join_scene": m.join_scene,
                "invitor": {"userid": m.invitor} if m.invitor else {}, "group_nickname": m.group_nickname}
        if need_name:
            item["name"] = m.name
        if m.unionid:
            item["unionid"] = m.unionid
        member_list.append(item)
    return {"group_chat": {"chat_id": chat.chat_id, "name": chat.name, "owner": chat.owner,
                           "create_time": chat.create_time, "notice": chat.notice, "member_list": member_list,
                           "admin_list": [{"userid": a} for a in chat.admin_list or []],
                           "member_version": chat.member_version}}


def _groupchat_transfer(ctx: Ctx, *, resigned: bool) -> dict[str, Any]:
    chat_ids = ctx.need("chat_id_list", 40058, kind=list)
    if len(chat_ids) > 100:
        raise WeComError(40058, "chat_id_list holds at most 100 ids")
    new_owner = user(ctx, ctx.need("new_owner", 41009))
    cid = ctx.corp.corp_id
    per_day = int(ctx.corp.limit("groupchat_transfer_per_day", GROUPCHAT_TRANSFERS_PER_DAY))
    today = ctx.s.scalar(select(func.count()).select_from(GroupChatTransfer).where(
        GroupChatTransfer.corp_id == cid, GroupChatTransfer.new_owner == new_owner.userid,
        GroupChatTransfer.created_at >= day_start(ctx.now))) or 0
    failed = []
    for chat_id in chat_ids:
        chat = ctx.s.get(GroupChat, chat_id) if isinstance(chat_id, str) else None
        errcode = _chat_errcode(ctx, chat, new_owner.userid, resigned)
        if not errcode and today >= per_day:
            # ≤300 chats a day to one new owner (docs 92127, 95703), but neither the docs nor the global errcode
            # list name a code for it: the sandbox answers the frequency limit's 45009
            errcode = 45009
        if errcode:
            failed.append({"chat_id": chat_id, "errcode": errcode, "errmsg": ERRMSG.get(errcode, "error")})
            continue
        today += 1
        ctx.s.add(GroupChatTransfer(corp_id=cid, chat_id=chat_id, old_owner=chat.owner, new_owner=new_owner.userid,
                                    resigned=resigned, created_at=ctx.now))
        chat.owner = new_owner.userid
        chat.status = 3 if resigned else chat.status
        if ctx.s.get(GroupMember, (chat_id, new_owner.userid)) is None:
            ctx.s.add(GroupMember(chat_id=chat_id, userid=new_owner.userid, type=1, join_time=int(ctx.now),
                                  join_scene=1, name=new_owner.name))
    return {"failed_chat_list": failed}


def _chat_errcode(ctx: Ctx, chat: GroupChat | None, new_owner: str, resigned: bool) -> int:
    """Why one chat cannot go to `new_owner` (global errcodes 9050x), 0 when it can."""
    if chat is None or chat.corp_id != ctx.corp.corp_id:
        return 90501
    owner = ctx.s.get(User, (chat.corp_id, chat.owner))
    gone = owner is not None and owner.status == LEFT
    if resigned and chat.status == 3:
        return 90508  # inherited already: its owner is the heir now
    if resigned and not gone:
        return 90500
    if not resigned and gone:
        return 90502  # a departed owner's chats go through groupchat/transfer
    if chat.owner == new_owner:
        return 90504
    if not resigned:
        recent = ctx.s.scalar(select(func.count()).select_from(GroupChatTransfer).where(
            GroupChatTransfer.chat_id == chat.chat_id, GroupChatTransfer.resigned.is_(False),
            GroupChatTransfer.created_at > ctx.now - TRANSFER_WINDOW))
        if recent >= TRANSFERS_PER_WINDOW:
            # ≤2 on-job transfers per chat per 90 natural days (doc 95703) has no errcode of its own in the docs:
            # the sandbox answers 40128, the customers' "transferred too often"
            return 40128
    return 0


@api("externalcontact/groupchat/transfer")
def groupchat_transfer(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/groupchat/transfer (doc 92127): chats of departed owners (90500 otherwise, 90508 once
    inherited), at most 300 a day to one new owner; per-chat failures in failed_chat_list under errcode 0."""
    return _groupchat_transfer(ctx, resigned=True)


@api("externalcontact/groupchat/onjob_transfer")
def groupchat_onjob_transfer(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/groupchat/onjob_transfer (doc 95703): chats of members still employed (90502 otherwise),
    at most 2 transfers per chat per 90 days and 300 a day to one new owner."""
    return _groupchat_transfer(ctx, resigned=False)
