"""One HTTP POST for the channels that speak HTTP (webhook, Slack, Discord), with one
reading of the answer: what counts as delivered, what is worth a retry, and how long
the receiver asked us to wait."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp

from tocsin import __version__
from tocsin.errors import DeliveryError

DEFAULT_TIMEOUT_SECONDS = 10.0
# Client errors that a retry can fix: timeouts and rate limits.
RETRYABLE_4XX = {408, 425, 429}
# How much of a receiver's answer or redirect target an error message keeps.
EXCERPT_CHARS = 200
# A receiver may ask us to wait (Retry-After), but not for longer than this.
MAX_RETRY_AFTER_SECONDS = 3600.0
USER_AGENT = f"tocsin/{__version__}"


async def post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout_seconds: float | None,
) -> int:
    """POST ``body`` (JSON) to ``url``; return the HTTP status of a 2xx answer.

    Anything else raises ``DeliveryError``. Redirects are not followed: a channel's URL or
    headers often carry a secret, and a redirect would hand it to whatever host the
    answer names. A 3xx is a permanent failure naming its ``Location`` (a redirect does
    not fix itself; the channel's URL must change), as are 4xx answers but 408, 425 and
    429. 5xx, timeouts and network errors are transient; a ``Retry-After`` on the answer
    rides along as ``retry_after``.
    """
    sent_headers = {
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
        **headers,
    }
    timeout = aiohttp.ClientTimeout(total=timeout_seconds or DEFAULT_TIMEOUT_SECONDS)
    try:
        async with session.post(
            url, data=body, headers=sent_headers, timeout=timeout, allow_redirects=False
        ) as response:
            status = response.status
            if 200 <= status < 300:
                return status
            if 300 <= status < 400:
                location = response.headers.get("Location", "")[:EXCERPT_CHARS]
                raise DeliveryError(
                    f"HTTP {status} redirect to {location or '(no Location)'}: "
                    "redirects are not followed; set the channel's URL to the target",
                    permanent=True,
                    http_status=status,
                )
            text = (await response.text(errors="replace"))[:EXCERPT_CHARS]
            raise DeliveryError(
                f"HTTP {status}: {text}",
                permanent=400 <= status < 500 and status not in RETRYABLE_4XX,
                http_status=status,
                retry_after=retry_after(response.headers.get("Retry-After")),
            )
    except TimeoutError:
        raise DeliveryError(f"timed out after {timeout.total:g} s") from None
    except aiohttp.InvalidURL:  # its text is the URL, which may hold a token
        raise DeliveryError("the channel's URL is not a valid URL", permanent=True) from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta seconds or an HTTP date), at most
    ``MAX_RETRY_AFTER_SECONDS``; ``None`` when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
