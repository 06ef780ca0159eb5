"""`tocsin status`: every monitor with its state, last ping, next deadline and ping URL."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import click

from tocsin.cli import friendly_errors

COLUMNS = ("NAME", "KIND", "STATE", "LAST PING", "NEXT DEADLINE", "PING URL")


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def span(seconds: float) -> str:
    """``42s``, ``3m``, ``5h``, ``2d``: a rough, short length of time."""
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def ago(value: Any, now: datetime) -> str:
    """``3m ago`` for a past ISO time, ``never`` for none."""
    moment = _moment(value)
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    return f"in {span(seconds)}" if seconds < 0 else f"{span(seconds)} ago"


def until(value: Any, now: datetime) -> str:
    """``in 5m`` for a future ISO time, ``2m ago (overdue)`` for a past one, ``-`` for none."""
    moment = _moment(value)
    if moment is None:
        return "-"
    seconds = (moment - now).total_seconds()
    return f"in {span(seconds)}" if seconds >= 0 else f"{span(seconds)} ago (overdue)"


def render_table(monitors: Sequence[Mapping[str, Any]], now: datetime) -> list[str]:
    """The monitors as aligned text columns, one line each after a header."""
    if not monitors:
        return ["no monitors yet: describe some in tocsin.yaml and run `tocsin apply -f`"]
    rows = [COLUMNS] + [
        (
            str(m.get("name", "")),
            str(m.get("kind", "")),
            str(m.get("state", "")),
            ago(m.get("last_ping_at"), now),
            until(m.get("next_deadline"), now),
            str(m.get("ping_url", "")),
        )
        for m in monitors
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    ]


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of the monitors.")
@click.option(
    "--url",
    metavar="URL",
    help="Ask the server at URL through its API (needs TOCSIN_API_KEY). "
    "Default: TOCSIN_URL, else the local database.",
)
@friendly_errors
def status_command(as_json: bool, url: str | None) -> None:
    """Show every monitor: name, kind, state, last ping, next deadline and ping URL."""
    from tocsin.server.config.backends import Backend, Json
    from tocsin.server.config.target import run_with_backend
    from tocsin.settings import Settings

    settings = Settings.from_env()

    async def work(backend: Backend) -> list[Json]:
        async with backend.session(write=False) as session:
            return await session.list_monitors()

    monitors = run_with_backend(settings, url, work)
    if as_json:
        click.echo(json.dumps(monitors, indent=2))
        return
    for line in render_table(monitors, datetime.now(UTC)):
        click.echo(line)


COMMANDS: list[click.Command] = [status_command]
