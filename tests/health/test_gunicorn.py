"""The example app under a real gunicorn gthread server, with a hung Redis behind it."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time

import httpx
import pytest

from tests.conftest import free_port, venv_bin, wait_for_port
from tests.health.procs import EXAMPLES, ROOT, Processes, entry, throwaway_redis


@pytest.mark.slow
def test_concurrent_healthz_under_gthread_with_hung_redis(procs: Processes) -> None:
    with throwaway_redis(procs) as (redis_port, redis_server):
        port = free_port()
        env = {
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "HEALTH_CACHE_SECONDS": "1",
            "PYTHONPATH": f"{ROOT / 'src'}",
        }
        args = [venv_bin("gunicorn"), "-k", "gthread", "-w", "1", "--threads", "8"]
        args += ["-b", f"127.0.0.1:{port}", "app:app"]
        procs.start(args, cwd=EXAMPLES / "flask_rq", env=env)
        wait_for_port(port, timeout=20)
        url = f"http://127.0.0.1:{port}/healthz"
        assert httpx.get(url, timeout=10).status_code == 503  # no workers
        os.killpg(redis_server.pid, signal.SIGSTOP)
        time.sleep(1.1)  # let the cached report expire

        def get(_: int) -> tuple[int, float, dict[str, object]]:
            began = time.monotonic()
            response = httpx.get(url, timeout=10)
            return response.status_code, time.monotonic() - began, response.json()

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(get, range(16)))
        os.killpg(redis_server.pid, signal.SIGCONT)
        assert {status for status, _, _ in results} == {503}
        assert max(elapsed for _, elapsed, _ in results) < 2 + 1.5  # check timeout 2 s
        body = results[0][2]
        assert entry(body, "redis:latency")["status"] == "fail"
        assert httpx.get(f"http://127.0.0.1:{port}/livez", timeout=5).status_code == 200
