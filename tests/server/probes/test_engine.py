"""The probe engine against real local targets, on both databases: results stored with
their resolved values, down only after the confirmation count, up after one pass."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import free_port
from tests.server.probes.targets import Targets
from tocsin.server.domain.spec import monitor_spec
from tocsin.server.probes import engine as engine_module
from tocsin.server.probes.engine import ProbeBatchResult, ProbeEngine
from tocsin.server.storage.database import Database
from tocsin.server.storage.flips import list_flips
from tocsin.server.storage.monitors import create_monitor, get_monitor
from tocsin.server.storage.probe_reads import list_results
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.tables import component_states

WAIT_SECONDS = 20.0


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while not await check():
        assert loop.time() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.1)


async def add_monitor(db: Database, data: dict[str, Any]) -> MonitorRecord:
    async with db.write() as conn:
        return await create_monitor(conn, 1, monitor_spec(data), datetime.now(UTC))


async def add_health_monitor(
    db: Database, targets: Targets, *, fail: int, recover: int
) -> MonitorRecord:
    """An http monitor of the target's /health every second, asserting status 200."""
    return await add_monitor(
        db,
        {
            "name": "api",
            "kind": "http",
            "url": f"{targets.http_url}/health",
            "interval": "1s",
            "assert": ["status == 200"],
            "confirm": {"fail": fail, "recover": recover},
        },
    )


async def monitor(db: Database, record: MonitorRecord) -> MonitorRecord:
    async with db.read() as conn:
        return await get_monitor(conn, record.project_id, record.uuid)


async def results(db: Database, record: MonitorRecord) -> list[dict[str, Any]]:
    """The monitor's stored results, oldest first, as plain dicts (read as the API does)."""
    async with db.read() as conn:
        stored = await list_results(conn, record.id, limit=10_000)
    return [
        {
            **vars(result),
            "verdict": result.verdict.value,
            "outcomes": [o.to_json() for o in result.outcomes],
        }
        for result in sorted(stored, key=lambda r: r.id)
    ]


@contextlib.asynccontextmanager
async def running_engine(
    db: Database, environ: dict[str, str] | None = None
) -> AsyncIterator[list[ProbeBatchResult]]:
    batches: list[ProbeBatchResult] = []
    engine = ProbeEngine(
        db, base_url="http://tocsin.test", on_commit=batches.append, environ=environ or {}
    )
    engine.start()
    try:
        yield batches
    finally:
        await engine.stop()


async def state_is(db: Database, record: MonitorRecord, state: str) -> bool:
    return (await monitor(db, record)).status.state.value == state


async def test_http_monitor_goes_down_after_two_failures_and_up_after_one(
    db: Database, targets: Targets
) -> None:
    api = await add_health_monitor(db, targets, fail=2, recover=1)
    async with running_engine(db):
        await until(lambda: state_is(db, api, "up"), "the first passing check")
        targets.health.status_code = 503
        await until(lambda: state_is(db, api, "down"), "down")
        targets.health.status_code = 200
        await until(lambda: state_is(db, api, "up"), "recovery")
    async with db.read() as conn:
        flips = list(reversed(await list_flips(conn, api.id)))
    assert [(f.old_state, f.new_state) for f in flips] == [
        ("new", "up"),
        ("up", "down"),
        ("down", "up"),
    ]
    down, up = flips[1], flips[2]
    assert down.cause.startswith("status (503) == 200 · response_time ")
    assert "(was: status (503) == 200" in up.cause
    stored = await results(db, api)
    failing = [r for r in stored if r["verdict"] == "fail"]
    # Down exactly at the second failing check, up at the first passing one after.
    assert [r["started_at"] for r in failing][1] == down.created_at
    first_pass_after = next(
        r for r in stored if r["verdict"] == "pass" and r["started_at"] > down.created_at
    )
    assert first_pass_after["started_at"] == up.created_at
    assert failing[0]["status_code"] == 503
    assert failing[0]["outcomes"][0]["resolved"] == 503
    assert failing[0]["outcomes"][0]["message"] == "status (503) == 200"
    assert failing[0]["total_ms"] > 0 and failing[0]["timings"]["first_byte_ms"] is not None


async def test_a_recovery_names_what_broke_after_several_passes_and_a_restart(
    db: Database, targets: Targets
) -> None:
    api = await add_health_monitor(db, targets, fail=1, recover=2)
    async with running_engine(db):
        await until(lambda: state_is(db, api, "up"), "the first passing check")
        targets.health.status_code = 503
        await until(lambda: state_is(db, api, "down"), "down")
    targets.health.status_code = 200
    # A new engine (a restart, or another node taking the lease) confirms the recovery.
    async with running_engine(db):
        await until(lambda: state_is(db, api, "up"), "recovery")
    async with db.read() as conn:
        newest = (await list_flips(conn, api.id))[0]
    assert (newest.old_state, newest.new_state) == ("down", "up")
    assert newest.cause.startswith("status (200) == 200 · ")
    assert "(was: status (503) == 200 · " in newest.cause


