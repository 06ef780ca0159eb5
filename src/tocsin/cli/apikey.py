"""`tocsin apikey create | list | revoke`: API keys in the local database.

These commands work on the database named by the settings (``TOCSIN_DATABASE_URL``, or
SQLite in ``TOCSIN_DATA_DIR``), so they run on the server's machine, never over the API:
whoever can run them could read the database anyway.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from tocsin.cli import friendly_errors
from tocsin.cli.local_database import with_local_database

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from tocsin.server.storage.apikeys import ApiKeyRecord


def _describe(key: ApiKeyRecord) -> str:
    scope = "read-write" if key.can_write else "read-only"
    if key.revoked_at is not None:
        status = f"revoked {key.revoked_at:%Y-%m-%d %H:%M} UTC"
    elif key.last_used_at is not None:
        status = f"last used {key.last_used_at:%Y-%m-%d %H:%M} UTC"
    else:
        status = "never used"
    name = key.name or "-"
    return f"{key.key_id}  {scope:<10}  {name:<20}  created {key.created_at:%Y-%m-%d}  {status}"


@click.group()
def apikey() -> None:
    """Create, list and revoke API keys (for the REST API at /api/v1)."""


@apikey.command()
@click.option("--read-only", is_flag=True, help="The key may only read (GET), not change.")
@click.option("--name", default="", help="What the key is for, shown by `tocsin apikey list`.")
@friendly_errors
def create(read_only: bool, name: str) -> None:
    """Create a key and print it. It is shown this once: store it somewhere safe."""
    from tocsin.server.storage.apikeys import NAME_MAX, ApiKeyScope, NewApiKey, create_api_key

    if len(name.strip()) > NAME_MAX:
        raise click.BadParameter(f"must be at most {NAME_MAX} characters", param_hint="--name")
    scope = ApiKeyScope.READ if read_only else ApiKeyScope.WRITE

    async def work(conn: AsyncConnection) -> NewApiKey:
        return await create_api_key(conn, name, scope, datetime.now(UTC))

    created = with_local_database(work, write=True)
    click.echo(created.key)
    click.echo(
        f"{'read-only' if read_only else 'read-write'} key {created.record.key_id} created; it "
        "is not shown again. Use it as 'Authorization: Bearer <key>' (see docs/api.md).",
        err=True,
    )


@apikey.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@friendly_errors
def list_keys(as_json: bool) -> None:
    """List every key (never the secrets), revoked ones included."""
    from tocsin.server.storage.apikeys import list_api_keys

    keys = with_local_database(list_api_keys, write=False)
    if as_json:
        click.echo(json.dumps({"api_keys": [key.to_json() for key in keys]}, indent=2))
        return
    if not keys:
        click.echo("no API keys yet: create one with `tocsin apikey create`", err=True)
        return
    for key in keys:
        click.echo(_describe(key))


@apikey.command()
@click.argument("key_id")
@friendly_errors
def revoke(key_id: str) -> None:
    """Revoke the key KEY_ID (its public part, as `tocsin apikey list` shows) for good."""
    from tocsin.server.storage.apikeys import revoke_api_key

    async def work(conn: AsyncConnection) -> ApiKeyRecord:
        return await revoke_api_key(conn, key_id, datetime.now(UTC))

    revoked = with_local_database(work, write=True)
    click.echo(f"revoked {revoked.key_id}")


COMMANDS: list[click.Command] = [apikey]
