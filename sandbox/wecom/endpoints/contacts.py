"""Address book, customers, remarks and the tag library (doc 90201, 92113, 92114, 92994, 92694, 96320, 92118)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from sandbox.wecom.endpoints.base import (Ctx, WeComError, api, cursor_out, customer, customer_json, follow,
                                          follow_info, follow_json, int_cursor, page_limit, settle, tags_of, user,
                                          user_json)
from sandbox.wecom.models import (Customer, Department, Follow, LEFT, Tag, TagGroup, User, delete_tags, new_id)

# ---------------------------------------------------------------- address book


@api("department/list", "GET")
def department_list(ctx: Ctx) -> dict[str, Any]:
    """GET department/list[?id=] (doc 90208): the department and its descendants, or all."""
    rows = list(ctx.s.scalars(select(Department).where(Department.corp_id == ctx.corp.corp_id)
                              .order_by(Department.dept_id)))
    root = ctx.opt("id")
    if root not in (None, ""):
        try:
            root = int(root)
        except ValueError:
            raise WeComError(60123) from None
        if not any(d.dept_id == root for d in rows):
            raise WeComError(60123)
        keep, changed = {root}, True
        while changed:
            before = len(keep)
            keep |= {d.dept_id for d in rows if d.parent_id in keep}
            changed = len(keep) != before
        rows = [d for d in rows if d.dept_id in keep]
    return {"department": [{"id": d.dept_id, "name": d.name, "parentid": d.parent_id, "order": d.order}
                           for d in rows]}


@api("user/get", "GET")
def user_get(ctx: Ctx) -> dict[str, Any]:
    """GET user/get?userid= (doc 96255)."""
    return user_json(user(ctx, ctx.need("userid", 41009), errcode=60111))


def _users_of(ctx: Ctx) -> list[User]:
    raw = ctx.need("department_id", 60123)
    try:
        dept = int(raw)
    except ValueError:
        raise WeComError(60123) from None
    if ctx.s.get(Department, (ctx.corp.corp_id, dept)) is None:
        raise WeComError(60123)
    users = ctx.s.scalars(select(User).where(User.corp_id == ctx.corp.corp_id, User.status != LEFT)
                          .order_by(User.userid))
    return [u for u in users if dept in (u.department or [])]


@api("user/list", "GET")
def user_list(ctx: Ctx) -> dict[str, Any]:
    """GET user/list?department_id= (doc 96260): the department's direct members; the host no longer reads
    fetch_child, so sub-departments are asked one by one."""
    return {"userlist": [user_json(u) for u in _users_of(ctx)]}


@api("user/simplelist", "GET")
def user_simplelist(ctx: Ctx) -> dict[str, Any]:
    """GET user/simplelist?department_id= (doc 96259): direct members only, like user/list."""
    return {"userlist": [{"userid": u.userid, "name": u.name, "department": u.department} for u in _users_of(ctx)]}


# ---------------------------------------------------------------- customers


@api("externalcontact/get_follow_user_list", "GET")
def get_follow_user_list(ctx: Ctx) -> dict[str, Any]:
    """GET externalcontact/get_follow_user_list (doc 92571): members who may have customers."""
    users = ctx.s.scalars(select(User.userid).where(User.corp_id == ctx.corp.corp_id, User.status == 1)
                          .order_by(User.userid))
    return {"follow_user": list(users)}


@api("externalcontact/list", "GET")
def externalcontact_list(ctx: Ctx) -> dict[str, Any]:
    """GET externalcontact/list?userid= (doc 92113); 84061 for a member with no customers."""
    u = user(ctx, ctx.need("userid", 41009))
    settle(ctx)
    ids = list(ctx.s.scalars(select(Follow.external_userid).where(Follow.corp_id == ctx.corp.corp_id,
                                                                  Follow.userid == u.userid).order_by(Follow.id)))
    if not ids:  # a member without customers is answered 84061 "not external contact", not an empty list
        raise WeComError(84061, u.userid)
    return {"external_userid": ids}


@api("externalcontact/get", "GET")
def externalcontact_get(ctx: Ctx) -> dict[str, Any]:
    """GET externalcontact/get?external_userid=&cursor= (doc 92114); followers page at 500."""
    c = customer(ctx, ctx.need("external_userid", 41035))
    settle(ctx)
    after = int_cursor(ctx.opt("cursor"))
    page = int(ctx.corp.limit("get_follow_page", 500))
    rows = list(ctx.s.scalars(select(Follow).where(Follow.external_userid == c.external_userid, Follow.id > after)
                              .order_by(Follow.id).limit(page + 1)))
    if not rows and not after:
        raise WeComError(84061)
    more = len(rows) > page
    rows = rows[:page]
    tags = tags_of(ctx, rows)
    return {"external_contact": customer_json(c), "follow_user": [follow_json(f, tags) for f in rows],
            "next_cursor": cursor_out(rows[-1].id) if more else ""}


@api("externalcontact/batch/get_by_user")
def batch_get_by_user(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/batch/get_by_user (doc 92994): userid_list <= 100, limit <= 100 (default 50)."""
    userids = ctx.need("userid_list", 40058, kind=list)
    if len(userids) > 100 or not all(isinstance(u, str) for u in userids):
        raise WeComError(40058, "userid_list holds at most 100 userids")
    limit = page_limit(ctx, "limit", 50, 100)
    after = int_cursor(ctx.opt("cursor"))
    settle(ctx)
    rows = list(ctx.s.execute(select(Follow, Customer)
                              .join(Customer, Customer.external_userid == Follow.external_userid)
                              .where(Follow.corp_id == ctx.corp.corp_id, Follow.userid.in_(userids), Follow.id > after)
                              .order_by(Follow.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    tags = tags_of(ctx, [f for f, _ in rows])
    return {"external_contact_list": [{"external_contact": customer_json(c), "follow_info": follow_info(f, tags)}
                                      for f, c in rows],
            "next_cursor": cursor_out(rows[-1][0].id) if more else ""}


def _text(ctx: Ctx, key: str, maximum: int) -> str | None:
    value = ctx.opt(key, kind=str)
    if value is not None and len(value) > maximum:
        raise WeComError(40058, f"{key} longer than {maximum}")
    return value


@api("externalcontact/remark")
def remark(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/remark (doc 92694): remark <= 20, description <= 150, remark_company <= 20."""
    u = user(ctx, ctx.need("userid", 41009))
    c = customer(ctx, ctx.need("external_userid", 41035))
    values = {"remark": _text(ctx, "remark", 20), "description": _text(ctx, "description", 150),
              "remark_company": _text(ctx, "remark_company", 20)}
    mobiles = ctx.opt("remark_mobiles", kind=list)
    if mobiles is not None and (len(mobiles) > 5 or not all(isinstance(m, str) for m in mobiles)):
        raise WeComError(40058, "remark_mobiles")
    f = follow(ctx, u.userid, c.external_userid)
    for key, value in values.items():
        if value is not None:
            setattr(f, key, value)
    # the list replaces the old one; [""] is how the host is told to clear it, and an empty list changes nothing
    if mobiles:
        f.remark_mobiles = [m for m in mobiles if m]
    return {}


@api("externalcontact/mark_tag")
def mark_tag(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/mark_tag (doc 92118)."""
    u = user(ctx, ctx.need("userid", 41009))
    c = customer(ctx, ctx.need("external_userid", 41035))
    add, remove = ctx.opt("add_tag", [], kind=list), ctx.opt("remove_tag", [], kind=list)
    if not add and not remove:
        raise WeComError(41017)
    known = set(ctx.s.scalars(select(Tag.tag_id).where(Tag.corp_id == ctx.corp.corp_id,
                                                       Tag.tag_id.in_([*add, *remove]))))
    if set(add) - known or set(remove) - known:
        raise WeComError(40068, ",".join(sorted(set(add) | set(remove) - known)))
    f = follow(ctx, u.userid, c.external_userid)
    current = [t for t in (f.tag_ids or []) if t not in set(remove)]
    f.tag_ids = current + [t for t in dict.fromkeys(add) if t not in current]
    return {}


# ---------------------------------------------------------------- tag library


def _group_json(g: TagGroup, tags: list[Tag]) -> dict[str, Any]:
    return {"group_id": g.group_id, "group_name": g.name, "create_time": g.create_time, "order": g.order,
            "deleted": False,
            "tag": [{"id": t.tag_id, "name": t.name, "create_time": t.create_time, "order": t.order, "deleted": False}
                    for t in tags]}


@api("externalcontact/get_corp_tag_list")
def get_corp_tag_list(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/get_corp_tag_list (doc 96320): group_id wins over tag_id; neither means all."""
    tag_ids, group_ids = ctx.opt("tag_id", [], kind=list), ctx.opt("group_id", [], kind=list)
    q = select(Tag, TagGroup).join(TagGroup, Tag.group_id == TagGroup.group_id).where(Tag.corp_id == ctx.corp.corp_id)
    if group_ids:
        q = q.where(Tag.group_id.in_(group_ids))
    elif tag_ids:
        q = q.where(Tag.tag_id.in_(tag_ids))
    groups: dict[str, tuple[TagGroup, list[Tag]]] = {}
    for tag, group in ctx.s.execute(q.order_by(TagGroup.order.desc(), TagGroup.group_id, Tag.order.desc(), Tag.tag_id)):
        groups.setdefault(group.group_id, (group, []))[1].append(tag)
    return {"tag_group": [_group_json(g, tags) for g, tags in groups.values()]}


def _tag_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise WeComError(40072)
    if len(name) > 30:
        raise WeComError(40072)
    return name


@api("externalcontact/add_corp_tag")
def add_corp_tag(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/add_corp_tag (doc 96320): into group_id, else into (or as) the group named group_name."""
    corp_id, now = ctx.corp.corp_id, int(ctx.now)
    specs = ctx.need("tag", 40058, kind=list)
    group_id = ctx.opt("group_id", kind=str)
    if group_id:
        group = ctx.s.get(TagGroup, group_id)
        if group is None or group.corp_id != corp_id:
            raise WeComError(40068, group_id)
    else:
        name = _tag_name(ctx.need("group_name", 40058))
        group = ctx.s.scalar(select(TagGroup).where(TagGroup.corp_id == corp_id, TagGroup.name == name))
        if group is None:
            group = TagGroup(group_id=new_id("et"), corp_id=corp_id, name=name,
                             order=int(ctx.opt("order", 0, kind=int)), create_time=now)
            ctx.s.add(group)
    existing = set(ctx.s.scalars(select(Tag.name).where(Tag.group_id == group.group_id)))
    added = []
    for spec in specs:
        if not isinstance(spec, dict):
            raise WeComError(40058, "tag")
        name = _tag_name(spec.get("name"))
        if name in existing:
            raise WeComError(40071, name)
        existing.add(name)
        tag = Tag(tag_id=new_id("et"), corp_id=corp_id, group_id=group.group_id, name=name,
                  order=int(spec.get("order") or 0), create_time=now)
        ctx.s.add(tag)
        added.append(tag)
    return {"tag_group": _group_json(group, added)}


@api("externalcontact/edit_corp_tag")
def edit_corp_tag(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/edit_corp_tag (doc 96320): `id` is a tag id or a group id."""
    ident = ctx.need("id", 40068)
    name = ctx.opt("name", kind=str)
    order = ctx.opt("order", kind=int)
    tag = ctx.s.get(Tag, ident)
    group = None if tag else ctx.s.get(TagGroup, ident)
    target = tag or group
    if target is None or target.corp_id != ctx.corp.corp_id:
        raise WeComError(40068, ident)
    if name is not None:
        name = _tag_name(name)
        if tag:
            clash = select(Tag.tag_id).where(Tag.group_id == tag.group_id, Tag.name == name, Tag.tag_id != ident)
        else:
            clash = select(TagGroup.group_id).where(TagGroup.corp_id == ctx.corp.corp_id, TagGroup.name == name,
                                                    TagGroup.group_id != ident)
        if ctx.s.scalar(clash) is not None:
            raise WeComError(40071, name)
        target.name = name
    if order is not None:
        target.order = order
    return {}


@api("externalcontact/del_corp_tag")
def del_corp_tag(ctx: Ctx) -> dict[str, Any]:
    """POST externalcontact/del_corp_tag (doc 96320): a group left without tags is deleted too."""
    tag_ids, group_ids = ctx.opt("tag_id", [], kind=list), ctx.opt("group_id", [], kind=list)
    if not tag_ids and not group_ids:
        raise WeComError(41017)
    corp_id = ctx.corp.corp_id
    tags = list(ctx.s.scalars(select(Tag).where(Tag.corp_id == corp_id, Tag.tag_id.in_(tag_ids)))) if tag_ids else []
    groups = list(ctx.s.scalars(select(TagGroup).where(TagGroup.corp_id == corp_id,
                                                       TagGroup.group_id.in_(group_ids)))) if group_ids else []
    if len(tags) != len(set(tag_ids)) or len(groups) != len(set(group_ids)):
        raise WeComError(40068)
    delete_tags(ctx.s, corp_id, [t.tag_id for t in tags], [g.group_id for g in groups])
    return {}
