"""Heartbeat pings from jobs and workers, with the standard library only.

``ping(url)`` never raises into the caller: a heartbeat that cannot be delivered is
logged and reported as ``False``, because a monitoring hiccup must not break the job
it watches. The URL is any tocsin (or Healthchecks-compatible) ping URL.

- :func:`ping` (sync) and :func:`aping` (async) send one ping;
- :class:`monitored` wraps a run: ``start``, then ``success`` with the duration or
  ``fail`` with the exception text.
"""

from __future__ import annotations

import asyncio
import functools
import http.client
import inspect
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from enum import StrEnum
from types import TracebackType
from typing import Any, TypeVar, cast

from tocsin import __version__

logger = logging.getLogger(__name__)

USER_AGENT = f"tocsin/{__version__}"


class PingKind(StrEnum):
    """What a ping says about the run it belongs to."""

    SUCCESS = "success"
    START = "start"
    FAIL = "fail"
    LOG = "log"


def ping_url(
    url: str, kind: PingKind | str | int = PingKind.SUCCESS, run_id: str | None = None
) -> str:
    """The URL for a ping of ``kind``: ``/start``, ``/fail``, ``/log`` or ``/<exit status>``.

    An ``int`` kind is an exit status (0..255); 0 means success.
    """
    parts = urllib.parse.urlsplit(url)
    path = parts.path.rstrip("/")
    if isinstance(kind, bool):
        raise TypeError("kind must be a PingKind or an exit status, not a bool")
    if isinstance(kind, int):
        if not 0 <= kind <= 255:
            raise ValueError(f"exit status must be between 0 and 255, got {kind}")
        path = f"{path}/{kind}"
    else:
        kind = PingKind(kind)
        if kind is not PingKind.SUCCESS:
            path = f"{path}/{kind.value}"
    query = parts.query
    if run_id is not None:
        extra = urllib.parse.urlencode({"rid": run_id})
        query = f"{query}&{extra}" if query else extra
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))


def ping(
    url: str,
    kind: PingKind | str | int = PingKind.SUCCESS,
    *,
    body: str | bytes | None = None,
    run_id: str | None = None,
    timeout: float = 10.0,
    retries: int = 2,
    retry_delay: float = 0.5,
) -> bool:
    """Send one ping; return whether the server acknowledged it with a 2xx answer.

    Retries ``retries`` times on network errors and 5xx answers, sleeping ``retry_delay``
    seconds (doubled each time) in between. Never raises.
    """
    try:
        target = ping_url(url, kind, run_id)
    except (ValueError, TypeError) as exc:
        logger.warning("heartbeat not sent: %s url=%s", exc, url)
        return False
    data = body.encode("utf-8", "replace") if isinstance(body, str) else body
    delay = retry_delay
    for attempt in range(retries + 1):
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked below
            target,
            data=data,
            method="POST" if data is not None else "GET",
            headers={"User-Agent": USER_AGENT},
        )
        if request.type not in ("http", "https"):
            logger.warning("heartbeat not sent: unsupported scheme url=%s", target)
            return False
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                response.read(1024)
                return True
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                logger.warning("heartbeat refused status=%s url=%s", exc.code, target)
                return False
            error = f"status={exc.code}"
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            error = f"error={exc}"
        if attempt < retries:
            time.sleep(delay)
            delay *= 2
    logger.warning("heartbeat failed after %d attempts %s url=%s", retries + 1, error, target)
    return False


async def aping(
    url: str,
    kind: PingKind | str | int = PingKind.SUCCESS,
    *,
    body: str | bytes | None = None,
    run_id: str | None = None,
    timeout: float = 10.0,
    retries: int = 2,
    retry_delay: float = 0.5,
) -> bool:
    """:func:`ping` for async code: the request runs in a worker thread. Never raises."""
    try:
        return await asyncio.to_thread(
            ping,
            url,
            kind,
            body=body,
            run_id=run_id,
            timeout=timeout,
            retries=retries,
            retry_delay=retry_delay,
        )
    except Exception as exc:  # e.g. the default executor is shut down
        logger.warning("heartbeat not sent error=%s url=%s", exc, url)
        return False


_F = TypeVar("_F", bound=Callable[..., Any])


def _end_body(started: float, exc: BaseException | None) -> str:
    body = f"duration={time.monotonic() - started:.3f}s"
    if exc is not None:
        body += f" error={type(exc).__name__}: {exc}"
    return body[:10_000]


class monitored:
    """Ping ``start`` on entry, then ``success`` with the duration or ``fail`` with the error.

    Works as ``@monitored(url)`` on a function (sync or ``async``) and as
    ``with monitored(url):``. Each run gets a fresh run id (``?rid=``) so the server can
    pair start and end. Pings never raise; the wrapped code's exceptions propagate.
    """

    def __init__(
        self,
        url: str,
        *,
        start: bool = True,
        timeout: float = 5.0,
        retries: int = 2,
    ) -> None:
        self.url = url
        self.start = start
        self.timeout = timeout
        self.retries = retries
        self._local = threading.local()

    def _ping(self, kind: PingKind, run_id: str, body: str | None = None) -> bool:
        return ping(
            self.url, kind, body=body, run_id=run_id, timeout=self.timeout, retries=self.retries
        )

    def _begin(self) -> tuple[str, float]:
        run_id = str(uuid.uuid4())
        if self.start:
            self._ping(PingKind.START, run_id)
        return run_id, time.monotonic()

    def _end(self, run_id: str, started: float, exc: BaseException | None) -> None:
        kind = PingKind.SUCCESS if exc is None else PingKind.FAIL
        self._ping(kind, run_id, _end_body(started, exc))

    def __enter__(self) -> monitored:
        runs: list[tuple[str, float]] = self._local.__dict__.setdefault("runs", [])
        runs.append(self._begin())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        run_id, started = self._local.runs.pop()
        self._end(run_id, started, exc)

    def __call__(self, func: _F) -> _F:
        """Decorate ``func``; coroutine functions are awaited inside the monitored run."""
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                run_id, started = await asyncio.to_thread(self._begin)
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    await asyncio.to_thread(self._end, run_id, started, exc)
                    raise
                await asyncio.to_thread(self._end, run_id, started, None)
                return result

            return cast(_F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            run_id, started = self._begin()
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                self._end(run_id, started, exc)
                raise
            self._end(run_id, started, None)
            return result

        return cast(_F, wrapper)
