"""`scrm events ...` (inspect and replay the inbox) and `scrm stream` (the DingTalk Stream-mode runner)."""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from scrm.errors import NotFound


def _row(row, full: bool = False) -> dict:
    data = {"id": row.id, "platform": row.platform, "corp_id": row.corp_id, "type": row.event_type,
            "status": row.status, "attempts": row.attempts, "received_at": _iso(row.received_at),
            "processed_at": _iso(row.processed_at), "last_error": row.last_error}
    if full:
        data.update(dedupe_key=row.dedupe_key, ordering_key=row.ordering_key, payload=row.payload,
                    next_attempt_at=_iso(row.next_attempt_at))
    return data


def _iso(value) -> str | None:
    return value.isoformat() + "Z" if value else None


@click.group("events")
def events_group() -> None:
    """Inspect and replay received host events (the inbox)."""


@events_group.command("list")
@click.option("--corp", "corp_key", help="corp_key")
@click.option("--status", type=click.Choice(["pending", "processing", "done", "ignored", "dead"]))
@click.option("--type", "event_type", help="event type prefix, e.g. change_external_contact")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def events_list(corp_key, status, event_type, limit, as_json):
    """List the newest events first."""
    from scrm.services import corps, inbox

    corp_id = corps.get_corp(corp_key).id if corp_key else None
    rows = [_row(r) for r in inbox.list_events(corp_id=corp_id, status=status, event_type=event_type, limit=limit)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']:>8} {r['status']:10} {r['attempts']:>2} {r['received_at']} {r['type']}"
                   + (f"  ! {r['last_error'][:80]}" if r["last_error"] else ""))


@events_group.command("show")
@click.argument("inbox_id", type=int)
@with_appcontext
def events_show(inbox_id):
    """Show one event with its decrypted payload and last error."""
    from scrm.services import inbox

    try:
        click.echo(json.dumps(_row(inbox.get(inbox_id), full=True), ensure_ascii=False, indent=2))
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None


@events_group.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option("--status", type=click.Choice(["dead", "ignored", "done", "pending"]),
              help="replay every event with this status")
@click.option("--corp", "corp_key")
@with_appcontext
def events_replay(ids, status, corp_key):
    """Process events again (idempotent): by id, or all with a status."""
    from scrm.services import corps, inbox
    from tasks.events import enqueue

    if not ids and not status:
        raise click.UsageError("give event ids or --status")
    corp_id = corps.get_corp(corp_key).id if corp_key else None
    targets = list(ids) + (inbox.ids_with_status(status, corp_id=corp_id, limit=100000) if status else [])
    replayed = inbox.replay(targets)
    for inbox_id in replayed:
        enqueue(inbox_id)
    click.echo(f"replayed {len(replayed)} event(s)")


@click.command("stream")
@click.option("--corp", "corp_key", required=True, help="corp_key of a DingTalk corp")
@with_appcontext
def stream_command(corp_key):
    """Receive DingTalk events over Stream mode (WebSocket; no public callback URL needed)."""
    from flask import current_app

    from callbacks.stream import run

    try:
        run(current_app._get_current_object(), corp_key)
    except (NotFound, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
