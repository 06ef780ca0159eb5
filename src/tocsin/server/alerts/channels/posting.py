"""One HTTP POST for the channels that speak HTTP (webhook, Slack, Discord), with one
reading of the answer: what counts as delivered, what is worth a retry, and how long
the receiver asked us to wait."""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tocsin import __version__
from tocsin.errors import DeliveryError
from tocsin.server.alerts.channels.http_client import HttpClient, TransportError
from tocsin.server.alerts.channels.http_request import InvalidHeader, InvalidURL

DEFAULT_TIMEOUT_SECONDS = 10.0
# Client errors that a retry can fix: timeouts and rate limits.
RETRYABLE_4XX = {408, 425, 429}
# How much of a receiver's answer or redirect target an error message keeps.
EXCERPT_CHARS = 200
# A receiver may ask us to wait (Retry-After), but not for longer than this.
MAX_RETRY_AFTER_SECONDS = 3600.0
USER_AGENT = f"tocsin/{__version__}"


async def post(
    client: HttpClient,
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
    429. 5xx, timeouts, network errors and malformed answers are transient; a
    ``Retry-After`` on the answer rides along as ``retry_after``. A URL or header that
    can never be sent is a permanent failure.
    """
    sent_headers = {
        "User-Agent": USER_AGENT,
        "Accept": "*/*",
        "Content-Type": "application/json",
        **headers,
    }
    timeout = timeout_seconds or DEFAULT_TIMEOUT_SECONDS
    try:
        answer = await client.post(url, body, sent_headers, timeout)
    except TimeoutError:
        raise DeliveryError(f"timed out after {timeout:g} s") from None
    except (InvalidURL, InvalidHeader) as exc:  # their texts never repeat the URL
        raise DeliveryError(str(exc), permanent=True) from None
    except TransportError as exc:
        raise DeliveryError(str(exc)) from None
    status = answer.status
    if 200 <= status < 300:
        return status
    if 300 <= status < 400:
        location = answer.headers.get("location", "")[:EXCERPT_CHARS]
        raise DeliveryError(
            f"HTTP {status} redirect to {location or '(no Location)'}: "
            "redirects are not followed; set the channel's URL to the target",
            permanent=True,
            http_status=status,
        )
    text = answer.body.decode(_charset(answer.headers.get("content-type")), errors="replace")
    raise DeliveryError(
        f"HTTP {status}: {text[:EXCERPT_CHARS]}",
        permanent=400 <= status < 500 and status not in RETRYABLE_4XX,
        http_status=status,
        retry_after=retry_after(answer.headers.get("retry-after")),
    )


def _charset(content_type: str | None) -> str:
    """The charset an answer's ``Content-Type`` names, if Python knows it; else UTF-8."""
    if content_type:
        for param in content_type.split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset":
                charset = value.strip().strip('"')
                try:
                    codecs.lookup(charset)
                except LookupError:
                    break
                return charset
    return "utf-8"


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
