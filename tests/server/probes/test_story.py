"""The story of issue 9 end to end: a Flask app with an RQ worker and tocsin's ``/healthz``,
watched by a real ``tocsin server`` through an ``app`` monitor. Kill the worker: a webhook
alert naming ``rq:workers`` arrives, and only after two failing results; restart it: a
recovery alert."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.conftest import free_port
from tests.health.procs import EXAMPLES, Processes, load_example
from tests.server.alerts.receivers import Receiver, receiver
from tests.server_process import ServerProcess
from tests.workers.server_keys import credentials
from tocsin.server.storage.database import Database
from tocsin.server.storage.flips import list_flips
from tocsin.server.storage.monitors import get_monitor
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.tables import probe_results

TOKEN = "story-health-token"
ALERT_SECONDS = 15.0


@contextmanager
def serve_flask_app(redis_url: str) -> Iterator[str]:
    """The example Flask+RQ API on a real WSGI server on 127.0.0.1; yields its /healthz URL."""
    module = load_example("flask_rq", "app")
    app = module.create_app(redis_url, ["default"], token=TOKEN, cache_seconds=0.2)
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/healthz"
    finally:
        server.shutdown()
        thread.join(10)


def start_worker(procs: Processes, redis_url: str) -> Any:
    """The example's ``TocsinWorker``: beats every 0.5 s, counted for 2 s after a beat."""
    env = {"REDIS_URL": redis_url, "LIVENESS_INTERVAL": "0.5", "LIVENESS_TTL": "2"}
    return procs.start([sys.executable, "worker.py"], cwd=EXAMPLES / "flask_rq", env=env)


def api_post(server: ServerProcess, key: str, path: str, body: dict[str, Any]) -> Any:
    answer = httpx.post(
        f"{server.base_url}/api/v1{path}",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=5,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def stored(server: ServerProcess, uuid: str) -> tuple[list[Any], list[Any]]:
    """The monitor's flips and probe results (oldest first), from the server's database."""
    database = Database(server.database_url)
    try:
        async with database.read() as conn:
            project = await default_project(conn)
            record = await get_monitor(conn, project.id, uuid)
            flips = list(reversed(await list_flips(conn, record.id)))
            query = select(probe_results).where(probe_results.c.monitor_id == record.id)
            rows = list((await conn.execute(query.order_by(probe_results.c.id))).mappings())
    finally:
        await database.dispose()
    return flips, rows


async def next_alert(hook: Receiver, seen: int) -> dict[str, Any]:
    """The payload of the alert after the first ``seen`` ones."""
    requests = await hook.wait_for(seen + 1, timeout=ALERT_SECONDS)
    payload: dict[str, Any] = json.loads(requests[seen].body)
    return payload


@pytest.mark.slow
async def test_killed_worker_alerts_naming_rq_workers_after_two_failures_then_recovers(
    redis_url: str, tmp_path: Path
) -> None:
    procs = Processes(tmp_path)
    server = ServerProcess(tmp_path / "server", TOCSIN_PROBE_RELOAD_SECONDS="1", HEALTH_TOKEN=TOKEN)
    try:
        worker = start_worker(procs, redis_url)
        with serve_flask_app(redis_url) as healthz:
            await asyncio.to_thread(server.start)
            key, _ = await asyncio.to_thread(credentials, server)
            async with receiver() as hook:
                api_post(
                    server, key, "/channels", {"name": "ops", "kind": "webhook", "url": hook.url}
                )
                shop = api_post(
                    server,
                    key,
                    "/monitors",
                    {
                        "name": "shop-app",
                        "kind": "app",
                        "url": healthz,
                        "headers": {"Authorization": "Bearer ${HEALTH_TOKEN}"},
                        "interval": "1s",
                        "confirm": {"fail": 2, "recover": 1},
                        "components": {"rq:workers": {"fail": "< 1"}},
                        "channels": ["ops"],
                    },
                )
                await _wait_up(server, shop["uuid"])

                os.kill(worker.pid, signal.SIGKILL)
                down = await next_alert(hook, 0)
                assert down["event"] == "down"
                assert down["monitor"]["name"] == "shop-app"
                assert "shop-app is DOWN: rq:workers[default] = 0 (< 1)" in down["summary"]
                assert "rq:workers" in str(down["probe"])

                flips, results = await stored(server, shop["uuid"])
                went_down = next(f for f in flips if f.new_state == "down")
                before = [r for r in results if r["started_at"] <= went_down.created_at]
                last_pass = max(i for i, r in enumerate(before) if r["verdict"] == "pass")
                failing = before[last_pass + 1 :]
                # Down at the second failing result, not at the first.
                assert [r["verdict"] for r in failing] == ["fail", "fail"]
                assert failing[-1]["started_at"] == went_down.created_at

                start_worker(procs, redis_url)
                up = await next_alert(hook, 1)
                assert up["event"] == "up"
                assert re.match(r"shop-app is UP after \d+ s down: ", up["summary"]), up["summary"]
                assert "was: rq:workers[default] = 0 (< 1)" in up["summary"]
    finally:
        await asyncio.to_thread(server.stop)
        procs.stop_all()


async def _wait_up(server: ServerProcess, uuid: str) -> None:
    """Wait until the monitor's first passing result made it ``up``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ALERT_SECONDS
    while True:
        flips, _ = await stored(server, uuid)
        if any(f.new_state == "up" for f in flips):
            return
        assert loop.time() < deadline, f"never up; server log:\n{server.log()}"
        await asyncio.sleep(0.2)
