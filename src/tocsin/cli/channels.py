"""`tocsin channel test NAME` and `tocsin channel list`.

``test`` sends a test alert through a channel and prints the receiver's answer: exit 0
when it was delivered, 1 when it was not (2 for a usage error or an unknown channel).
Locally the alert leaves from this process, with the server's settings (so email needs
``TOCSIN_SMTP_URL`` here too); with ``--url`` the server sends it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from tocsin.cli import friendly_errors, to_stderr

_URL_HELP = (
    "Use the server at URL through its API (needs TOCSIN_API_KEY). "
    "Default: TOCSIN_URL, else the local database."
)


def _status(kind: object, status: object) -> str:
    """``SMTP 250`` for an email channel's reply code, else ``HTTP 200``."""
    return f"{'SMTP' if kind == 'email' else 'HTTP'} {status}"


def describe_answer(answer: Mapping[str, Any]) -> str:
    """The answer to a test in one line: what happened, how long it took, what the
    receiver said and, for a failure, whether real alerts would be retried."""
    name, kind = answer.get("channel", "?"), answer.get("channel_kind", "?")
    outcome = str(answer.get("outcome", "failed"))
    line = f"{name} ({kind}): {outcome} in {answer.get('duration_ms', '?')} ms"
    status = answer.get("status")
    if status is not None:
        line += f", {_status(kind, status)}"
    if answer.get("error"):
        line += f": {answer['error']}"
    permanent = answer.get("permanent")
    if permanent is True:
        line += " (permanent: alerts to it would not be retried; fix the channel)"
    elif permanent is False:
        line += " (transient: alerts to it would be retried)"
    return line


@click.group("channel")
def channel_group() -> None:
    """Notification channels: list them, send a test alert."""


@channel_group.command("test")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option("--url", metavar="URL", help=_URL_HELP)
@friendly_errors
def test_command(name: str, as_json: bool, url: str | None) -> None:
    """Send a test alert through channel NAME (or uuid) now and print the receiver's
    answer. Exit 0 if it was delivered, 1 if not."""
    from tocsin.server.config.backends import Backend, Json
    from tocsin.server.config.target import run_with_backend
    from tocsin.settings import Settings

    async def work(backend: Backend) -> Json:
        return await backend.test_channel(name)

    answer = run_with_backend(Settings.from_env(), url, work, to_stderr)
    click.echo(json.dumps(answer, indent=2) if as_json else describe_answer(answer))
    sys.exit(0 if answer.get("outcome") == "delivered" else 1)


@channel_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of the channels.")
@click.option("--url", metavar="URL", help=_URL_HELP)
@friendly_errors
def list_command(as_json: bool, url: str | None) -> None:
    """List the channels: name, kind, where alerts go and how the newest one fared."""
    from tocsin.server.config.backends import Backend, Json
    from tocsin.server.config.target import run_with_backend
    from tocsin.settings import Settings

    async def work(backend: Backend) -> list[Json]:
        async with backend.session(write=False) as session:
            return await session.list_channels()

    found = run_with_backend(Settings.from_env(), url, work, to_stderr)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo("no channels yet: describe some in tocsin.yaml and run `tocsin apply -f`")
        return
    rows = [("NAME", "KIND", "DESTINATION", "LAST ATTEMPT (UTC)")] + [
        (str(c.get("name", "")), str(c.get("kind", "")), _destination(c), _last_attempt(c))
        for c in found
    ]
    for line in table(rows):
        click.echo(line)


def _destination(channel: Mapping[str, Any]) -> str:
    to = channel.get("to")
    if isinstance(to, list):
        return ", ".join(str(address) for address in to)
    return str(channel.get("url") or "-")


def _last_attempt(channel: Mapping[str, Any]) -> str:
    """``delivered 2026-12-01 03:00:01, HTTP 200``, ``failed 2026-12-01 03:00:01: <the
    error>``, or ``-`` before the first attempt."""
    last = channel.get("last_attempt")
    if not isinstance(last, Mapping):
        return "-"
    at = str(last.get("at", ""))[:19].replace("T", " ")
    line = f"{last.get('outcome', '?')} {at}"
    status = last.get("status")
    if last.get("error"):  # it names the status, if any
        line += f": {last['error']}"
    elif status is not None:
        line += f", {_status(channel.get('kind'), status)}"
    return line


def table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """``rows`` (the first one the header) as left-aligned columns; the last column is
    not padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    ]


COMMANDS = [channel_group]
