"""`tocsin silence MONITOR --for 2h` and `tocsin unsilence MONITOR`: hold a monitor's
alerts for a while; its checks still run, and if it is still down when the silence ends,
the alert goes out then."""

from __future__ import annotations

from datetime import datetime

import click

from tocsin.cli import friendly_errors, to_stderr

URL_HELP = (
    "Ask the server at URL through its API (needs TOCSIN_API_KEY). "
    "Default: TOCSIN_URL, else the local database."
)


@click.command("silence")
@click.argument("monitor")
@click.option("--for", "for_", metavar="DURATION", help="How long, like 2h or 30m.")
@click.option("--until", metavar="TIME", help="Until when: ISO 8601 with an offset.")
@click.option("--url", metavar="URL", help=URL_HELP)
@friendly_errors
def silence_command(monitor: str, for_: str | None, until: str | None, url: str | None) -> None:
    """Hold MONITOR's alerts for a duration (--for) or until a time (--until)."""
    from tocsin.server.config.backends import Backend, Json
    from tocsin.server.config.target import run_with_backend
    from tocsin.settings import Settings

    if (for_ is None) == (until is None):
        raise click.UsageError("give either --for DURATION or --until TIME")
    if until is not None:
        try:
            datetime.fromisoformat(until)
        except ValueError:
            message = f"{until!r} is not an ISO 8601 time"
            raise click.BadParameter(message, param_hint="--until") from None

    async def work(backend: Backend) -> Json:
        return await backend.silence(monitor, for_, until)

    made = run_with_backend(Settings.from_env(), url, work, to_stderr)
    click.echo(f"{made.get('monitor', monitor)} is silenced until {made.get('ends_at')}")


@click.command("unsilence")
@click.argument("monitor")
@click.option("--url", metavar="URL", help=URL_HELP)
@friendly_errors
def unsilence_command(monitor: str, url: str | None) -> None:
    """End MONITOR's silence now: an alert it held goes out if it is still down."""
    from tocsin.server.config.backends import Backend
    from tocsin.server.config.target import run_with_backend
    from tocsin.settings import Settings

    async def work(backend: Backend) -> None:
        await backend.unsilence(monitor)

    run_with_backend(Settings.from_env(), url, work, to_stderr)
    click.echo(f"{monitor} is no longer silenced")


COMMANDS = [silence_command, unsilence_command]
