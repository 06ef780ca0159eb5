"""`tocsin user create | list | delete`: dashboard users in the local database.

Like `tocsin apikey`, these work on the settings' database directly, on the server's
machine: the usual way to create the first admin.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from tocsin.cli import friendly_errors
from tocsin.cli.local_database import with_local_database

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from tocsin.server.storage.users import UserRecord

ROLES = ("admin", "read-only")


def _read_password(from_stdin: bool) -> str:
    """The new password: prompted twice on a terminal, else the first line of stdin."""
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@click.group()
def user() -> None:
    """Create, list and delete dashboard users."""


@user.command()
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="read-only",
    show_default=True,
    help="admin may change things; read-only may only look.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin instead of prompting.",
)
@friendly_errors
def create(name: str, role: str, password_stdin: bool) -> None:
    """Create the user NAME; the password is prompted for (or read from stdin)."""
    from tocsin.server.dashboard.passwords import hash_password, password_problem
    from tocsin.server.storage.users import Role, create_user

    username = _checked_username(name)
    password = _read_password(password_stdin)
    problem = password_problem(password)
    if problem is not None:
        raise click.BadParameter(f"the password {problem}", param_hint="password")
    password_hash = hash_password(password)

    async def work(conn: AsyncConnection) -> UserRecord:
        return await create_user(conn, username, password_hash, Role(role), datetime.now(UTC))

    created = with_local_database(work, write=True)
    click.echo(f"created {created.role.value} user {created.username}")


def _checked_username(name: str) -> str:
    """``name`` as ``storage.users.check_username`` accepts it; a usage error if bad."""
    from tocsin.errors import ValidationError
    from tocsin.server.storage.users import check_username

    try:
        return check_username(name)
    except ValidationError as exc:
        raise click.BadParameter(exc.fields["username"], param_hint="NAME") from exc


@user.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@friendly_errors
def list_users_command(as_json: bool) -> None:
    """List every user with role and last login (never a password hash)."""
    from tocsin.server.storage.users import list_users

    users = with_local_database(list_users, write=False)
    if as_json:
        click.echo(json.dumps({"users": [u.to_json() for u in users]}, indent=2))
        return
    if not users:
        click.echo("no users yet: create one with `tocsin user create NAME --role admin`", err=True)
        return
    for found in users:
        last = f"{found.last_login_at:%Y-%m-%d %H:%M} UTC" if found.last_login_at else "never"
        disabled = "  disabled" if found.disabled else ""
        click.echo(f"{found.username:<24}  {found.role.value:<9}  last login {last}{disabled}")


@user.command()
@click.argument("name")
@friendly_errors
def delete(name: str) -> None:
    """Delete the user NAME and end their sessions."""
    from tocsin.server.storage.users import delete_user

    async def work(conn: AsyncConnection) -> None:
        await delete_user(conn, name)

    with_local_database(work, write=True)
    click.echo(f"deleted user {name.strip()}")


COMMANDS: list[click.Command] = [user]
