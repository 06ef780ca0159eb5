"""Every RQ cron job watched by a heartbeat monitor: :func:`monitor_cron` (tested: rq 3.0).

RQ's cron scheduler (``rq cron cron_config.py``) loads a config file whose
``rq.cron.register(...)`` calls declare the jobs. One more line at the end of that file,
``monitor_cron(server, ping_key=..., api_key=...)``, makes one monitor per registered
job on the tocsin server (an ``interval`` becomes the period, a ``cron`` string the cron
expression in this process's time zone, which is the one RQ reads it in) and adds two
RQ webhooks to each job: success on ``finished``, ``fail`` with the job's JSON (its
``exc_info``) on ``failed``. The workers send them; they need no tocsin code. RQ has no
webhook for a job's start, so RQ cron monitors get no ``start`` pings (no durations).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from rq import cron
from rq.webhook import Webhook

from tocsin.heartbeat import PingKind, ping_url
from tocsin.workers.cron_monitors import MonitorPlan, MonitorSync, local_zone, slugify

logger = logging.getLogger(__name__)


def job_plan(data: dict[str, Any], grace: float | None) -> MonitorPlan | None:
    """The monitor a registered cron job should have (None, logged, if it has none)."""
    func = data["func"]
    name = data.get("name") or f"{func.__module__}.{func.__name__}"
    desc = f"rq cron job {name!r}: {func.__module__}.{func.__name__} on {data['queue_name']}"
    if data.get("cron"):
        zone = local_zone()
        if zone is None:
            logger.warning("cron job not monitored job=%s reason=no IANA zone", name)
            return None
        return MonitorPlan(slugify(name), desc, cron=data["cron"], timezone=zone, grace=grace)
    if data.get("interval"):
        return MonitorPlan(slugify(name), desc, period=float(data["interval"]), grace=grace)
    return None


def _registered() -> list[dict[str, Any]]:
    registry = getattr(cron, "_job_data_registry", None)
    if not isinstance(registry, list):
        raise RuntimeError(
            "this rq has no cron registry (rq.cron._job_data_registry); monitor_cron needs "
            "an rq with `rq cron` (tested: 3.0), called in the file given to `rq cron`"
        )
    return registry


def monitor_cron(
    server: str,
    *,
    ping_key: str | None = None,
    api_key: str | None = None,
    grace: float | None = None,
    channels: Iterable[str] = (),
    tags: Iterable[str] = ("rq-cron",),
    timeout: float = 5.0,
) -> dict[str, str]:
    """Watch the cron jobs registered so far in this config file; ``slug -> monitor``.

    Call it after the ``cron.register(...)`` calls. Keys and defaults are those of
    :func:`tocsin.workers.celery.monitor_beat`. A job that already has webhooks keeps
    them.
    """
    sync = MonitorSync(
        server,
        ping_key=ping_key,
        api_key=api_key,
        channels=list(channels),
        tags=list(tags),
        timeout=timeout,
    )
    jobs = [(data, job_plan(data, grace)) for data in _registered()]
    monitors = sync.ensure(plan for _, plan in jobs if plan is not None)
    seconds = max(1, round(timeout))
    for data, plan in jobs:
        monitor = monitors.get(plan.slug) if plan is not None else None
        if monitor is None:
            continue
        base = sync.ping_base(monitor)
        data["webhooks"] = [
            *(data.get("webhooks") or []),
            Webhook(base, "finished", timeout=seconds),
            Webhook(ping_url(base, PingKind.FAIL), "failed", method="POST", timeout=seconds),
        ]
    logger.info("rq cron monitors ready watched=%d jobs=%d", len(monitors), len(jobs))
    return monitors
