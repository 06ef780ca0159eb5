"""`tocsin apply -f tocsin.yaml`: make the server's channels and monitors match a file.

Server code (YAML, storage, httpx) is imported only when the command runs, so the light
install's ``tocsin ping`` never pays for it.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from tocsin.cli import friendly_errors, to_stderr

if TYPE_CHECKING:
    from tocsin.server.config.apply import ApplyResult


def render_result(result: ApplyResult, *, dry_run: bool) -> list[str]:
    """The lines ``tocsin apply`` prints: one per change, then a summary."""
    from tocsin.server.config.plan import Action

    plan = result.plan
    lines = [change.describe() for change in plan.changes]
    created, changed, deleted = (
        plan.count(Action.CREATE),
        plan.count(Action.UPDATE),
        plan.count(Action.DELETE),
    )
    if plan.empty:
        lines.append("no changes")
    elif dry_run:
        lines.append(
            f"would create {created}, change {changed}, delete {deleted} (dry run: nothing applied)"
        )
    else:
        lines.append(f"{created} created, {changed} changed, {deleted} deleted")
    if plan.kept:
        lines.append(
            f"{len(plan.kept)} not in the file and kept ({', '.join(plan.kept)}); "
            "--prune would delete them"
        )
    for monitor in result.created_monitors:
        lines.append(f"ping URL of {monitor.get('name')}: {monitor.get('ping_url')}")
    return lines


@click.command("apply")
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The config file (tocsin.yaml); - reads it from stdin.",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--prune", is_flag=True, help="Delete monitors and channels not in the file.")
@click.option(
    "--url",
    metavar="URL",
    help="Apply to the server at URL through its API (needs TOCSIN_API_KEY). "
    "Default: TOCSIN_URL, else the local database.",
)
@friendly_errors
def apply_command(path: str, dry_run: bool, prune: bool, url: str | None) -> None:
    """Create, change (and with --prune delete) monitors and channels to match a file.

    Idempotent: applying the same file again prints "no changes". ${NAME} and
    ${NAME:-default} in values are read from the environment. A file with problems is
    refused as a whole, every problem listed with its line.
    """
    from tocsin.server.config.apply import apply_document
    from tocsin.server.config.backends import Backend
    from tocsin.server.config.loader import load_file, load_text
    from tocsin.server.config.target import run_with_backend
    from tocsin.settings import Settings

    settings = Settings.from_env()
    # The file itself asks for ${...} values from the environment: that is the user's file
    # speaking, not a tocsin setting, so it gets the whole environment.
    if path == "-":
        document = load_text(sys.stdin.read(), os.environ, source="<stdin>")
    else:
        document = load_file(path, os.environ)

    async def work(backend: Backend) -> ApplyResult:
        return await apply_document(backend, document, prune=prune, dry_run=dry_run)

    result = run_with_backend(settings, url, work, to_stderr)
    for line in render_result(result, dry_run=dry_run):
        click.echo(line)


COMMANDS: list[click.Command] = [apply_command]
