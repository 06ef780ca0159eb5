"""The check runner: concurrency, timeouts, budget, cache, single-flight, criticality."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tocsin.health import (
    Check,
    HealthChecker,
    Measurement,
    Status,
    Threshold,
    above,
    below,
)


def test_checks_run_concurrently() -> None:
    checker = HealthChecker(ttl=0)
    for name in ("one", "two", "three"):
        checker.check(name, timeout=2.0)(lambda: time.sleep(0.3))
    start = time.monotonic()
    report = checker.run()
    assert time.monotonic() - start < 0.7  # 3 x 0.3 s side by side, not 0.9 s in series
    assert report.status is Status.PASS


def test_a_hung_check_fails_with_its_own_timeout() -> None:
    checker = HealthChecker(ttl=0)
    release = threading.Event()

    @checker.check("slowpoke", timeout=0.3)
    def slow() -> None:
        release.wait(10)

    @checker.check("quick", timeout=1.0)
    def quick() -> float:
        time.sleep(0.1)
        return 1.5

    start = time.monotonic()
    report = checker.run()
    elapsed = time.monotonic() - start
    release.set()
    assert 0.3 <= elapsed < 0.8
    body = report.to_json()
    assert body["status"] == "fail"
    assert body["checks"]["slowpoke:status"][0]["output"] == "timed out after 0.3 s"
    assert body["checks"]["quick:status"][0]["observedValue"] == 1.5
    assert report.http_status == 503


def test_overall_budget_caps_every_check() -> None:
    checker = HealthChecker(ttl=0, budget=0.3)
    release = threading.Event()

    @checker.check("hang", timeout=5)
    def hang() -> None:
        release.wait(10)

    start = time.monotonic()
    report = checker.run()
    release.set()
    assert time.monotonic() - start < 0.6
    assert report.status is Status.FAIL


def test_a_still_hung_check_is_not_started_again() -> None:
    calls = []
    release = threading.Event()
    checker = HealthChecker(ttl=0)

    @checker.check("stuck", timeout=0.1)
    def stuck() -> None:
        calls.append(1)
        release.wait(10)

    checker.run()
    second = checker.run().to_json()
    release.set()
    assert len(calls) == 1
    assert second["checks"]["stuck:status"][0]["output"].startswith("previous run still hung after")


def test_a_crashing_check_is_a_fail_entry_with_its_error() -> None:
    checker = HealthChecker()

    @checker.check("db")
    def broken() -> None:
        raise ConnectionError("connection refused")

    entry = checker.run().to_json()["checks"]["db:status"][0]
    assert entry["status"] == "fail"
    assert entry["output"] == "ConnectionError: connection refused"


def test_non_critical_failure_only_warns() -> None:
    checker = HealthChecker()
    checker.check("cache", critical=False)(lambda: False)
    report = checker.run()
    assert report.status is Status.WARN
    assert report.http_status == 200
    assert report.to_json()["checks"]["cache:status"][0]["output"].startswith("non-critical")


def test_results_are_cached_for_the_ttl_and_concurrent_callers_share_one_run() -> None:
    calls = []
    checker = HealthChecker(ttl=0.5)

    @checker.check("counted")
    def counted() -> int:
        calls.append(1)
        time.sleep(0.2)
        return len(calls)

    reports = []
    threads = [threading.Thread(target=lambda: reports.append(checker.run())) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len({id(r) for r in reports}) == 1
    checker.run()
    assert len(calls) == 1
    time.sleep(0.5)
    checker.run()
    assert len(calls) == 2


async def test_async_checks_and_async_run() -> None:
    checker = HealthChecker()

    @checker.check("async_dep", measurement="lag", unit="s", threshold=above(warn=1))
    async def lag() -> float:
        await asyncio.sleep(0.01)
        return 2.0

    report = await checker.arun()
    entry = report.to_json()["checks"]["async_dep:lag"][0]
    assert (entry["observedValue"], entry["observedUnit"], entry["status"]) == (2.0, "s", "warn")


class TwoThings(Check):
    def __init__(self) -> None:
        super().__init__(component="pair", measurements=["a", "b"], component_id="p1")

    def collect(self) -> list[Measurement]:
        raise TimeoutError("slow")


def test_a_failing_check_reports_every_declared_measurement() -> None:
    body = HealthChecker([TwoThings()]).run().to_json()
    assert set(body["checks"]) == {"pair:a", "pair:b"}
    assert body["checks"]["pair:b"][0]["componentId"] == "p1"


@pytest.mark.parametrize(
    ("threshold", "value", "expected"),
    [
        pytest.param(above(warn=10, fail=100), 5, Status.PASS, id="depth-low"),
        pytest.param(above(warn=10, fail=100), 10, Status.WARN, id="depth-at-warn"),
        pytest.param(above(warn=10, fail=100), 100, Status.FAIL, id="depth-at-fail"),
        pytest.param(above(fail=1), 0, Status.PASS, id="failed-none"),
        pytest.param(above(fail=1), 1, Status.FAIL, id="failed-one"),
        pytest.param(below(fail=0), 0, Status.FAIL, id="workers-none"),
        pytest.param(below(fail=0), 1, Status.PASS, id="workers-one"),
        pytest.param(below(warn=1, fail=0), 1, Status.WARN, id="workers-one-warn"),
        pytest.param(Threshold(), 10**9, Status.PASS, id="never"),
        pytest.param(above(warn=1), None, Status.PASS, id="unknown"),
    ],
)
def test_thresholds(threshold: Threshold, value: float | None, expected: Status) -> None:
    assert threshold.judge(value) is expected


def test_a_hung_check_does_not_hold_up_interpreter_exit() -> None:
    import subprocess
    import sys

    code = (
        "import threading, time\n"
        "from tocsin.health import HealthChecker\n"
        "checker = HealthChecker(ttl=0)\n"
        "checker.check('forever', timeout=0.1)(lambda: threading.Event().wait())\n"
        "print(checker.run().status)\n"
    )
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=10)
    assert out.stdout.strip() == "fail"
    assert time.monotonic() - start < 5
