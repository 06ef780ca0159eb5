"""One heartbeat monitor per periodic job, created on the tocsin server from the job's schedule.

Shared by the Celery beat and RQ cron integrations. A :class:`MonitorPlan` is what a
scheduler entry becomes: a slug, and a period or a cron expression with its time zone.
:class:`MonitorSync` makes the server match the plans through the REST API
(``GET``/``POST``/``PATCH /api/v1/monitors/<slug>``, with a read-write key; idempotent:
the monitor's name is its slug) and builds the ping URLs.

Why the API and not only ``?create=1``: a slug ping URL with ``?create=1`` creates a
missing monitor on its first ping, as Healthchecks does, but with the default schedule
(period 1 day, grace 1 hour); neither Healthchecks nor tocsin takes a schedule in the
ping URL. With a ``ping_key`` the pings still use slug URLs with ``?create=1``, so a
monitor exists even if the server was unreachable when the scheduler started.
Standard library only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tocsin.heartbeat import USER_AGENT

logger = logging.getLogger(__name__)

SLUG_MAX = 100
DEFAULT_CRON_GRACE = 3600.0
"""Grace of a cron-scheduled monitor: how long a run may take, plus lateness."""
MIN_GRACE = 60.0


def slugify(name: str) -> str:
    """A slug the server takes (``a-z 0-9 - _``, 1 to 100): ``"Send report!"`` -> ``send-report``"""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")[:SLUG_MAX].strip("-")
    return slug or "job"


def local_zone() -> str | None:
    """The IANA name of this process's time zone (``TZ``, else ``/etc/localtime``), or None."""
    configured = os.environ.get("TZ", "").lstrip(":")
    if "/" in configured or configured == "UTC":
        return configured
    link = str(Path("/etc/localtime").resolve())
    if "zoneinfo/" in link:
        return link.split("zoneinfo/", 1)[1]
    return None


def default_grace(period: float | None) -> float:
    """Grace when none is given: the period itself (at least 60 s), or 1 hour for cron.

    A period plus a grace of one period makes the expected interval twice the cycle,
    the usual advice for jobs that queue behind others.
    """
    return DEFAULT_CRON_GRACE if period is None else max(MIN_GRACE, period)


@dataclass(frozen=True, slots=True)
class MonitorPlan:
    """The monitor one scheduler entry should have."""

    slug: str
    desc: str
    period: float | None = None
    cron: str | None = None
    timezone: str | None = None
    grace: float | None = None

    def fields(self) -> dict[str, Any]:
        """The schedule fields as the REST API takes them."""
        grace = self.grace if self.grace is not None else default_grace(self.period)
        if self.cron is not None:
            return {"cron": self.cron, "timezone": self.timezone or "UTC", "grace": grace}
        return {"period": self.period, "grace": grace}


class MonitorSync:
    """Talks to one tocsin server: creates or updates monitors, builds ping URLs.

    ``api_key`` (read-write) lets :meth:`ensure` set each monitor's schedule;
    ``ping_key`` (the project's) makes ping URLs slug URLs with ``?create=1``. At least
    one is needed: without a ping key, pings go to each monitor's uuid, which only
    :meth:`ensure` learns.
    """

    def __init__(
        self,
        server: str,
        *,
        ping_key: str | None = None,
        api_key: str | None = None,
        channels: Sequence[str] = (),
        tags: Sequence[str] = (),
        timeout: float = 5.0,
    ) -> None:
        if not server.startswith(("http://", "https://")):
            raise ValueError(f"server must be an http(s):// URL, got {server!r}")
        if not ping_key and not api_key:
            raise ValueError("pass ping_key=, api_key= (read-write) or both")
        self.server = server.rstrip("/")
        self.ping_key = ping_key
        self.api_key = api_key
        self.channels = list(channels)
        self.tags = list(tags)
        self.timeout = timeout

    def ping_base(self, monitor: str) -> str:
        """The success ping URL of ``monitor`` (a slug with a ping key, else a uuid)."""
        if self.ping_key:
            return f"{self.server}/ping/{self.ping_key}/{monitor}?create=1"
        return f"{self.server}/ping/{monitor}"

    def ensure(self, plans: Iterable[MonitorPlan]) -> dict[str, str]:
        """Create or update one monitor per plan; ``slug -> what pings name``.

        What pings name is the slug with a ping key, else the monitor's uuid. Without an
        API key nothing is sent (pings create the monitors with the default schedule).
        Stops at the first network error: a down server costs one timeout, not one per plan.
        """
        plans = list(plans)
        names = {plan.slug: plan.slug for plan in plans} if self.ping_key else {}
        if not self.api_key:
            if plans:
                logger.warning(
                    "monitors get the default schedule (no api_key) server=%s count=%d",
                    self.server,
                    len(plans),
                )
            return names
        for plan in plans:
            try:
                uuid = self._ensure_one(plan)
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                logger.warning("monitors not synced server=%s error=%s", self.server, reason)
                break
            except _Refused as exc:
                logger.warning("monitor not synced slug=%s: %s", plan.slug, exc)
                continue
            names[plan.slug] = plan.slug if self.ping_key else uuid
        return names

    def _ensure_one(self, plan: MonitorPlan) -> str:
        wanted = {"slug": plan.slug, "desc": plan.desc, **plan.fields()}
        path = f"/api/v1/monitors/{urllib.parse.quote(plan.slug, safe='')}"
        current = self._call("GET", path, missing_ok=True)
        if current is None:
            body = {"name": plan.slug, "tags": self.tags, "channels": self.channels, **wanted}
            created = self._call("POST", "/api/v1/monitors", body)
            assert created is not None
            logger.info("monitor created slug=%s schedule=%s", plan.slug, plan.fields())
            return str(created["uuid"])
        changes = {k: v for k, v in wanted.items() if not _same(k, current, v)}
        if changes:
            self._call("PATCH", path, changes)
            logger.info("monitor updated slug=%s changes=%s", plan.slug, changes)
        return str(current["uuid"])

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, missing_ok: bool = False
    ) -> dict[str, Any] | None:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            f"{self.server}{path}",
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and missing_ok:
                return None
            raise _Refused(f"{method} {path}: HTTP {exc.code} {_error_text(exc)}") from None


class _Refused(Exception):
    """The server answered a 4xx/5xx to one monitor's request."""


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read() or b"{}").get("error", ""))
    except (ValueError, OSError, AttributeError):
        return ""


def _same(field: str, current: dict[str, Any], wanted: Any) -> bool:
    """Whether the server's monitor already has ``wanted`` for ``field``."""
    if field in ("period", "grace"):
        return bool(current.get(f"{field}_seconds") == (None if wanted is None else float(wanted)))
    return bool(current.get(field) == wanted)
