"""The ``tocsin`` command line: ``server``, ``migrate``, ``apply``, ``status``, ``channel``,
``deliveries``, ``incidents``, ``silence``, ``unsilence``, ``ping``, ``check``, ``run``,
``apikey``, ``user`` and ``demo``.

Each command lives in its own module and imports server code only when it runs, so
``tocsin ping`` and ``tocsin run`` work with the light ``pip install tocsin``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from tocsin import __version__
from tocsin.errors import ConfigError, TocsinError

F = TypeVar("F", bound=Callable[..., Any])


def to_stderr(line: str) -> None:
    """Print ``line`` on stderr: notes and warnings that are not the command's output."""
    click.echo(line, err=True)


def friendly_errors(func: F) -> F:
    """Turn tocsin's own errors into a clear message and exit status 2, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            sys.exit(2)
        except TocsinError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except ModuleNotFoundError as exc:
            click.echo(
                f"error: {exc.name} is not installed; install tocsin[server] "
                "(and tocsin[postgres] for PostgreSQL)",
                err=True,
            )
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tocsin")
def cli() -> None:
    """tocsin: heartbeats, health checks and alerts for apps with background work."""


def _register() -> None:
    from tocsin.cli import (
        apikey,
        apply,
        channels,
        check,
        deliveries,
        demo,
        incidents,
        ping,
        server,
        silence,
        status,
        users,
    )

    for module in (
        server,
        apply,
        status,
        channels,
        deliveries,
        incidents,
        silence,
        ping,
        check,
        apikey,
        users,
        demo,
    ):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="tocsin")
