"""`scrm welcomes list`: did a customer get the welcome message, and if not, why (one line a delivery)."""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from scrm.services.welcome import STATUSES


@click.group("welcomes")
def welcomes_group() -> None:
    """Welcome messages: what was sent to whom, and why not."""


@welcomes_group.command("list")
@click.option("--corp", "corp_key", required=True)
@click.option("--customer", "customer_id", type=click.IntRange(min=1), help="the customer's id in SCRM")
@click.option("--external-userid", help="the customer's id on the host (external_userid)")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def welcomes_list(corp_key: str, customer_id: int | None, external_userid: str | None, status: str | None,
                  limit: int, as_json: bool) -> None:
    """List welcome deliveries, newest first, with the reason in words."""
    from sqlalchemy import exc as sa_exc

    from scrm.errors import DomainError
    from scrm.services import corps, welcome_log
    from scrm.services.access import Principal

    if customer_id and external_userid:
        raise click.UsageError("give --customer or --external-userid, not both")
    try:
        principal = Principal(corps.get_corp(corp_key), "admin", None)
        page = welcome_log.search(principal, {"customer_id": customer_id, "external_userid": external_userid,
                                              "status": status}, limit=limit)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise click.ClickException(f"cannot read the database (SCRM_DATABASE_URL): {reason}") from None
    if as_json:
        click.echo(json.dumps(page["items"], ensure_ascii=False, indent=2))
        return
    if not page["items"]:
        click.echo("no welcome deliveries match")
    for row in page["items"]:
        customer, employee = row["customer"], row["employee"]
        who = f"{customer['name'] or '?'} ({customer['external_userid']})"
        channel = f" via {row['channel']['name']}" if row["channel"] else ""
        click.echo(f"{row['id']:>8} {row['at'][:19]}Z {row['status']:8} {who} <- {employee['name'] or '?'} "
                   f"({employee['userid']}){channel}: {row['reason']}")
