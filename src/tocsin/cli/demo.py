"""`tocsin demo`: a whole setup (server, Flask app, RQ worker, monitors, alerts) that works
and breaks on one machine; `tocsin demo --break worker` / `--fix worker` from another
terminal."""

from __future__ import annotations

import os

import click

from tocsin.cli import friendly_errors

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def _say(line: str) -> None:
    click.echo(line)


@click.command()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8000,
    show_default=True,
    help="Port of the demo's server (and dashboard).",
)
@click.option(
    "--redis-url",
    help="Redis for the app and worker [default: TOCSIN_DEMO_REDIS_URL, "
    f"REDIS_URL, or {DEFAULT_REDIS_URL}].",
)
@click.option(
    "--break",
    "break_",
    type=click.Choice(["worker"]),
    help="Kill the running demo's worker (from another terminal).",
)
@click.option("--fix", type=click.Choice(["worker"]), help="Restart the running demo's worker.")
@friendly_errors
def demo(port: int, redis_url: str | None, break_: str | None, fix: str | None) -> None:
    """Run a throwaway server watching a small Flask app and RQ worker, and print alerts.

    Ctrl-C stops everything and deletes the demo's files.
    """
    from tocsin.demo import control

    if break_ and fix:
        raise click.UsageError("--break and --fix do not go together")
    if break_ or fix:
        pid = control.signal_demo(port, control.BREAK if break_ else control.FIX)
        action = "kill" if break_ else "restart"
        click.echo(f"asked the demo (pid {pid}) to {action} its worker: watch its output")
        return

    from tocsin.demo.run import Demo, redis_problem

    url = (
        redis_url
        or os.environ.get("TOCSIN_DEMO_REDIS_URL")
        or os.environ.get("REDIS_URL")
        or DEFAULT_REDIS_URL
    )
    problem = redis_problem(url)
    if problem is not None:
        click.echo(f"error: {problem}", err=True)
        raise SystemExit(2)
    Demo(port, url, _say).run()


COMMANDS: list[click.Command] = [demo]
