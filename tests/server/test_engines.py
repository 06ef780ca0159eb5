"""The engines start and stop together and say which of them is not running."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tocsin.server.engines import Engines
from tocsin.server.ingest.requests import PingRequest
from tocsin.server.ingest.writer import BatchResult
from tocsin.server.probes.engine import ProbeBatchResult
from tocsin.server.probes.scheduler_stats import SchedulerStats
from tocsin.server.storage.database import Database
from tocsin.server.watch.deadlines import DeadlineResult
from tocsin.settings import Settings


class _Quiet:
    """An observer that ignores what it is told."""

    def ping_batch(self, result: BatchResult, batch: list[PingRequest]) -> None:
        """Ignore a ping batch."""

    def deadlines_fired(self, result: DeadlineResult) -> None:
        """Ignore a deadline pass."""

    def delivery(self, channel: str, delivered: bool) -> None:
        """Ignore a delivery."""

    def probe_batch(self, result: ProbeBatchResult) -> None:
        """Ignore a probe batch."""

    def watch_probes(self, stats: Callable[[], SchedulerStats | None]) -> None:
        """Ignore the scheduler's counters."""


async def test_problems_name_the_engines_that_are_not_running(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    settings = Settings.from_env(
        {"TOCSIN_DATA_DIR": str(tmp_path), "TOCSIN_DATABASE_URL": database_url}
    )
    engines = Engines(settings, db, _Quiet())
    everything = [
        "ping writer",
        "deadline watch",
        "policy watch",
        "probe engine",
        "delivery worker",
        "ping pruner",
        "result rollup",
    ]
    assert engines.problems() == everything and not engines.running
    engines.start()
    try:
        assert engines.problems() == [] and engines.running
        await engines.pruner.stop()  # as if its task had died
        assert engines.problems() == ["ping pruner"] and not engines.running
    finally:
        await engines.stop()
    assert engines.problems() == everything
