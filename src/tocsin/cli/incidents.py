"""`tocsin incidents`: open and recent incidents, with what broke and for how long."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import click

from tocsin.cli import friendly_errors, to_stderr
from tocsin.cli.channels import table
from tocsin.durations import format_duration

COLUMNS = ("OPENED (UTC)", "MONITOR", "STATE", "DURATION", "ALERTS", "CAUSE")
CAUSE_CHARS = 70


def _time(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value)


def _duration(seconds: Any) -> str:
    from datetime import timedelta

    try:
        return format_duration(timedelta(seconds=round(float(seconds))))
    except (TypeError, ValueError):
        return "?"


def render_incidents(incidents: Sequence[Mapping[str, Any]]) -> list[str]:
    """The incidents as aligned columns, newest first; under an incident, the monitors
    depending on it that went down while it was down (``also affected: a, b``)."""
    if not incidents:
        return ["no incidents (or none that match)"]
    rows = [COLUMNS] + [
        (
            _time(i.get("opened_at")),
            str(i.get("monitor", "")),
            "resolved" if i.get("resolved_at") else "OPEN",
            _duration(i.get("duration_seconds")),
            str(i.get("alerts", "")),
            " ".join(str(i.get("cause", "")).split())[:CAUSE_CHARS],
        )
        for i in incidents
    ]
    header, *lines = table(rows)
    shown = [header]
    for line, incident in zip(lines, incidents, strict=True):
        shown.append(line)
        if incident.get("children"):
            shown.append(f"  also affected: {', '.join(map(str, incident['children']))}")
    return shown


@click.command("incidents")
@click.option("--open", "open_only", is_flag=True, help="Only incidents still open.")
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=50,
    show_default=True,
    help="How many of the newest incidents to show.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option(
    "--url",
    metavar="URL",
    help="Ask the server at URL through its API (needs TOCSIN_API_KEY). "
    "Default: TOCSIN_URL, else the local database.",
)
@friendly_errors
def incidents_command(open_only: bool, limit: int, as_json: bool, url: str | None) -> None:
    """Show open and recent incidents: when each monitor went down, whether it is still
    down, for how long, how many alerts went out and what failed."""
    from tocsin.server.config.backends import Backend, Json
    from tocsin.server.config.target import run_with_backend
    from tocsin.settings import Settings

    async def work(backend: Backend) -> list[Json]:
        return await backend.list_incidents(open_only=open_only, limit=limit)

    found = run_with_backend(Settings.from_env(), url, work, to_stderr)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for line in render_incidents(found):
        click.echo(line)


COMMANDS = [incidents_command]
