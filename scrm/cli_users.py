"""`scrm user …`: local console accounts, for the embedded default and as a deployment's break-glass admin
(everyone else signs in with WeCom or DingTalk)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("user")
def user_group() -> None:
    """Local console accounts (admins)."""


@user_group.command("create")
@click.argument("username")
@click.option("--corp", "corp_key", help="the corp the account administers (default: every corp)")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="at least 10 characters (asked for when left out)")
@with_appcontext
def user_create(username: str, corp_key: str | None, password: str) -> None:
    """Create a local admin account for the console (/console/login)."""
    from scrm.errors import DomainError
    from scrm.services import corps, web_identity

    try:
        corp = corps.get_corp(corp_key) if corp_key else None
        web_identity.create_user(username, password, corp=corp)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"account {username} created: admin of {corp.name if corp else 'every corp'}")


@user_group.command("password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def user_password(username: str, password: str) -> None:
    """Set a new password (and enable the account again)."""
    from scrm.errors import DomainError
    from scrm.services import web_identity

    try:
        web_identity.set_password(username, password)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"password of {username} set")


@user_group.command("disable")
@click.argument("username")
@with_appcontext
def user_disable(username: str) -> None:
    """Disable an account: its sessions end at their next request."""
    from scrm.errors import DomainError
    from scrm.services import web_identity

    try:
        web_identity.disable_user(username)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"account {username} disabled")


@user_group.command("list")
@with_appcontext
def user_list() -> None:
    """Accounts: name, corp, created, disabled."""
    from scrm.services import web_identity

    for user in web_identity.list_users():
        state = f"disabled {user.disabled_at:%Y-%m-%d}" if user.disabled_at else "active"
        click.echo(f"{user.username}\t{user.role}\tcorp={user.corp_id or 'all'}\t{user.created_at:%Y-%m-%d}\t{state}")
