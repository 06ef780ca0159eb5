"""The Celery app of the tests: ``make_app(url)`` in the test, this module's ``app`` in the
worker (``celery -A tests.tasks.celery_app worker`` with ``TOCSIN_TEST_CELERY_REDIS`` set)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

from tests.tasks.jobs import build_report as build_report_body
from tocsin.tasks.celery import CeleryTracker
from tocsin.tasks.redis_store import RedisTaskStore


def make_app(url: str) -> tuple[Celery, CeleryTracker]:
    """A Celery app on Redis ``url`` (broker and results) with its tracker installed."""
    app = Celery("tocsin_tests", broker=url, backend=url, set_as_current=False)
    app.conf.update(
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_default_queue="tocsin-tests",
    )
    tracker = CeleryTracker(lambda: RedisTaskStore.from_url(url)).install()

    @app.task(name="tests.build_report", shared=False)
    def build_report(steps: int) -> dict[str, int]:
        return build_report_body(steps)

    @app.task(name="tests.flaky", bind=True, max_retries=3, shared=False)
    def flaky(self: Any, failures: int) -> str:
        if self.request.retries < failures:
            raise self.retry(exc=ConnectionError("upstream down"), countdown=1)
        return "ok"

    @app.task(name="tests.broken", shared=False)
    def broken() -> None:
        raise ValueError("the report template is broken")

    @app.task(name="tests.total_rows", shared=False)
    def total_rows(results: list[dict[str, int]]) -> int:
        return sum(result["rows"] for result in results)

    return app, tracker


if "TOCSIN_TEST_CELERY_REDIS" in os.environ:
    app, tracker = make_app(os.environ["TOCSIN_TEST_CELERY_REDIS"])
