"""``monitor_beat``: a real ``tocsin server``, ``celery beat`` and worker; one monitor per
beat entry with the entry's schedule, and start/success/fail pings around each run."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.schedules import crontab

from tests.conftest import venv_bin
from tests.health.procs import ROOT, Processes, wait_until
from tests.server_process import start_server
from tests.workers.server_keys import api, credentials
from tocsin.workers.celery_monitors import cron_expression
from tocsin.workers.cron_monitors import MonitorPlan, MonitorSync, slugify

CRON_APP = """
import os

from celery import Celery
from celery.schedules import crontab

from tocsin.workers import celery as tocsin_celery

app = Celery("cronapp", broker=os.environ["BROKER_URL"])
app.conf.timezone = "Europe/Berlin"
app.conf.beat_schedule = {
    "every second": {"task": "cronapp.works", "schedule": 1.0},
    "Flaky Job!": {"task": "cronapp.breaks", "schedule": 1.0},
    "nightly-report": {
        "task": "cronapp.works",
        "schedule": crontab(minute=30, hour=3, day_of_week="mon-fri"),
    },
    "friday-13th": {
        "task": "cronapp.works",
        "schedule": crontab(minute=0, hour=0, day_of_month=13, day_of_week="fri"),
    },
}
tocsin_celery.monitor_beat(
    app,
    os.environ["TOCSIN_SERVER"],
    ping_key=os.environ["PING_KEY"],
    api_key=os.environ["API_KEY"],
    tags=["cron", "celery"],
)


@app.task(name="cronapp.works")
def works() -> str:
    return "ok"


@app.task(name="cronapp.breaks")
def breaks() -> None:
    raise ValueError("the report database is gone")


@app.task(name="cronapp.direct")
def direct() -> str:
    return "not from beat"
"""


@pytest.mark.slow
def test_every_beat_entry_gets_a_monitor_with_its_schedule_and_pings(
    procs: Processes, tmp_path: Path, redis_url: str
) -> None:
    with start_server(tmp_path / "server") as server:
        api_key, ping_key = credentials(server)
        (tmp_path / "cronapp.py").write_text(textwrap.dedent(CRON_APP))
        env = {
            "BROKER_URL": redis_url,
            "TOCSIN_SERVER": server.base_url,
            "PING_KEY": ping_key,
            "API_KEY": api_key,
            "PYTHONPATH": f"{ROOT / 'src'}:{tmp_path}",
        }
        celery = [venv_bin("celery"), "-A", "cronapp"]
        beat = procs.start(
            [*celery, "beat", "-s", str(tmp_path / "schedule.db"), "--loglevel", "INFO"],
            cwd=tmp_path,
            env=env,
        )
        worker = procs.start(
            [*celery, "worker", "-c", "1", "--without-mingle", "--without-gossip"],
            cwd=tmp_path,
            env=env,
        )

        def monitors() -> dict[str, Any]:
            return {m["slug"]: m for m in api(server, api_key, "/monitors")["monitors"]}

        found = wait_until(monitors, lambda m: len(m) >= 3, 30)
        assert set(found) == {"every-second", "flaky-job", "nightly-report"}, procs.log(beat)
        every = found["every-second"]
        assert (every["period_seconds"], every["cron"], every["grace_seconds"]) == (1.0, None, 60)
        nightly = found["nightly-report"]
        assert (nightly["cron"], nightly["timezone"]) == ("30 3 * * 1-5", "Europe/Berlin")
        assert nightly["grace_seconds"] == 3600
        assert nightly["tags"] == ["cron", "celery"]
        assert "task cronapp.works" in nightly["desc"]

        def pings(slug: str) -> list[dict[str, Any]]:
            return list(reversed(api(server, api_key, f"/monitors/{slug}/pings")["pings"]))

        ok = wait_until(lambda: pings("every-second"), lambda p: len(p) >= 4, 30)
        first_start = next(p for p in ok if p["kind"] == "start")
        end = next(p for p in ok if p["rid"] == first_start["rid"] and p["kind"] != "start")
        assert end["kind"] == "success", (ok, procs.log(worker))
        assert first_start["rid"] is not None

        flaky = wait_until(
            lambda: pings("flaky-job"), lambda p: any(x["kind"] == "fail" for x in p), 30
        )
        failure = next(p for p in flaky if p["kind"] == "fail")
        assert "ValueError: the report database is gone" in failure["body"]
        assert any(p["kind"] == "start" and p["rid"] == failure["rid"] for p in flaky)
        assert api(server, api_key, "/monitors/flaky-job")["state"] == "down"

        # A task sent directly (not by beat) pings nothing and creates nothing.
        producer = Celery("cronapp", broker=redis_url)
        producer.send_task("cronapp.direct")
        producer.close()
        wait_until(lambda: len(pings("every-second")), lambda n: n >= len(ok) + 4, 30)
        assert set(monitors()) == {"every-second", "flaky-job", "nightly-report"}


def test_sync_is_idempotent_and_follows_schedule_changes(tmp_path: Path) -> None:
    with start_server(tmp_path / "server") as server:
        api_key, ping_key = credentials(server)
        sync = MonitorSync(server.base_url, ping_key=ping_key, api_key=api_key, tags=["t"])
        plan = MonitorPlan("backup", "nightly backup", period=300.0)
        assert sync.ensure([plan]) == {"backup": "backup"}
        first = api(server, api_key, "/monitors/backup")
        assert sync.ensure([plan]) == {"backup": "backup"}
        assert api(server, api_key, "/monitors")["monitors"] == [first]  # nothing changed

        moved = MonitorPlan("backup", "nightly backup", cron="0 2 * * *", timezone="UTC")
        sync.ensure([moved])
        after = api(server, api_key, "/monitors/backup")
        assert after["uuid"] == first["uuid"]
        assert (after["cron"], after["period"], after["grace_seconds"]) == ("0 2 * * *", None, 3600)

        # Without a ping key, pings name the monitor by the uuid the API gave it.
        by_uuid = MonitorSync(server.base_url, api_key=api_key)
        assert by_uuid.ensure([moved]) == {"backup": first["uuid"]}
        assert by_uuid.ping_base(first["uuid"]) == f"{server.base_url}/ping/{first['uuid']}"

        # A server that cannot be reached costs one attempt, and pings still create.
        offline = MonitorSync("http://127.0.0.1:9", ping_key=ping_key, api_key=api_key)
        assert offline.ensure([plan, moved]) == {"backup": "backup"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (crontab(), "* * * * *"),
        (crontab(minute="*/15"), "*/15 * * * *"),
        (crontab(minute=0, hour="9-17", day_of_week="mon-fri"), "0 9-17 * * 1-5"),
        (crontab(minute=[0, 30], hour=3, day_of_month="1,15"), "0,30 3 1,15 * *"),
        (crontab(minute=5, month_of_year="jan"), None),  # see below
        (crontab(minute=0, hour=0, day_of_month=13, day_of_week="fri"), None),
    ],
    ids=["every-minute", "step", "names", "lists", "month-name", "dom-and-dow"],
)
def test_crontab_to_cron_expression(spec: crontab, expected: str | None) -> None:
    if expected is None and spec.day_of_week == set(range(7)):
        expected = "5 * * 1 *"  # names are expanded to numbers
    assert cron_expression(spec) == expected


def test_slugs_are_what_the_server_accepts() -> None:
    assert slugify("Flaky Job!") == "flaky-job"
    assert slugify("every second") == "every-second"
    assert slugify("日本") == "job"
    assert len(slugify("x" * 300)) == 100
