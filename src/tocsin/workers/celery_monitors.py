"""Every Celery beat entry watched by a heartbeat monitor: :func:`monitor_beat`.

- **In beat** (``beat_init``): each entry of the schedule becomes a monitor on the tocsin
  server, with the entry's schedule — a ``crontab`` becomes a cron expression in the
  app's time zone, an interval (``schedule``/``timedelta``/seconds) a period (see
  :mod:`tocsin.workers.cron_monitors`). Beat's ``apply_async`` is wrapped so that every
  message it sends for an entry carries a ``tocsin_monitor`` header (set in
  ``before_task_publish``), naming that entry's monitor.
- **In workers**: ``task_prerun`` pings ``start``, ``task_success`` pings success and
  ``task_failure`` pings ``fail`` (with the error), for tasks whose message carries the
  header, each with the task id as run id. Tasks not sent by beat are left alone.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, tzinfo
from typing import Any

from celery import Celery
from celery.schedules import crontab, schedule
from celery.signals import before_task_publish, task_failure, task_prerun, task_success

from tocsin.heartbeat import PingKind, ping
from tocsin.workers.celery_beat import on_beat_init
from tocsin.workers.cron_monitors import MonitorPlan, MonitorSync, local_zone, slugify

logger = logging.getLogger(__name__)

MONITOR_HEADER = "tocsin_monitor"
"""The message header naming the monitor of a task beat sent (a slug or a uuid)."""
HEARTBEAT_TASK = "tocsin.heartbeat"  # pool heartbeats ping their own monitors already

_sending: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tocsin_beat_sending", default=None
)
_NUMERIC_FIELD = re.compile(r"[0-9*/,-]+")


def zone_name(zone: tzinfo) -> str | None:
    """The IANA name of ``zone`` (``Europe/Berlin``, ``UTC``), or None if it has none."""
    key = getattr(zone, "key", None)  # zoneinfo.ZoneInfo
    if key:
        return str(key)
    if zone is UTC or str(zone) == "UTC":
        return "UTC"
    return local_zone()  # Celery's "local" zone (enable_utc=False and no timezone set)


def _field(original: Any, values: set[int], low: int, high: int) -> str:
    """One cron field: Celery's own text when it is plain cron syntax, else the values."""
    if isinstance(original, str) and _NUMERIC_FIELD.fullmatch(original):
        return original
    if values == set(range(low, high + 1)):
        return "*"
    ordered = sorted(values)
    parts: list[str] = []
    start = previous = ordered[0]
    for value in [*ordered[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if value is not None:
            start = previous = value
    return ",".join(parts)


def cron_expression(spec: crontab) -> str | None:
    """``spec`` as a cron expression; None when cron cannot say it.

    Celery runs a crontab whose day of month *and* day of week are both restricted only
    on days matching both; cron runs it on days matching either. Such an entry has no
    cron equivalent.
    """
    dom_all = spec.day_of_month == set(range(1, 32))
    dow_all = spec.day_of_week == set(range(7))
    if not dom_all and not dow_all:
        return None
    return " ".join(
        [
            _field(spec._orig_minute, spec.minute, 0, 59),
            _field(spec._orig_hour, spec.hour, 0, 23),
            _field(spec._orig_day_of_month, spec.day_of_month, 1, 31),
            _field(spec._orig_month_of_year, spec.month_of_year, 1, 12),
            _field(spec._orig_day_of_week, spec.day_of_week, 0, 6),
        ]
    )


def entry_plan(name: str, entry: Any, app: Celery, grace: float | None) -> MonitorPlan | None:
    """The monitor a beat entry should have; None (logged) when its schedule has no equivalent."""
    spec = entry.schedule
    desc = f"celery beat entry {name!r}: task {entry.task}"
    if isinstance(spec, crontab):
        expression = cron_expression(spec)
        zone = zone_name(spec.tz or app.timezone)
        if expression is None or zone is None:
            why = "day_of_month and day_of_week both set" if expression is None else "no IANA zone"
            logger.warning("beat entry not monitored entry=%s reason=%s", name, why)
            return None
        return MonitorPlan(slugify(name), desc, cron=expression, timezone=zone, grace=grace)
    if isinstance(spec, schedule):
        period = spec.run_every.total_seconds()
        return MonitorPlan(slugify(name), desc, period=period, grace=grace)
    logger.warning("beat entry not monitored entry=%s schedule=%r", name, spec)
    return None


class BeatMonitors:
    """The beat side (plans, sync, message headers) and the worker side (pings)."""

    def __init__(
        self,
        app: Celery,
        sync: MonitorSync,
        *,
        grace: float | None,
        exclude: Iterable[str],
        timeout: float,
    ) -> None:
        self.app = app
        self.sync = sync
        self.grace = grace
        self.exclude = set(exclude)
        self.timeout = timeout
        self.monitors: dict[str, str | None] = {}
        """Beat entry name -> what its pings name (None: not monitored)."""

    def plans(self, entries: dict[str, Any]) -> dict[str, MonitorPlan]:
        """Entry name -> plan, for the entries to watch."""
        found = {}
        for name, entry in entries.items():
            # Celery's own entries (celery.backend_cleanup) and tocsin's pool heartbeats,
            # which ping their own monitors, are not the user's jobs.
            if (
                name in self.exclude
                or entry.task == HEARTBEAT_TASK
                or entry.task.startswith("celery.")
            ):
                continue
            plan = entry_plan(name, entry, self.app, self.grace)
            if plan is not None:
                found[name] = plan
        return found

    def learn(self, entries: dict[str, Any]) -> None:
        """Create or update the monitors of ``entries`` not seen before."""
        new = {name: e for name, e in entries.items() if name not in self.monitors}
        plans = self.plans(new)
        synced = self.sync.ensure(plans.values())
        for name in new:
            plan = plans.get(name)
            self.monitors[name] = synced.get(plan.slug) if plan is not None else None

    def hook(self, scheduler: Any) -> None:
        """In beat: sync every entry now, then mark each message beat sends."""
        self.learn(dict(scheduler.schedule))
        original = scheduler.apply_async

        def apply_async(entry: Any, *args: Any, **kwargs: Any) -> Any:
            if entry.name not in self.monitors:  # an entry added while beat runs
                self.learn({entry.name: entry})
            token = _sending.set(self.monitors.get(entry.name))
            try:
                return original(entry, *args, **kwargs)
            finally:
                _sending.reset(token)

        scheduler.apply_async = apply_async
        watched = sum(1 for v in self.monitors.values() if v)
        logger.info("beat monitors ready watched=%d entries=%d", watched, len(self.monitors))

    def ping(self, task: Any, kind: PingKind, body: str | None = None) -> None:
        """In a worker: ping the monitor of ``task``'s message, if beat sent it."""
        monitor = getattr(task.request, MONITOR_HEADER, None)
        if not isinstance(monitor, str) or not monitor:
            return
        run_id = task.request.id if _is_uuid(task.request.id) else None
        url = self.sync.ping_base(monitor)
        ping(url, kind, body=body, run_id=run_id, timeout=self.timeout, retries=1)


def _is_uuid(text: Any) -> bool:
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True


def _mark(headers: dict[str, Any] | None = None, **_: Any) -> None:
    monitor = _sending.get()
    if monitor and headers is not None:
        headers[MONITOR_HEADER] = monitor


def monitor_beat(
    app: Celery,
    server: str,
    *,
    ping_key: str | None = None,
    api_key: str | None = None,
    grace: float | None = None,
    channels: Iterable[str] = (),
    tags: Iterable[str] = ("celery-beat",),
    exclude: Iterable[str] = (),
    timeout: float = 5.0,
) -> BeatMonitors:
    """Watch every beat entry of ``app`` with a heartbeat monitor on the tocsin ``server``.

    Call it in the module that defines ``app`` (beat and workers both import it).
    ``api_key`` (read-write) lets beat create or update each monitor with the entry's
    schedule; ``ping_key`` (the project's ping key) makes pings slug URLs with
    ``?create=1``; pass both for the full effect, at least one. ``grace`` defaults to
    the period (at least 60 s), or 1 hour for crontab entries. ``channels`` and ``tags``
    apply to monitors beat creates; ``exclude`` names entries to leave alone (Celery's own
    ``celery.*`` tasks and tocsin's pool heartbeats are always left alone).
    """
    sync = MonitorSync(
        server,
        ping_key=ping_key,
        api_key=api_key,
        channels=list(channels),
        tags=list(tags),
        timeout=timeout,
    )
    monitors = BeatMonitors(app, sync, grace=grace, exclude=exclude, timeout=timeout)
    uid = f"tocsin.beat_monitors.{id(app)}"
    on_beat_init(app, monitors.hook, uid)
    before_task_publish.connect(_mark, weak=False, dispatch_uid="tocsin.beat_monitors.mark")

    def started(task: Any = None, **_: Any) -> None:
        if task is not None and task.app is app:
            monitors.ping(task, PingKind.START)

    def succeeded(sender: Any = None, **_: Any) -> None:
        if sender is not None and sender.app is app:
            monitors.ping(sender, PingKind.SUCCESS)

    def failed(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
        if sender is not None and sender.app is app:
            body = f"{type(exception).__name__}: {exception}"[:10_000] if exception else None
            monitors.ping(sender, PingKind.FAIL, body)

    task_prerun.connect(started, weak=False, dispatch_uid=f"{uid}.prerun")
    task_success.connect(succeeded, weak=False, dispatch_uid=f"{uid}.success")
    task_failure.connect(failed, weak=False, dispatch_uid=f"{uid}.failure")
    return monitors
