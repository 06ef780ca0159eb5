"""Celery beat liveness with a real ``celery beat``: ``celery:beat_age`` passes while beat
schedules and fails once it was killed."""

from __future__ import annotations

import os
import signal
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import venv_bin
from tests.health.procs import ROOT, Processes, wait_until
from tocsin.health import HealthChecker, above
from tocsin.health.checks.celery_beat import CeleryBeatCheck
from tocsin.workers.keys import beat_key

BEAT_APP = """
import os

from celery import Celery

from tocsin.workers import celery as tocsin_celery

app = Celery("beatapp", broker=os.environ["BROKER_URL"])
app.conf.beat_schedule = {"noop": {"task": "beatapp.noop", "schedule": 30.0}}
tocsin_celery.install_beat_liveness(app, name=os.environ["BEAT_NAME"], interval=0.5)


@app.task(name="beatapp.noop")
def noop() -> None:
    return None
"""


def start_beat(procs: Processes, tmp_path: Path, broker: str, name: str) -> Any:
    (tmp_path / "beatapp.py").write_text(textwrap.dedent(BEAT_APP))
    args = [venv_bin("celery"), "-A", "beatapp", "beat", "--loglevel", "INFO"]
    args += ["-s", str(tmp_path / "schedule.db")]
    env = {"BROKER_URL": broker, "BEAT_NAME": name, "PYTHONPATH": f"{ROOT / 'src'}:{tmp_path}"}
    return procs.start(args, cwd=tmp_path, env=env)


def beat_entry(checker: HealthChecker) -> dict[str, Any]:
    entries = checker.run(fresh=True).to_json()["checks"]["celery:beat_age"]
    assert len(entries) == 1
    result: dict[str, Any] = entries[0]
    return result


@pytest.mark.slow
def test_beat_age_passes_while_beat_runs_and_fails_after_sigkill(
    procs: Processes, tmp_path: Path, redis_url: str
) -> None:
    beat = start_beat(procs, tmp_path, redis_url, "main")
    checker = HealthChecker([CeleryBeatCheck(redis_url, "main", age=above(fail=3))], ttl=0)
    running = wait_until(lambda: beat_entry(checker), lambda e: e["status"] == "pass", 30)
    assert running["observedUnit"] == "s"
    assert running["observedValue"] < 3
    assert "last scheduler pass" in running["output"]
    # Beat sleeps at most the liveness interval, so the age stays low over several passes
    # although the only entry is due every 30 s.
    for _ in range(10):
        time.sleep(0.5)
        entry = beat_entry(checker)
        assert entry["status"] == "pass", (entry, procs.log(beat))

    os.killpg(beat.pid, signal.SIGKILL)
    beat.wait(10)
    dead = wait_until(lambda: beat_entry(checker), lambda e: e["status"] == "fail", 15)
    assert dead["observedValue"] >= 3
    assert "fail level 3" in dead["output"]


def test_a_beat_that_never_reported_fails(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.delete(beat_key("absent"))
    entry = HealthChecker([CeleryBeatCheck(client, "absent")]).run().to_json()
    body = entry["checks"]["celery:beat_age"][0]
    assert entry["status"] == "fail"
    assert body["observedValue"] is None
    assert "never reported" in body["output"]
    assert body["componentId"] == "absent"
