"""Who is using a page: an employee signed in through their host (WeCom OAuth, DingTalk's free-login code, either
host's scan-to-login), or a local console account (`scrm user create`).

A signed-in person is a `Principal`, with the same roles and scope as an API token (`services.access`):
- a host employee is `admin` when the corp lists their host id under the option `admins`, `manager` when they lead
  a department, `sales` otherwise;
- a local account is an admin of its corp or, without one, of the corp chosen in the console.

What a session keeps is only ids (`Identity`); `principal` turns them back into a principal on every request, so
access ends the moment an employee departs, an account is disabled or a leader loses their department.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from scrm.db import unit_of_work
from scrm.errors import ValidationError
from scrm.extensions import db
from scrm.models import Corp, Employee, EmployeeDepartment, WebUser, utcnow
from scrm.services.access import Principal
from scrm.services.corps import host_for

USERNAME_MAX = 64
PASSWORD_MIN = 10
#: checked against when a username is unknown, so a wrong name costs as long as a wrong password
_DUMMY_HASH = generate_password_hash("scrm-no-such-user")


class Refused(Exception):
    """Sign-in refused; `reason` names why for the page that says so."""

    REASONS = ("not_member", "not_visible", "departed", "bad_code", "bad_password", "no_corp")

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """What a session holds: a corp and either an employee or a local account."""

    corp_id: int | None
    employee_id: int | None = None
    user_id: int | None = None

    def dump(self) -> dict:
        return {"c": self.corp_id, "e": self.employee_id, "u": self.user_id}

    @classmethod
    def load(cls, data) -> Identity | None:
        if not isinstance(data, dict):
            return None
        values = [data.get(k) for k in ("c", "e", "u")]
        if any(v is not None and (not isinstance(v, int) or isinstance(v, bool)) for v in values):
            return None
        return cls(*values)


# ---------------------------------------------------------------- host employees


def sign_in_with_code(corp: Corp, code: str, *, scanned: bool = False) -> Identity:
    """A host's single-use login code (WeCom OAuth `code`, DingTalk `requestAuthCode`; with `scanned`, the code
    of the host's scan-to-login page) to the employee's identity.
    Raises Refused: not a member (a customer opening the page), not in the app's visible range (never synced),
    departed. Host errors (an expired or reused code) reach the caller as HostError."""
    if not isinstance(code, str) or not code or len(code) > 512:
        raise Refused("bad_code", "the login code is missing or malformed")
    host = host_for(corp)
    who = host.resolve_web_login(code) if scanned else host.resolve_login(code)
    if not who.user_id:
        raise Refused("not_member", "the page was opened by someone who is not a member of the corp")
    employee = db.session.scalar(select(Employee).where(Employee.corp_id == corp.id,
                                                        Employee.host_id == who.user_id))
    db.session.rollback()  # a read: end the snapshot before the caller writes the session
    if employee is None:
        raise Refused("not_visible", f"{who.user_id} is not among the app's synced members")
    if employee.status != "active":
        raise Refused("departed", f"{employee.host_id} has left the corp")
    return Identity(corp.id, employee_id=employee.id)


def role_of(employee: Employee, corp: Corp) -> str:
    admins = (corp.options or {}).get("admins") or []
    if isinstance(admins, list) and employee.host_id in admins:
        return "admin"
    leads = db.session.scalar(select(EmployeeDepartment.employee_id).where(
        EmployeeDepartment.employee_id == employee.id, EmployeeDepartment.is_leader.is_(True)).limit(1))
    return "manager" if leads is not None else "sales"


# ---------------------------------------------------------------- local accounts


def create_user(username: str, password: str, *, corp: Corp | None = None) -> WebUser:
    """A local admin account (of one corp, or of every corp without one); its password is kept as a salted hash
    (werkzeug's scrypt). Salespeople and managers sign in through their host, where their scope is known."""
    username = (username or "").strip()
    if not username or len(username) > USERNAME_MAX or any(c.isspace() for c in username):
        raise ValidationError("username", f"1 to {USERNAME_MAX} characters, no spaces")
    if len(password or "") < PASSWORD_MIN:
        raise ValidationError("password", f"at least {PASSWORD_MIN} characters")
    with unit_of_work():
        if db.session.scalar(select(WebUser.id).where(WebUser.username == username)) is not None:
            raise ValidationError("username", f"{username} exists already")
        user = WebUser(username=username, password_hash=generate_password_hash(password),
                       corp_id=corp.id if corp else None, role="admin")
        db.session.add(user)
    return user


def set_password(username: str, password: str) -> None:
    if len(password or "") < PASSWORD_MIN:
        raise ValidationError("password", f"at least {PASSWORD_MIN} characters")
    with unit_of_work():
        user = db.session.scalar(select(WebUser).where(WebUser.username == username).with_for_update())
        if user is None:
            raise ValidationError("username", f"no account {username}")
        user.password_hash, user.disabled_at = generate_password_hash(password), None


def disable_user(username: str) -> None:
    with unit_of_work():
        user = db.session.scalar(select(WebUser).where(WebUser.username == username).with_for_update())
        if user is None:
            raise ValidationError("username", f"no account {username}")
        user.disabled_at = user.disabled_at or utcnow()


def list_users() -> list[WebUser]:
    return list(db.session.scalars(select(WebUser).order_by(WebUser.id)))


def sign_in_local(username: str, password: str) -> Identity:
    """A local account's identity; Refused("bad_password") for an unknown name, a wrong password or a disabled
    account alike (nothing tells them apart)."""
    user = db.session.scalar(select(WebUser).where(WebUser.username == (username or "").strip()[:USERNAME_MAX]))
    db.session.rollback()
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    if user is None or not ok or user.disabled_at is not None:
        raise Refused("bad_password")
    corp_id = user.corp_id if user.corp_id is not None else _only_corp()
    return Identity(corp_id, user_id=user.id)


def _only_corp() -> int | None:
    ids = list(db.session.scalars(select(Corp.id).order_by(Corp.id).limit(2)))
    return ids[0] if len(ids) == 1 else None


def switch_corp(identity: Identity, corp_id: int) -> Identity:
    """A local account without a corp of its own chooses the corp it acts in."""
    user = db.session.get(WebUser, identity.user_id) if identity.user_id else None
    if user is None or user.corp_id is not None or db.session.get(Corp, corp_id) is None:
        raise Refused("no_corp", f"corp {corp_id} cannot be chosen")
    return Identity(corp_id, user_id=user.id)


# ---------------------------------------------------------------- every request


def principal(identity: Identity | None) -> Principal | None:
    """The identity's principal now, or None: an employee who departed (or whose corp is gone), a disabled or
    deleted account, an account that has not chosen a corp yet."""
    if identity is None or identity.corp_id is None:
        return None
    corp = db.session.get(Corp, identity.corp_id)
    if corp is None:
        return None
    if identity.employee_id is not None:
        employee = db.session.get(Employee, identity.employee_id)
        if employee is None or employee.corp_id != corp.id or employee.status != "active":
            return None
        return Principal(corp, role_of(employee, corp), employee.id)
    user = db.session.get(WebUser, identity.user_id) if identity.user_id else None
    if user is None or user.disabled_at is not None or user.corp_id not in (None, corp.id):
        return None
    return Principal(corp, user.role, None)


def account(identity: Identity | None) -> dict | None:
    """Whom a page greets: name and kind, for the header."""
    if identity is None:
        return None
    if identity.employee_id is not None:
        employee = db.session.get(Employee, identity.employee_id)
        return {"name": employee.name, "kind": "employee", "avatar": employee.avatar} if employee else None
    user = db.session.get(WebUser, identity.user_id) if identity.user_id else None
    return {"name": user.username, "kind": "local", "avatar": None, "any_corp": user.corp_id is None} \
        if user else None
