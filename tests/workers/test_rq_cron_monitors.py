"""``monitor_cron``: a real ``tocsin server``, ``rq cron`` and ``rq worker``; one monitor per
RQ cron job with the job's schedule, pinged by RQ's own webhooks."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import venv_bin
from tests.health.procs import ROOT, Processes, wait_until
from tests.server_process import start_server
from tests.workers.server_keys import api, credentials

JOBS = """
def works() -> str:
    return "ok"


def breaks() -> None:
    raise ValueError("the export bucket is gone")
"""

CRON_CONFIG = """
import os

from rq import cron

from cronjobs import breaks, works
from tocsin.workers.rq_cron import monitor_cron

cron.register(works, "cronq", interval=1, name="rq every second")
cron.register(breaks, "cronq", interval=1)
cron.register(works, "cronq", cron="30 3 * * 1-5", name="nightly")

monitor_cron(
    os.environ["TOCSIN_SERVER"], ping_key=os.environ["PING_KEY"], api_key=os.environ["API_KEY"]
)
"""


@pytest.mark.slow
def test_every_rq_cron_job_gets_a_monitor_and_webhook_pings(
    procs: Processes, tmp_path: Path, redis_url: str
) -> None:
    with start_server(tmp_path / "server") as server:
        api_key, ping_key = credentials(server)
        (tmp_path / "cronjobs.py").write_text(textwrap.dedent(JOBS))
        (tmp_path / "cron_config.py").write_text(textwrap.dedent(CRON_CONFIG))
        env = {
            "TOCSIN_SERVER": server.base_url,
            "PING_KEY": ping_key,
            "API_KEY": api_key,
            "TZ": "Europe/Paris",
            "PYTHONPATH": f"{ROOT / 'src'}:{tmp_path}",
        }
        scheduler = procs.start(
            [venv_bin("rq"), "cron", "cron_config.py", "--url", redis_url], cwd=tmp_path, env=env
        )
        procs.start([venv_bin("rq"), "worker", "cronq", "--url", redis_url], cwd=tmp_path, env=env)

        def monitors() -> dict[str, Any]:
            return {m["slug"]: m for m in api(server, api_key, "/monitors")["monitors"]}

        found = wait_until(monitors, lambda m: len(m) >= 3, 30)
        assert set(found) == {"rq-every-second", "cronjobs-breaks", "nightly"}, procs.log(scheduler)
        assert found["rq-every-second"]["period_seconds"] == 1.0
        nightly = found["nightly"]
        assert (nightly["cron"], nightly["timezone"]) == ("30 3 * * 1-5", "Europe/Paris")
        assert nightly["tags"] == ["rq-cron"]

        def pings(slug: str) -> list[dict[str, Any]]:
            return list(reversed(api(server, api_key, f"/monitors/{slug}/pings")["pings"]))

        ok = wait_until(lambda: pings("rq-every-second"), lambda p: len(p) >= 2, 30)
        assert {p["kind"] for p in ok} == {"success"}
        failed = wait_until(lambda: pings("cronjobs-breaks"), lambda p: len(p) >= 1, 30)
        assert failed[0]["kind"] == "fail"
        assert "the export bucket is gone" in failed[0]["body"]
        assert api(server, api_key, "/monitors/cronjobs-breaks")["state"] == "down"
