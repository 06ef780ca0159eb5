"""Property-based tests over the OpenAPI document: no input makes the API answer 500, every
answer matches what the document promises (status, content type, body schema), and input
the document allows is not refused with 422, except by the rules a schema cannot state.

Driven by schemathesis in-process (ASGI), once per database, with a read-write key. Each
operation runs with invalid input, with valid input and generated path keys (mostly
unknown: the 404 paths), and with the key of a seeded monitor or channel (the paths that
change real rows).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import re
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
from tocsin.server.storage.status_pages import create_status_page, find_status_page
from tocsin.server.web.state import ServerState
from tocsin.settings import Settings

# Examples per operation: (valid input, invalid input). Invalid input is mostly refused
# before it reaches any code of ours. PostgreSQL gets a lighter pass: what it adds over
# SQLite is the driver (text it refuses, types it checks), not new paths through the API.
EXAMPLES = {"sqlite": (20, 8), "postgresql": (8, 3)}
_MONITORS = ("POST /api/v1/monitors", "PATCH /api/v1/monitors/{key}")
_MONITOR_PATCH = ("PATCH /api/v1/monitors/{key}",)
_CHANNELS = ("POST /api/v1/channels", "PATCH /api/v1/channels/{key}")
_CHANNEL_PATCH = ("PATCH /api/v1/channels/{key}",)
_WINDOW = ("PUT /api/v1/maintenance/{name}",)
_STATUS_PAGES = ("POST /api/v1/status-pages", "PATCH /api/v1/status-pages/{slug}")
# The rules a JSON schema cannot state: the only reasons a request the document allows may
# be refused, as (operations, field, problem), field and problem being regexes (fullmatch
# and search). Operations are "METHOD path" patterns, as fnmatch reads them.
UNSTATED_RULES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (_MONITORS, "cron", "is not a valid cron expression"),
    (_MONITORS, "timezone", "is not a known time zone|only applies to cron schedules"),
    (_MONITORS, "period", "give either period or cron, not both"),
    (_MONITORS, "channels", "no channel named"),
    (_MONITORS, "jitter", "must be shorter than the interval and the retry interval"),
    # The short form's grammar; a structured assertion's value and JSON path.
    (_MONITORS, r"assert\[\d+\]", r" at column \d+$|^(value|path): "),
    # JSON Schema's integers include 74.0, which the server refuses (it wants 74); the
    # schema's bounds leave no other value these words could be about.
    (_MONITORS, r"confirm\.(fail|recover)|port", "must be a whole number from"),
    (_MONITORS, "follow_redirects", "must be true, false or a number of hops"),
    (("GET *",), "cursor", "is not a cursor of this list"),
    (_CHANNELS, "url", "Apprise cannot read this URL"),
    # A PATCH is judged with the monitor's or channel's stored kind, which its body may
    # not state: the fields of one kind, those a kind requires.
    (_MONITOR_PATCH, r"[a-z_]+", "applies only to|does not apply to|is required for"),
    (_CHANNEL_PATCH, "url", "must be an http:// or https:// URL|is required"),
    (_CHANNEL_PATCH, "to", "is required"),
    (_CHANNEL_PATCH, "url|to|headers|secret", "is not used by"),
    # A silence takes for or until, one of them (its schema does not say so yet).
    (("POST /api/v1/silences",), "for", "give either for or until"),
    (("POST /api/v1/silences",), "until", "must be in the future"),
    # A maintenance window's cron and time zone, dates, and which fields go together.
    (_WINDOW, "cron", "is not a valid cron expression|never fires"),
    (_WINDOW, "timezone", "is not a known time zone"),
    (_WINDOW, "start|end|duration", "give either|is required|must be after start|a date"),
    # A name of only characters Python strips (NEL, the C0 separators) that a schema's
    # \S does not count as blank.
    (_WINDOW, "name", "is required: a non-empty string"),
    # A status page's items name monitors that must exist, and components they reported.
    (_STATUS_PAGES, r"items\[\d+\]\.monitor", "^no monitor named"),
    (_STATUS_PAGES, r"items\[\d+\]\.component", "has reported no component"),
)


def unstated(operation: str, fields: dict[str, str]) -> dict[str, str]:
    """The problems in ``fields`` (a 422 answer to ``operation``, like ``"POST /path"``)
    that are not excused by ``UNSTATED_RULES``."""
    return {
        field: part
        for field, problem in fields.items()
        for part in problem.split("; ")
        if not any(
            any(fnmatch.fnmatchcase(operation, pattern) for pattern in operations)
            and re.fullmatch(name, field)
            and re.search(words, part)
            for operations, name, words in UNSTATED_RULES
        )
    }


UNSTATED_CASES = {
    # H13: "url: is required" was excused on every operation, new monitors included.
    "POST monitor without url": (
        "POST /api/v1/monitors",
        {"url": "is required for http and app monitors"},
        False,
    ),
    "PATCH monitor to http": (
        "PATCH /api/v1/monitors/{key}",
        {"url": "is required for http and app monitors"},
        True,
    ),
    "POST heartbeat with interval": (
        "POST /api/v1/monitors",
        {"interval": "applies only to http, app and tcp monitors"},
        False,
    ),
    "POST email channel without to": ("POST /api/v1/channels", {"to": "is required"}, False),
    "PATCH channel to email": ("PATCH /api/v1/channels/{key}", {"to": "is required"}, True),
    "cron": ("POST /api/v1/monitors", {"cron": "'x' is not a valid cron expression"}, True),
    "cron on a channel": (
        "POST /api/v1/channels",
        {"cron": "is not a valid cron expression"},
        False,
    ),
    "cursor": ("GET /api/v1/monitors", {"cursor": "is not a cursor of this list: take"}, True),
    "assertion grammar": (
        "POST /api/v1/monitors",
        {"assert[0]": "unknown subject 'x' (expected status) at column 1"},
        True,
    ),
    "assertion unknown key": (
        "POST /api/v1/monitors",
        {"assert[0]": "x: unknown key; expected op"},
        False,
    ),
}


@pytest.mark.parametrize(
    ("operation", "fields", "excused"), UNSTATED_CASES.values(), ids=UNSTATED_CASES
)
def test_unstated_rules_excuse_only_their_operations(
    operation: str, fields: dict[str, str], excused: bool
) -> None:
    assert (not unstated(operation, fields)) is excused


def schema_valid_data_is_accepted(
    _ctx: Any, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> None:
    """A 422 for input the schema allows must name only problems of ``UNSTATED_RULES``."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return
    fields: dict[str, str] = response.json().get("fields", {})
    problems = unstated(f"{case.method.upper()} {case.operation.path}", fields)
    assert not problems, f"refused input its OpenAPI document allows: {problems}"


# ``negative_data_rejection`` is left out: it counts a repeated query parameter and the
# Authorization header we set ourselves as "invalid data accepted". Schemathesis's own
# ``positive_data_acceptance`` is replaced by the check above, which knows which rules
# the document cannot state.
CHECKS: list[Callable[..., Any]] = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    schema_valid_data_is_accepted,
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
            if await find_status_page(conn, "seeded") is None:
                await create_status_page(conn, project.id, "seeded", "Seeded", now)
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
    assert len(operations) == 34
    for operation in operations:
        _run(operation, schemathesis.GenerationMode.NEGATIVE, key, invalid)
        _run(operation, schemathesis.GenerationMode.POSITIVE, key, valid)
        for name in ("key", "slug"):
            if "{" + name + "}" in operation.path:
                asyncio.run(_seed(database_url))
                _run(
                    operation,
                    schemathesis.GenerationMode.POSITIVE,
                    key,
                    valid,
                    path_parameters={name: "seeded"},
                )
