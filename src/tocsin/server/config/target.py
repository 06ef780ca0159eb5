"""Choose where ``apply`` and ``status`` work: the local database or a remote server.

Local mode uses the database the server's own settings name (no key needed on the server's
machine) and runs migrations first; ``--url`` (or ``TOCSIN_URL``) with ``TOCSIN_API_KEY``
talks to a server's REST API instead. Either way the caller is told, in one line, which
database or server it is; locally it is also warned when a tocsin server answering on the
configured port uses another database (its ``/api/v1/info`` fingerprint differs).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit, urlunsplit

from tocsin.errors import ConfigError, TocsinError
from tocsin.server.config.backends import Backend, LocalBackend, RemoteBackend
from tocsin.settings import Settings

if TYPE_CHECKING:
    from tocsin.server.storage.database import Database

T = TypeVar("T")
Notice = Callable[[str], None]

# How long to wait for the local server's /api/v1/info; on a refused or slow connection
# there is nothing to compare, and the command goes on.
INFO_TIMEOUT = 2.0


def shown_database_url(database_url: str) -> str:
    """``database_url`` fit to print: its password hidden, a SQLite path made absolute."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        url = url.set(database=os.path.abspath(url.database))
    return url.render_as_string(hide_password=True)


def shown_server_url(server_url: str) -> str:
    """``server_url`` fit to print: without any ``user:password@``."""
    parts = urlsplit(server_url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def local_server_url(settings: Settings) -> str:
    """Where a server started with ``settings`` on this machine answers."""
    host = settings.host
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def remote_url(settings: Settings, url: str | None) -> str | None:
    """The server URL to use (``--url`` wins over ``TOCSIN_URL``), or ``None`` for local."""
    return url or settings.api_url


def run_with_backend(
    settings: Settings, url: str | None, work: Callable[[Backend], Awaitable[T]], notice: Notice
) -> T:
    """Open the right backend, run ``work`` with it in a fresh event loop, close it.

    ``notice`` gets the line naming the database or server, and any warning, first.
    """
    target = remote_url(settings, url)
    if target:
        if not settings.api_key:
            raise ConfigError(
                [
                    f"talking to {target} needs an API key: set TOCSIN_API_KEY "
                    "(create one on the server with `tocsin apikey create`)"
                ]
            )
        remote = RemoteBackend(target, settings.api_key)
        notice(f"tocsin: using server {shown_server_url(remote.base_url)}")
        return asyncio.run(_run(work, remote))
    notice(f"tocsin: using database {shown_database_url(settings.database_url)}")
    _migrate(settings.database_url)
    return asyncio.run(_run_local(settings, work, notice))


def _migrate(database_url: str) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from tocsin.server.storage.migrate import upgrade

    try:
        upgrade(database_url)
    except (SQLAlchemyError, OSError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise TocsinError(f"cannot open the database: {reason}") from exc


async def _run(work: Callable[[Backend], Awaitable[T]], backend: Backend) -> T:
    return await work(backend)


async def _run_local(
    settings: Settings, work: Callable[[Backend], Awaitable[T]], notice: Notice
) -> T:
    from tocsin.server.storage.database import Database

    database = Database(settings.database_url)
    try:
        await _warn_if_the_server_uses_another_database(settings, database, notice)
        return await work(LocalBackend(database, settings.base_url, smtp=settings.smtp))
    finally:
        await database.dispose()


async def _warn_if_the_server_uses_another_database(
    settings: Settings, database: Database, notice: Notice
) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from tocsin.server.storage.projects import default_project

    server = local_server_url(settings)
    served = await _served_database(server)
    if served is None:
        return
    kind, fingerprint = served
    try:
        async with database.read() as conn:
            ours = (await default_project(conn)).fingerprint
    except (SQLAlchemyError, OSError, TocsinError):
        return  # the command itself reports what is wrong with the database
    if fingerprint != ours:
        notice(
            f"tocsin: warning: the tocsin server at {server} uses another database ({kind}): "
            "what this command shows or changes is not what it serves; set "
            f"TOCSIN_DATABASE_URL as the server has it, or use --url {server} with an API key"
        )


async def _served_database(server: str) -> tuple[str, str] | None:
    """The kind and fingerprint of the database a tocsin server at ``server`` uses, or
    ``None`` when nothing (or something else) answers there."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=INFO_TIMEOUT) as client:
            answer = await client.get(f"{server}/api/v1/info")
        data = answer.json() if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    database = data.get("database") if isinstance(data, dict) else None
    if not isinstance(database, dict):
        return None
    kind, fingerprint = database.get("kind"), database.get("fingerprint")
    if not isinstance(kind, str) or not isinstance(fingerprint, str):
        return None
    return kind, fingerprint
