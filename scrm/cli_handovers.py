"""`scrm handover list|plan|start|show|advance`: departed and on-job handovers for admins at the console."""
from __future__ import annotations

import functools
import json

import click
from flask.cli import with_appcontext


def _errors(fn):
    """Domain errors as one line, like the other commands."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from scrm.errors import DomainError
        from scrm.host import HostError

        try:
            return fn(*args, **kwargs)
        except (DomainError, HostError) as exc:
            raise click.ClickException(str(exc)) from None
    return wrapper


def _corp(corp_key: str):
    from scrm.services import corps

    return corps.get_corp(corp_key)


def _echo_summary(h: dict) -> None:
    counts = ", ".join(f"{state} {n}" for state, n in sorted(h["counts"].items())) or "no lines"
    click.echo(f"{h['id']:>6} {h['kind']:8} {h['status']:8} from {h['from_employee']['name']} "
               f"(#{h['from_employee']['id']}): {counts}")


@click.group("handover")
def handover_group() -> None:
    """Hand departed or current employees' customers and group chats over to colleagues."""


@handover_group.command("list")
@click.option("--corp", "corp_key", required=True)
@click.option("--unassigned", is_flag=True, help="departed employees still to hand over, not handovers")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
@_errors
def handover_list(corp_key: str, unassigned: bool, as_json: bool) -> None:
    """Handovers, newest first (or, with --unassigned, who still has customers to hand over)."""
    from scrm.services import handovers

    corp = _corp(corp_key)
    items = handovers.unassigned(corp) if unassigned else handovers.list_handovers(corp.id, limit=200)
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
    elif unassigned:
        for item in items:
            emp = item["employee"]
            click.echo(f"{emp['name'] or emp['host_id']} (#{emp['id']}, left {emp['departed_at'] or '?'}): "
                       f"{item['customers']} customers, {item['group_chats']} group chats")
        if not items:
            click.echo("nobody has customers or group chats waiting")
    else:
        for item in items:
            _echo_summary(item)
        if not items:
            click.echo("no handovers")


@handover_group.command("plan")
@click.option("--corp", "corp_key", required=True)
@click.option("--kind", type=click.Choice(["departed", "onjob"]), required=True)
@click.option("--from", "from_id", type=click.IntRange(min=1), required=True, help="the employee handing over")
@click.option("--to", "to_ids", type=click.IntRange(min=1), multiple=True, required=True,
              help="a taker (repeat for several)")
@click.option("--split", type=click.Choice(["even", "load"]), default="even", show_default=True)
@click.option("--customer", "customer_ids", type=click.IntRange(min=1), multiple=True,
              help="only these customers (repeat); default all")
@click.option("--message", help="on-job: what the customer is told")
@click.option("--reason")
@click.option("--dry-run", is_flag=True, help="preview only: store nothing")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
@_errors
def handover_plan(corp_key, kind, from_id, to_ids, split, customer_ids, message, reason, dry_run, as_json):
    """Plan a handover and show who gets whom (start it with `scrm handover start`)."""
    from scrm.services import handovers

    preview, _ = handovers.create(_corp(corp_key), handovers.Spec(
        kind=kind, from_employee_id=from_id, to_employee_ids=list(to_ids), split=split,
        customer_ids=list(customer_ids) or None, message=message, reason=reason, requested_by="cli"),
        dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(preview, ensure_ascii=False, indent=2))
        return
    head = "preview" if dry_run else f"handover {preview['id']} planned"
    click.echo(f"{head}: {preview['customers']} customers and {preview['group_chats']} group chats of "
               f"{preview['from_employee']['name']}")
    for taker in preview["takers"]:
        click.echo(f"  -> {taker['employee']['name']} (#{taker['employee']['id']}): {taker['customers']} customers, "
                   f"{taker['group_chats']} group chats")
    if preview["skipped"]:
        click.echo(f"  skipped {len(preview['skipped'])} already in a handover")


@handover_group.command("start")
@click.option("--corp", "corp_key", required=True)
@click.argument("handover_id", type=click.IntRange(min=1))
@with_appcontext
@_errors
def handover_start(corp_key: str, handover_id: int) -> None:
    """Start a planned handover (again: nothing is sent twice)."""
    from scrm.services import handovers

    corp = _corp(corp_key)
    handovers.start(corp, handover_id)
    _echo_summary(handovers.show(corp.id, handover_id, lines=False))


@handover_group.command("show")
@click.option("--corp", "corp_key", required=True)
@click.argument("handover_id", type=click.IntRange(min=1))
@click.option("--lines", is_flag=True, help="every customer and group chat with its state")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
@_errors
def handover_show(corp_key: str, handover_id: int, lines: bool, as_json: bool) -> None:
    """A handover's counts per state (and, with --lines, each line)."""
    from scrm.services import handovers

    shown = handovers.show(_corp(corp_key).id, handover_id, lines=lines or as_json)
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    _echo_summary(shown)
    for line in shown.get("lines", []):
        err = f" errcode {line['errcode']}" if line["errcode"] else ""
        click.echo(f"  {line['type']:10} {line['name'] or '?'} -> {line['to_employee']['name']}: {line['state']}"
                   f"{err} ({line['source'] or 'planned'})")


@handover_group.command("advance")
@click.option("--corp", "corp_key", required=True)
@click.argument("handover_id", type=click.IntRange(min=1))
@with_appcontext
@_errors
def handover_advance(corp_key: str, handover_id: int) -> None:
    """Read the host's results now (beat does it once the host's 24 hours have passed)."""
    from scrm.services import handovers

    corp = _corp(corp_key)
    handovers.show(corp.id, handover_id, lines=False)  # the corp's, or not found
    handovers.advance(handover_id, read_results=True)
    _echo_summary(handovers.show(corp.id, handover_id, lines=False))
