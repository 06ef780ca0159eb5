"""``/metrics`` of a real server counts its probes: results by verdict, runs, skips,
lateness and batch write time, on both databases."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from tests.server.live import live_server
from tests.server.probes.targets import Targets

WAIT_SECONDS = 20.0


def value(text: str, sample: str) -> float:
    """The value of the exposition line starting with ``sample`` (0 when absent)."""
    found = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_metrics_count_probe_results_runs_and_lateness(
    database_url: str, tmp_path: Path, targets: Targets
) -> None:
    async with live_server(database_url, tmp_path, TOCSIN_PROBE_RELOAD_SECONDS="1") as server:
        url = f"{targets.http_url}/health"
        for name, expected in (("passing", 200), ("failing", 201)):
            fields = {"name": name, "kind": "http", "url": url, "interval": "1s"}
            await server.create_monitor(**fields, **{"assert": [f"status == {expected}"]})
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + WAIT_SECONDS
            while True:
                text = (await client.get("/metrics")).text
                passed = value(text, 'tocsin_probe_results_total{verdict="pass"}')
                failed = value(text, 'tocsin_probe_results_total{verdict="fail"}')
                if passed >= 2 and failed >= 2:
                    break
                assert loop.time() < deadline, f"probe results not counted:\n{text}"
                await asyncio.sleep(0.2)
    runs = value(text, "tocsin_probe_runs_total")
    assert runs >= passed + failed
    assert value(text, "tocsin_probe_jobs") == 2
    assert "tocsin_probe_skips_total" in text
    assert value(text, 'tocsin_probe_lateness_seconds_bucket{le="+Inf"}') == runs
    assert value(text, "tocsin_probe_lateness_seconds_count") == runs
    assert value(text, "tocsin_probe_batch_write_seconds_count") >= 1
    assert value(text, 'tocsin_flips_total{state="down"}') == 1