async def test_app_monitor_stores_components_and_names_the_broken_one(
    db: Database, targets: Targets
) -> None:
    shop = await add_monitor(
        db,
        {
            "name": "shop-app",
            "kind": "app",
            "url": f"{targets.http_url}/health",
            "interval": "1s",
            "components": {"rq:workers": {"fail": "< 1"}},
        },
    )
    async with running_engine(db):
        await until(lambda: state_is(db, shop, "up"), "up")
        targets.health.status_code = 503
        targets.health.body = {
            "status": "fail",
            "checks": {"rq:workers": [{"componentId": "emails", "observedValue": 0}]},
        }
        await until(lambda: state_is(db, shop, "down"), "down")
    async with db.read() as conn:
        flips = await list_flips(conn, shop.id)
        rows = list((await conn.execute(select(component_states))).mappings())
    assert flips[0].cause.startswith("rq:workers[emails] = 0 (< 1)")
    assert [(r["key"], r["status"], r["value"]) for r in rows] == [
        ("rq:workers[emails]", "fail", 0)
    ]


async def test_tcp_monitor_follows_the_port(db: Database) -> None:
    port = free_port()

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", port)
    redis = await add_monitor(
        db,
        {"name": "port", "kind": "tcp", "host": "127.0.0.1", "port": port, "interval": 1},
    )
    async with running_engine(db):
        await until(lambda: state_is(db, redis, "up"), "up")
        server.close()
        await server.wait_closed()
        await until(lambda: state_is(db, redis, "down"), "down")
        server = await asyncio.start_server(accept, "127.0.0.1", port)
        await until(lambda: state_is(db, redis, "up"), "up again")
    server.close()
    await server.wait_closed()
    stored = await results(db, redis)
    assert "refused" in {r["failure"] for r in stored}


async def test_unset_header_variable_is_a_config_failure(db: Database, targets: Targets) -> None:
    api = await add_monitor(
        db,
        {
            "name": "secret",
            "kind": "http",
            "url": f"{targets.http_url}/echo",
            "interval": "1s",
            "headers": {"Authorization": "Bearer ${API_TOKEN}"},
            "assert": ['json $.headers.Authorization == "Bearer s3cret"'],
        },
    )
    async with running_engine(db, {"API_TOKEN": "s3cret"}):
        await until(lambda: state_is(db, api, "up"), "up with the token")
    assert (await monitor(db, api)).probe["headers"] == {"Authorization": "Bearer ${API_TOKEN}"}
    async with running_engine(db, {}):

        async def failed() -> bool:
            return any(r["failure"] == "config" for r in await results(db, api))

        await until(failed, "a config failure")
    failure = next(r for r in await results(db, api) if r["failure"] == "config")
    assert "API_TOKEN is not set" in failure["error"]


async def test_a_substituted_secret_stays_out_of_logs_results_and_flips(
    db: Database, targets: Targets, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tocsin")
    api = await add_monitor(
        db,
        {
            "name": "api",
            "kind": "http",
            "url": f"{targets.http_url}/status/503?key=${{API_TOKEN}}",
            "method": "POST",
            "interval": "1s",
            "headers": {"Authorization": "Bearer ${API_TOKEN}"},
            "body": "token=${API_TOKEN}",
            "assert": ["status == 200"],
            "confirm": {"fail": 1},
        },
    )
    async with running_engine(db, {"API_TOKEN": "s3cret-5d1f"}):
        await until(lambda: state_is(db, api, "down"), "down")
    stored = json.dumps(await results(db, api), default=str)
    async with db.read() as conn:
        flips = await list_flips(conn, api.id)
    # The route takes GET only: the POST with its secret body is answered 405.
    assert '"status_code": 405' in stored and flips[0].new_state == "down"
    for text in (caplog.text, stored, repr(flips)):
        assert "s3cret-5d1f" not in text


@pytest.mark.parametrize(
    ("path", "failure", "error"),
    [
        ("/status/200", "protocol", "not an application/health+json report: "),
        ("/big", "too_large", "the answer is larger than the 1 MiB a probe reads"),
    ],
)
async def test_an_app_answer_that_is_no_whole_report_is_stored_as_a_classified_failure(
    db: Database, targets: Targets, path: str, failure: str, error: str
) -> None:
    shop = await add_monitor(
        db, {"name": "shop", "kind": "app", "url": f"{targets.http_url}{path}", "interval": "1s"}
    )
    async with running_engine(db):
        await until(lambda: state_is(db, shop, "down"), "down")
    first = (await results(db, shop))[0]
    assert (first["verdict"], first["status_code"], first["failure"]) == ("fail", 200, failure)
    assert first["error"].startswith(error)


async def test_a_flip_is_logged_with_its_monitor_once_committed(
    db: Database, targets: Targets, caplog: pytest.LogCaptureFixture
) -> None:
    api = await add_monitor(
        db, {"name": "api", "kind": "http", "url": f"{targets.http_url}/health", "interval": "1s"}
    )
    with caplog.at_level(logging.INFO, logger=engine_module.__name__):
        async with running_engine(db) as batches:

            async def first_batch_flipped() -> bool:
                return bool(batches and batches[0].flips)

            await until(first_batch_flipped, "the first check's flip")
    lines = [r.getMessage() for r in caplog.records if r.name == engine_module.__name__]
    flipped = [line for line in lines if line.startswith("probe flip ")]
    assert flipped[0].startswith(f"probe flip monitor_id={api.id} old=new new=up cause=")
    assert batches[0].flipped == [api.id]
