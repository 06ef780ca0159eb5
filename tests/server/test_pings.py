"""The Healthchecks-compatible ping routes, over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.server.live import LiveServer, live_server
from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(
        database_url, tmp_path, TOCSIN_PING_BODY_LIMIT="64", TOCSIN_PING_BODY_MAX="1000"
    ) as live:
        yield live


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        yield http


async def test_success_ping_answers_ok_and_is_stored(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    monitor = await server.create_monitor(name="backup", period="1h", grace="5m")
    for method in ("GET", "POST", "HEAD"):
        response = await client.request(method, f"/ping/{monitor.uuid}")
        assert response.status_code == 200
        assert response.text == ("" if method == "HEAD" else "OK")
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["ping-body-limit"] == "64"
    stored = await server.monitor(monitor.uuid)
    assert stored.status.state is MonitorState.UP
    assert stored.n_pings == 3
    assert stored.status.next_deadline == stored.status.last_ping_at + stored.schedule.period  # type: ignore[operator]
    assert [p.method for p in await server.pings(monitor.uuid)] == ["HEAD", "POST", "GET"]


@pytest.mark.parametrize(
    "path",
    [
        "/ping/not-a-uuid",
        "/ping/0b9f3c1e-5d2a-4f6b-8c7d-9e0a1b2c3d4e",  # a well-formed UUID no monitor has
        "/ping/0b9f3c1e-5d2a-4f6b-8c7d-9e0a1b2c3d4e/start",
        "/ping/",
        "/ping/a/b/c/d",
    ],
)
async def test_unknown_or_malformed_uuid_is_404_and_stores_nothing(
    server: LiveServer, client: httpx.AsyncClient, path: str
) -> None:
    monitor = await server.create_monitor(name="other")
    response = await client.get(path)
    assert response.status_code == 404
    assert response.text == "not found"
    assert (await server.monitor(monitor.uuid)).n_pings == 0


async def test_start_then_success_with_run_id_measures_duration(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    monitor = await server.create_monitor(name="job", period="1h", grace="10m")
    rid = str(uuid.uuid4())
    assert (await client.get(f"/ping/{monitor.uuid}/start?rid={rid}")).text == "OK"
    assert (await server.monitor(monitor.uuid)).status.state is MonitorState.STARTED
    assert (await client.post(f"/ping/{monitor.uuid}/0?rid={rid}", content="done")).text == "OK"
    stored = await server.monitor(monitor.uuid)
    assert stored.status.state is MonitorState.UP
    newest = (await server.pings(monitor.uuid))[0]
    assert newest.kind == "success" and newest.exit_status == 0 and newest.rid == rid
    assert newest.duration_seconds is not None and 0 <= newest.duration_seconds < 5
    assert stored.last_duration_seconds == newest.duration_seconds


async def test_fail_and_nonzero_exit_status_flip_down_with_cause(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    monitor = await server.create_monitor(name="job")
    await client.get(f"/ping/{monitor.uuid}")
    assert (await client.get(f"/ping/{monitor.uuid}/3")).status_code == 200
    assert (await server.monitor(monitor.uuid)).status.state is MonitorState.DOWN
    flips = await server.flips(monitor.uuid)
    assert [(f.old_state, f.new_state, f.cause) for f in flips] == [
        ("up", "down", "exit status 3"),
        ("new", "up", "success ping"),
    ]
    await client.get(f"/ping/{monitor.uuid}")
    await client.get(f"/ping/{monitor.uuid}/fail")
    assert (await server.flips(monitor.uuid))[0].cause == "fail ping"


async def test_log_ping_is_stored_without_changing_state(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    monitor = await server.create_monitor(name="job")
    assert (await client.post(f"/ping/{monitor.uuid}/log", content="note")).text == "OK"
    stored = await server.monitor(monitor.uuid)
    assert stored.status.state is MonitorState.NEW and stored.n_pings == 1
    assert (await server.pings(monitor.uuid))[0].body == "note"


@pytest.mark.parametrize(("path", "status"), [("/256", 400), ("/-1", 404), ("/bogus", 404)])
async def test_bad_exit_status_or_action(
    server: LiveServer, client: httpx.AsyncClient, path: str, status: int
) -> None:
    monitor = await server.create_monitor(name="job")
    response = await client.get(f"/ping/{monitor.uuid}{path}")
    assert response.status_code == status
    assert (await server.monitor(monitor.uuid)).n_pings == 0


async def test_bad_run_id_is_400(server: LiveServer, client: httpx.AsyncClient) -> None:
    monitor = await server.create_monitor(name="job")
    response = await client.get(f"/ping/{monitor.uuid}/start?rid=nope")
    assert (response.status_code, response.text) == (400, "invalid url format")


async def test_body_is_kept_up_to_the_limit_and_oversize_is_413(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    monitor = await server.create_monitor(name="job")
    body = "x" * 50 + "é" * 30  # 110 bytes in UTF-8
    assert (await client.post(f"/ping/{monitor.uuid}", content=body.encode())).status_code == 200
    stored = (await server.pings(monitor.uuid))[0]
    assert stored.body_size == 110
    assert stored.body is not None and stored.body.startswith("x" * 50)
    assert len(stored.body.encode("utf-8", "replace")) <= 64 + 3  # cut may split a character
    too_big = await client.post(f"/ping/{monitor.uuid}", content=b"y" * 1001)
    assert (too_big.status_code, too_big.text) == (413, "request body too large")

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(11):
            yield b"z" * 100

    streamed = await client.post(f"/ping/{monitor.uuid}", content=chunked())
    assert streamed.status_code == 413
    assert (await server.monitor(monitor.uuid)).n_pings == 1


async def test_curl_data_raw_form_body_is_accepted(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    monitor = await server.create_monitor(name="job")
    output = "line 1\nline 2 & more=stuff"
    response = await client.post(
        f"/ping/{monitor.uuid}",
        content=output.encode(),
        headers={"content-type": "application/x-www-form-urlencoded", "user-agent": "curl/8.5"},
    )
    assert response.text == "OK"
    stored = (await server.pings(monitor.uuid))[0]
    assert stored.body == output and stored.user_agent == "curl/8.5"


async def test_slug_urls_and_auto_provisioning(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    key = await server.ping_key()
    await server.create_monitor(name="Nightly Backup")
    ok = await client.get(f"/ping/{key}/nightly-backup/start")
    assert (ok.status_code, ok.text) == (200, "OK")
    missing = await client.get(f"/ping/{key}/new-job")
    assert (missing.status_code, missing.text) == (404, "not found")
    created = await client.get(f"/ping/{key}/new-job?create=1")
    assert (created.status_code, created.text) == (201, "Created")
    again = await client.get(f"/ping/{key}/new-job?create=1")
    assert (again.status_code, again.text) == (200, "OK")
    assert (await server.monitor("new-job")).n_pings == 2
    wrong_key = await client.get("/ping/not-the-key/new-job?create=1")
    assert wrong_key.status_code == 404


async def test_ambiguous_slug_is_409(server: LiveServer, client: httpx.AsyncClient) -> None:
    key = await server.ping_key()
    await server.create_monitor(name="a", slug="same")
    await server.create_monitor(name="b", slug="same")
    response = await client.get(f"/ping/{key}/same")
    assert (response.status_code, response.text) == (409, "ambiguous slug")


async def test_ping_resumes_a_paused_monitor(server: LiveServer, client: httpx.AsyncClient) -> None:
    from tocsin.server.storage.monitors import pause_monitor
    from tocsin.server.storage.projects import default_project

    monitor = await server.create_monitor(name="job")
    async with server.database.write() as conn:
        project = await default_project(conn)
        await pause_monitor(conn, project.id, monitor.uuid, datetime.now(UTC))
    await client.get(f"/ping/{monitor.uuid}")
    assert (await server.monitor(monitor.uuid)).status.state is MonitorState.UP


async def test_metrics_count_stored_pings(server: LiveServer, client: httpx.AsyncClient) -> None:
    monitor = await server.create_monitor(name="job")
    await client.get(f"/ping/{monitor.uuid}/start")
    await client.get(f"/ping/{monitor.uuid}")
    await client.get(f"/ping/{uuid.uuid4()}")
    text = (await client.get("/metrics")).text
    assert 'tocsin_pings_received_total{kind="start"} 1.0' in text
    assert 'tocsin_pings_received_total{kind="success"} 1.0' in text
    assert 'tocsin_monitors{state="up"} 1.0' in text
    assert "tocsin_ping_writer_batch_size_count" in text


async def test_nul_bytes_in_a_body_are_stored_safely(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    monitor = await server.create_monitor(name="job")
    other = await server.create_monitor(name="other")
    # PostgreSQL refuses NUL in text; the ping and its batch neighbours must still land.
    first, second = await asyncio.gather(
        client.post(f"/ping/{monitor.uuid}", content=b"a\x00b"),
        client.post(f"/ping/{other.uuid}", content=b"fine"),
    )
    assert (first.text, second.text) == ("OK", "OK")
    assert (await server.pings(monitor.uuid))[0].body == "a\ufffdb"
    assert (await server.pings(other.uuid))[0].body == "fine"


@pytest.fixture
async def small_batches(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A server whose writer takes at most 4 pings per batch, so a burst makes many
    batches; on PostgreSQL several of them are in flight at once."""
    async with live_server(database_url, tmp_path, TOCSIN_WRITER_BATCH_MAX="4") as live:
        yield live


