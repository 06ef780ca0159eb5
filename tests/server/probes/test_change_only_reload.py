"""The probe engine reloads only what changed, on both databases: an edit, a pause or a
deletion made by another process (no ``refresh()`` call reaches this engine) is picked up
on the next pass, by its change-only reads alone (the engines here never make a periodic
full read after their first pass), even when the writer's clock is behind; the engine's
own writes (states, streaks) are not changes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from tests.server.probes.targets import Targets
from tests.server.probes.test_engine import add_monitor, results, until
from tocsin.server.domain.spec import monitor_spec
from tocsin.server.probes.engine import ProbeBatchResult, ProbeEngine
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import (
    delete_monitor,
    pause_monitor,
    resume_monitor,
    update_monitor,
)
from tocsin.server.storage.probe_writes import (
    ProbedMonitorRow,
    probe_versions,
    set_probe_states,
)


@contextlib.asynccontextmanager
async def engine_reloading_often(db: Database) -> AsyncIterator[ProbeEngine]:
    """An engine that re-reads the monitors every 0.2 s and is never told to refresh."""
    batches: list[ProbeBatchResult] = []
    engine = ProbeEngine(
        db,
        base_url="http://tocsin.test",
        on_commit=batches.append,
        reload_seconds=0.2,
        full_pass_every=1_000_000,
    )
    engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


def http(name: str, url: str) -> dict[str, object]:
    return {"name": name, "kind": "http", "url": url, "interval": "1s"}


async def test_another_process_edit_pause_and_delete_are_picked_up(
    db: Database, database_url: str, targets: Targets
) -> None:
    api = await add_monitor(db, http("api", f"{targets.http_url}/status/200"))
    spare = await add_monitor(db, http("spare", f"{targets.http_url}/status/200"))
    other = Database(database_url)  # another process's connection to the same database
    try:
        async with engine_reloading_often(db) as engine:

            async def status_seen(code: int) -> bool:
                return any(r["status_code"] == code for r in await results(db, api))

            await until(lambda: status_seen(200), "a first result")
            async with other.write() as conn:
                spec = monitor_spec(http("api", f"{targets.http_url}/status/418"))
                await update_monitor(conn, 1, api.uuid, spec, datetime.now(UTC))
            await until(lambda: status_seen(418), "the edited URL probed")

            # A writer whose clock runs 10 s behind (another node): still a change.
            async with other.write() as conn:
                spec = monitor_spec(http("api", f"{targets.http_url}/status/201"))
                behind = datetime.now(UTC) - timedelta(seconds=10)
                await update_monitor(conn, 1, api.uuid, spec, behind)
            await until(lambda: status_seen(201), "the edit with a lagging clock probed")

            async with other.write() as conn:
                await pause_monitor(conn, 1, api.uuid, datetime.now(UTC))
                await delete_monitor(conn, 1, spare.uuid)

            async def dropped() -> bool:
                return engine.monitor_ids() == set()

            await until(dropped, "the paused and the deleted monitor dropped")
            async with other.write() as conn:
                await resume_monitor(conn, 1, api.uuid, datetime.now(UTC))

            async def back() -> bool:
                return engine.monitor_ids() == {api.id}

            await until(back, "the resumed monitor scheduled again")
    finally:
        await other.dispose()


async def test_engine_writes_keep_the_version_and_user_changes_move_it(db: Database) -> None:
    api = await add_monitor(db, http("api", "http://127.0.0.1:9/"))
    async with db.read() as conn:
        first = await probe_versions(conn)
    at = datetime.now(UTC)
    row = ProbedMonitorRow("down", 2, 0, at, "fail", api.id)
    await db.run_write(set_probe_states, [row])
    async with db.read() as conn:
        assert await probe_versions(conn) == first, "a result batch is not a change"
    later = at + timedelta(seconds=1)
    async with db.write() as conn:
        spec = monitor_spec(http("api", "http://127.0.0.1:9/other"))
        await update_monitor(conn, 1, api.uuid, spec, later)
    async with db.read() as conn:
        edited = await probe_versions(conn)
    assert set(edited) == {api.id}
    assert edited[api.id] != first[api.id], "an edit moves the version"
