"""`tocsin status`: every monitor with its state, last ping, when it will be late and down
without a ping, and its ping URL."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from tocsin.cli import friendly_errors, to_stderr
from tocsin.cli.status_probes import render_probes

if TYPE_CHECKING:
    from tocsin.server.config.backends import Backend

COLUMNS = ("NAME", "KIND", "STATE", "LAST PING", "LATE AFTER", "DOWN AFTER", "PING URL")


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
    return "never" if moment is None else _relative(moment, now)


def _relative(moment: datetime, now: datetime) -> str:
    seconds = (now - moment).total_seconds()
    return f"in {span(seconds)}" if seconds < 0 else f"{span(seconds)} ago"


def until(value: Any, now: datetime) -> str:
    """``in 5m`` for a future ISO time, ``2m ago (overdue)`` for a past one, ``-`` for none."""
    return _until(_moment(value), now)


def _until(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = (moment - now).total_seconds()
    return f"in {span(seconds)}" if seconds >= 0 else f"{span(seconds)} ago (overdue)"


def late_and_down(monitor: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """When ``monitor`` becomes late (grace starts) and when it goes down, without a ping.

    The API's ``next_deadline`` is the next of these two that is still ahead: for an ``up``
    monitor grace starts then, for one in ``grace`` (or a ``started`` run, which goes down
    when it has not ended within grace of its start) it goes down then.
    """
    deadline = _moment(monitor.get("next_deadline"))
    grace = monitor.get("grace_seconds")
    if deadline is None or not isinstance(grace, int | float):
        return None, None
    state = monitor.get("state")
    if state == "up":
        return deadline, deadline + timedelta(seconds=grace)
    if state == "grace":
        return deadline - timedelta(seconds=grace), deadline
    return None, deadline


def render_table(
    monitors: Sequence[Mapping[str, Any]], now: datetime, *, verbose: bool = False
) -> list[str]:
    """The monitors as aligned text columns: heartbeats in one table, probed monitors
    (with their last result and components) in a second one; ``verbose`` adds, under each
    probed monitor, every assertion's outcome in its last result."""
    if not monitors:
        return ["no monitors yet: describe some in tocsin.yaml and run `tocsin apply -f`"]
    heartbeats = [m for m in monitors if m.get("kind", "heartbeat") == "heartbeat"]
    probed = [m for m in monitors if m.get("kind", "heartbeat") != "heartbeat"]
    lines = _heartbeat_table(heartbeats, now) if heartbeats else []
    if probed:
        lines += [""] if lines else []
        lines += render_probes(probed, now, ago, outcomes=verbose)
    return lines


def _heartbeat_table(monitors: Sequence[Mapping[str, Any]], now: datetime) -> list[str]:
    rows = [COLUMNS] + [
        (
            str(m.get("name", "")),
            str(m.get("kind", "")),
            str(m.get("state", "")),
            ago(m.get("last_ping_at"), now),
            *_late_and_down_cells(m, now),
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


def _late_and_down_cells(monitor: Mapping[str, Any], now: datetime) -> tuple[str, str]:
    late, down = late_and_down(monitor)
    return ("-" if late is None else _relative(late, now)), _until(down, now)


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of the monitors.")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Under each probed monitor, every assertion's outcome in its last check "
    "(✓ passed, ✗ failed, ! a [warn] assertion failed).",
)
@click.option(
    "--url",
    metavar="URL",
    help="Ask the server at URL through its API (needs TOCSIN_API_KEY). "
    "Default: TOCSIN_URL, else the local database.",
)
@friendly_errors
def status_command(as_json: bool, verbose: bool, url: str | None) -> None:
    """Show every monitor. Heartbeats: state, last ping, when each becomes late and goes
    down without a ping, and its ping URL. Probed monitors (http, app, tcp): state, the
    running confirmation count, the last check and what it found (its failed assertions;
    every assertion's outcome with -v), and each component of an app monitor with its
    value and state."""
    from tocsin.server.config.backends import Json
    from tocsin.server.config.target import run_with_backend
    from tocsin.settings import Settings

    settings = Settings.from_env()

    async def work(backend: Backend) -> list[Json]:
        async with backend.session(write=False) as session:
            monitors = await session.list_monitors()
        await _tell_slug_ping_urls(backend)
        return monitors

    monitors = run_with_backend(settings, url, work, to_stderr)
    if as_json:
        click.echo(json.dumps(monitors, indent=2))
        return
    for line in render_table(monitors, datetime.now(UTC), verbose=verbose):
        click.echo(line)


async def _tell_slug_ping_urls(backend: Backend) -> None:
    """One line on stderr with the slug ping URL pattern (it holds the project's ping key)."""
    from tocsin.errors import NotFoundError

    try:
        project = await backend.project()
    except NotFoundError:  # a server from before GET /api/v1/project
        return
    pattern = str(project["slug_ping_url"]).replace("{slug}", "<slug>")
    to_stderr(f"tocsin: slug ping URLs: {pattern}")


COMMANDS: list[click.Command] = [status_command]
