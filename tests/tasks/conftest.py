"""Fixtures for the task-status tests: one store fixture over Redis, SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tocsin.tasks.store import TaskStore

StoreFactory = Callable[..., TaskStore]


@pytest.fixture(params=["redis", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Builds stores (same backend, same data) with chosen TTLs; closes them afterwards."""
    stores: list[TaskStore] = []
    cleanup: list[Callable[[], None]] = []
    kind = request.param
    if kind == "redis":
        from tocsin.tasks.redis_store import RedisTaskStore

        url = request.getfixturevalue("redis_url")

        def factory(**kwargs: Any) -> TaskStore:
            store = RedisTaskStore.from_url(url, **kwargs)
            stores.append(store)
            return store

    elif kind == "sqlite":
        from tocsin.tasks.sql_store import SqlTaskStore

        db_url = f"sqlite:///{tmp_path / 'tasks.db'}"

        def factory(**kwargs: Any) -> TaskStore:
            kwargs.setdefault("poll_interval", 0.05)
            store = SqlTaskStore.from_url(db_url, **kwargs)
            stores.append(store)
            return store

    else:
        import psycopg

        from tocsin.tasks.sql_store import SqlTaskStore

        pg_url = request.getfixturevalue("postgres_url")
        schema = f"tasks_{secrets.token_hex(4)}"
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')

        def drop() -> None:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

        cleanup.append(drop)
        sa_url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)

        def factory(**kwargs: Any) -> TaskStore:
            kwargs.setdefault("poll_interval", 0.05)
            store = SqlTaskStore.from_url(sa_url, schema=schema, **kwargs)
            stores.append(store)
            return store

    try:
        yield factory
    finally:
        for store in stores:
            store.close()
        for step in cleanup:
            step()


@pytest.fixture
def store(make_store: StoreFactory) -> TaskStore:
    """A store with default TTLs on each backend."""
    return make_store()


@pytest.fixture
def short_ttl() -> timedelta:
    """A finished-task TTL short enough to watch expire."""
    return timedelta(seconds=1)
