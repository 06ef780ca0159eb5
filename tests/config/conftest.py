"""Fixtures: the server tests' databases (SQLite and PostgreSQL, emptied after each test)."""

from __future__ import annotations

from tests.server.conftest import (  # noqa: F401
    database_url,
    db,
    migrated_postgres_url,
    sqlite_url,
)
