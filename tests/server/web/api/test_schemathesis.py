"""Property-based tests over the OpenAPI document: no input makes the API answer 500, and
every answer matches what the document promises (status, content type, body schema).

Driven by schemathesis in-process (ASGI), once per database, with a read-write key. Each
operation runs with invalid input, with valid input and generated path keys (mostly
unknown: the 404 paths), and with the key of a seeded monitor or channel (the paths that
change real rows).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.result import Ok
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.server.web.api.conftest import build_app
from tocsin.errors import ConflictError
from tocsin.server.domain.spec import channel_spec, monitor_spec
from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import create_monitor
from tocsin.server.storage.projects import default_project
from tocsin.server.web.state import ServerState
from tocsin.settings import Settings

# Examples per operation: (valid input, invalid input). Invalid input is mostly refused
# before it reaches any code of ours. PostgreSQL gets a lighter pass: what it adds over
# SQLite is the driver (text it refuses, types it checks), not new paths through the API.
EXAMPLES = {"sqlite": (25, 10), "postgresql": (10, 4)}
# ``negative_data_rejection`` is left out: it counts a repeated query parameter and the
# Authorization header we set ourselves as "invalid data accepted".
CHECKS: list[Callable[..., Any]] = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


async def _seed(database_url: str) -> None:
    """Make sure the monitor and the channel named ``seeded`` exist (again)."""
    database = Database(database_url)
    now = datetime.now(UTC)
    channel = channel_spec({"name": "seeded", "kind": "webhook", "url": "http://x.test/"})
    monitor = monitor_spec({"name": "seeded", "period": "5m", "channels": ["seeded"]})
    try:
        async with database.write() as conn:
            project = await default_project(conn)
            with contextlib.suppress(ConflictError):
                await create_channel(conn, project.id, channel, now)
            with contextlib.suppress(ConflictError):
                await create_monitor(conn, project.id, monitor, now)
    finally:
        await database.dispose()


async def _key(database_url: str) -> str:
    database = Database(database_url)
    try:
        async with database.write() as conn:
            created = await create_api_key(
                conn, "schemathesis", ApiKeyScope.WRITE, datetime.now(UTC)
            )
    finally:
        await database.dispose()
    return created.key


def _app(database_url: str, data_dir: Path) -> FastAPI:
    """The API app with a lifespan, so its database lives on schemathesis's event loop."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(database_url)
        async with database.read() as conn:
            project = await default_project(conn)
        settings = Settings.from_env({"TOCSIN_DATA_DIR": str(data_dir)})
        app.state.tocsin = ServerState(settings=settings, database=database, project=project)
        try:
            yield
        finally:
            await database.dispose()

    app = build_app(ServerState.__new__(ServerState))
    app.router.lifespan_context = lifespan
    return app


@pytest.fixture
def api_app(database_url: str, tmp_path: Path) -> Iterator[tuple[FastAPI, str, str]]:
    """The app, a read-write key and the database URL; the app's lifespan is shut down after."""
    key = asyncio.run(_key(database_url))
    try:
        yield _app(database_url, tmp_path), key, database_url
    finally:
        shutdown_lifespans()


def _run(
    operation: Any, mode: schemathesis.GenerationMode, key: str, examples: int, **fixed: Any
) -> None:
    headers = {"Authorization": f"Bearer {key}"}

    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def test_api_conforms_to_its_openapi_document(api_app: tuple[FastAPI, str, str]) -> None:
    app, key, database_url = api_app
    valid, invalid = EXAMPLES["sqlite" if database_url.startswith("sqlite") else "postgresql"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    assert len(operations) == 14
    for operation in operations:
        _run(operation, schemathesis.GenerationMode.NEGATIVE, key, invalid)
        _run(operation, schemathesis.GenerationMode.POSITIVE, key, valid)
        if "{key}" in operation.path:
            asyncio.run(_seed(database_url))
            _run(
                operation,
                schemathesis.GenerationMode.POSITIVE,
                key,
                valid,
                path_parameters={"key": "seeded"},
            )
