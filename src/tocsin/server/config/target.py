"""Choose where ``apply`` and ``status`` work: the local database or a remote server.

Local mode uses the database the server's own settings name (no key needed on the server's
machine) and runs migrations first; ``--url`` (or ``TOCSIN_URL``) with ``TOCSIN_API_KEY``
talks to a server's REST API instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tocsin.errors import ConfigError, TocsinError
from tocsin.server.config.backends import Backend, LocalBackend, RemoteBackend
from tocsin.settings import Settings

T = TypeVar("T")


def remote_url(settings: Settings, url: str | None) -> str | None:
    """The server URL to use (``--url`` wins over ``TOCSIN_URL``), or ``None`` for local."""
    return url or settings.api_url


def run_with_backend(
    settings: Settings, url: str | None, work: Callable[[Backend], Awaitable[T]]
) -> T:
    """Open the right backend, run ``work`` with it in a fresh event loop, close it."""
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
        return asyncio.run(_run(work, remote))
    _migrate(settings.database_url)
    return asyncio.run(_run_local(settings, work))


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


async def _run_local(settings: Settings, work: Callable[[Backend], Awaitable[T]]) -> T:
    from tocsin.server.storage.database import Database

    database = Database(settings.database_url)
    try:
        return await work(LocalBackend(database, settings.base_url))
    finally:
        await database.dispose()
