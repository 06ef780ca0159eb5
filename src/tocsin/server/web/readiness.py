"""The server's own health: ``/livez`` (keep this process?) and ``/readyz`` (send it work?).

Both answer ``application/health+json``. ``/livez`` fails only when the process cannot
get back to work without a restart: its SQLite file was deleted or replaced (an
orchestrator then restarts it, and the new process opens what is at the path now).
``/readyz`` fails while the database takes no writes (a tiny real write transaction,
bounded by ``READY_TIMEOUT_SECONDS``) or an engine is not running.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tocsin import __version__
from tocsin.health.model import MEDIA_TYPE, HealthReport, Measurement, Status
from tocsin.server.engines import Engines
from tocsin.server.storage.database import Database
from tocsin.server.web.state import ServerState

# Long enough for a write queued behind a full ping batch; short enough for a probe.
READY_TIMEOUT_SECONDS = 2.0


def _state(request: Request) -> ServerState | None:
    return getattr(request.app.state, "tocsin", None)


def _answer(report: HealthReport) -> Response:
    return JSONResponse(
        report.to_json(version=__version__),
        status_code=report.http_status,
        media_type=MEDIA_TYPE,
        headers={"cache-control": "no-store"},
    )


async def livez(request: Request) -> Response:
    """Liveness: passes unless the process lost its database file for good."""
    state = _state(request)
    lost = None if state is None else state.database.lost
    status = Status.PASS if lost is None else Status.FAIL
    measurement = Measurement("database", "file", status, output=lost or "")
    return _answer(HealthReport((measurement,), duration=0.0))


async def readyz(request: Request) -> Response:
    """Readiness: the database commits a write and every engine is running."""
    started = time.monotonic()
    state = _state(request)
    measurements = (
        await _database_writable(None if state is None else state.database),
        _engines_running(None if state is None else state.engines),
    )
    return _answer(HealthReport(measurements, duration=time.monotonic() - started))


async def _database_writable(database: Database | None) -> Measurement:
    if database is None:
        return Measurement("database", "writable", Status.FAIL, output="not opened yet")
    started = time.monotonic()
    try:
        await asyncio.wait_for(database.check_writable(), READY_TIMEOUT_SECONDS)
    except TimeoutError:
        output = f"no write committed within {READY_TIMEOUT_SECONDS:g} s"
        return Measurement("database", "writable", Status.FAIL, output=output)
    except Exception as exc:  # whatever it is, the database takes no writes
        return Measurement("database", "writable", Status.FAIL, output=_reason(exc))
    elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    return Measurement(
        "database",
        "writable",
        Status.PASS,
        component_type="datastore",
        observed_value=elapsed_ms,
        observed_unit="ms",
    )


def _reason(exc: Exception) -> str:
    # The driver's own message, without the statement SQLAlchemy appends to it.
    cause: Any = exc.orig if isinstance(exc, DBAPIError) else exc
    return str(cause).splitlines()[0] if str(cause) else type(cause).__name__


def _engines_running(engines: Engines | None) -> Measurement:
    if engines is None:
        return Measurement("engines", "running", Status.FAIL, output="not started")
    stopped = engines.problems()
    if stopped:
        output = f"not running: {', '.join(stopped)}"
        return Measurement("engines", "running", Status.FAIL, output=output)
    return Measurement("engines", "running", Status.PASS)
