"""`tocsin deliveries`: the newest attempts to deliver alerts, with what receivers said."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import click

from tocsin.cli import friendly_errors, to_stderr
from tocsin.cli.channels import table

COLUMNS = (
    "TIME (UTC)",
    "CHANNEL",
    "MONITOR",
    "KIND",
    "ATTEMPT",
    "OUTCOME",
    "STATUS",
    "DURATION",
    "ERROR",
)
# The table's error column is cut to this; --json has the whole text.
ERROR_CHARS = 60


def _time(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value)


def _cut(text: str, most: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 1] + "…"


def render_deliveries(deliveries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The attempts as aligned columns, newest first."""
    if not deliveries:
        return ["no delivery attempts yet (or none that match)"]
    rows = [COLUMNS] + [
        (
            _time(d.get("at")),
            str(d.get("channel", "")),
            str(d.get("monitor", "")),
            str(d.get("kind", "")),
            str(d.get("attempt", "")),
            str(d.get("outcome", "")),
            "-" if d.get("status") is None else str(d["status"]),
            f"{d.get('duration_ms', '?')} ms",
            _cut(str(d.get("error") or ""), ERROR_CHARS) or "-",
        )
        for d in deliveries
    ]
    return table(rows)


@click.command("deliveries")
@click.option("--channel", metavar="NAME", help="Only attempts to this channel (name or uuid).")
@click.option("--monitor", metavar="NAME", help="Only alerts of this monitor (name or uuid).")
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=50,
    show_default=True,
    help="How many of the newest attempts to show.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, error texts whole.")
@click.option(
    "--url",
    metavar="URL",
    help="Ask the server at URL through its API (needs TOCSIN_API_KEY). "
    "Default: TOCSIN_URL, else the local database.",
)
@friendly_errors
def deliveries_command(
    channel: str | None, monitor: str | None, limit: int, as_json: bool, url: str | None
) -> None:
    """Show the newest attempts to deliver alerts: when, to which channel, for which
    monitor, down or up, the attempt's number, its outcome (delivered, retry, failed),
    the receiver's HTTP status or SMTP reply, how long it took and the error."""
    from tocsin.server.config.backends import Backend, Json
    from tocsin.server.config.target import run_with_backend
    from tocsin.settings import Settings

    async def work(backend: Backend) -> list[Json]:
        return await backend.list_deliveries(channel=channel, monitor=monitor, limit=limit)

    found = run_with_backend(Settings.from_env(), url, work, to_stderr)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for line in render_deliveries(found):
        click.echo(line)


COMMANDS = [deliveries_command]
