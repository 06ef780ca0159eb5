"""Heartbeat pings from jobs and workers, with the standard library only.

``ping(url)`` never raises into the caller: a heartbeat that cannot be delivered is
logged and reported as ``False``, because a monitoring hiccup must not break the job
it watches. The URL is any tocsin (or Healthchecks-compatible) ping URL.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from enum import StrEnum

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
        except (urllib.error.URLError, OSError, ValueError) as exc:
            error = f"error={exc}"
        if attempt < retries:
            time.sleep(delay)
            delay *= 2
    logger.warning("heartbeat failed after %d attempts %s url=%s", retries + 1, error, target)
    return False