async def test_concurrent_pings_to_shared_monitors_are_numbered_without_gaps(
    small_batches: LiveServer,
) -> None:
    server = small_batches
    monitors = [await server.create_monitor(name=f"job-{i}") for i in range(3)]
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        answers = await asyncio.gather(
            *(client.get(f"/ping/{monitors[i % 3].uuid}") for i in range(150))
        )
    assert {a.text for a in answers} == {"OK"}
    for monitor in monitors:
        stored = await server.monitor(monitor.uuid)
        assert stored.n_pings == 50
        assert sorted(p.n for p in await server.pings(monitor.uuid)) == list(range(1, 51))


async def test_concurrent_create_pings_for_a_new_slug_make_one_monitor(
    small_batches: LiveServer,
) -> None:
    server = small_batches
    key = await server.ping_key()
    # The name is taken, so each creation would get a suffixed name of its own: only
    # taking turns keeps two batches from both creating a monitor.
    await server.create_monitor(name="brand-new", slug="older-job")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        answers = await asyncio.gather(
            *(client.get(f"/ping/{key}/brand-new?create=1") for _ in range(40))
        )
    assert sorted(a.status_code for a in answers) == [200] * 39 + [201]
    created = [m for m in await server.monitors() if m.slug == "brand-new"]
    assert [m.n_pings for m in created] == [40]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_pings_survive_the_database_dropping_the_writer_connections(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    # The writer's pool skips the pre-ping round trip; a connection that died (a
    # PostgreSQL restart, a failover) must cost a retry, never a lost ping.
    monitor = await server.create_monitor(name="job")
    assert (await client.get(f"/ping/{monitor.uuid}")).text == "OK"
    async with server.database.write() as conn:
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    answers = await asyncio.gather(*(client.get(f"/ping/{monitor.uuid}") for _ in range(5)))
    assert [a.text for a in answers] == ["OK"] * 5
    assert (await server.monitor(monitor.uuid)).n_pings == 6


@pytest.fixture
async def three_monitors_max(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A server whose project may hold at most three monitors."""
    async with live_server(database_url, tmp_path, TOCSIN_MAX_MONITORS="3") as live:
        yield live


async def test_create_pings_and_the_api_stop_at_the_monitor_limit(
    three_monitors_max: LiveServer,
) -> None:
    server = three_monitors_max
    key = await server.ping_key()
    async with server.database.write() as conn:
        api_key = (await create_api_key(conn, "ci", ApiKeyScope.WRITE, datetime.now(UTC))).key
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        created = [
            (await client.get(f"/ping/{key}/job-{n}?create=1")).status_code for n in range(3)
        ]
        # Past the limit a new slug is answered as Healthchecks does: 404, nothing stored.
        refused = await client.get(f"/ping/{key}/job-3?create=1")
        existing = await client.get(f"/ping/{key}/job-0?create=1")
        by_api = await client.post(
            "/api/v1/monitors",
            json={"name": "one-more", "period": "1h"},
            headers={"Authorization": f"Bearer {api_key}"},
        )
    assert created == [201, 201, 201]
    assert (refused.status_code, refused.text) == (404, "not found")
    assert (existing.status_code, existing.text) == (200, "OK")
    assert by_api.status_code == 409
    assert "TOCSIN_MAX_MONITORS" in by_api.json()["error"]
    assert sorted(m.slug for m in await server.monitors()) == ["job-0", "job-1", "job-2"]


@pytest.mark.parametrize(
    ("kind", "fields", "article"),
    [
        ("http", {"url": "http://127.0.0.1:9/"}, "an"),
        ("app", {"url": "http://127.0.0.1:9/healthz"}, "an"),
        ("tcp", {"host": "127.0.0.1", "port": 9}, "a"),
    ],
)
async def test_ping_to_a_probed_monitor_is_refused_and_stores_nothing(
    server: LiveServer, client: httpx.AsyncClient, kind: str, fields: dict[str, Any], article: str
) -> None:
    monitor = await server.create_monitor(name="probed", kind=kind, interval="1h", **fields)
    key = await server.ping_key()
    refusal = f"this monitor is {article} {kind} monitor; it is probed, not pinged"
    for path in (
        f"/ping/{monitor.uuid}",
        f"/ping/{monitor.uuid}/fail",
        f"/ping/{key}/probed",
        f"/ping/{key}/probed/start?create=1",
    ):
        response = await client.post(path, content="hello")
        assert (response.status_code, response.text) == (409, refusal), path
    assert (await server.monitor(monitor.uuid)).n_pings == 0
    assert await server.pings(monitor.uuid) == []
    assert len(await server.monitors()) == 1
