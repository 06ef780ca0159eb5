"""One queue's statistics from the RabbitMQ management plugin's HTTP API (standard library).

The AMQP protocol cannot show a queue's head message without consuming it; the management
API can: ``GET /api/queues/<vhost>/<queue>`` reports ``head_message_timestamp``, the AMQP
``timestamp`` property of the message at the head (whole seconds; absent when the message
carries none), and the unacknowledged count. RabbitMQ refreshes these statistics every
``collect_statistics_interval`` (5 s by default), so they may lag by that much.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

COLUMNS = "messages_ready,messages_unacknowledged,head_message_timestamp"
MAX_BODY = 65536


@dataclass(frozen=True, slots=True)
class QueueStats:
    """What the management API says about one queue."""

    ready: int | None
    unacknowledged: int | None
    head_timestamp: float | None
    """Unix time of the head message's AMQP ``timestamp`` property, if it has one."""


class ManagementAPI:
    """Reads queue statistics from ``url`` (e.g. ``http://rabbit:15672``).

    Credentials come from the URL's user info, else ``username``/``password`` (the
    broker's, by default: the management API accepts the same users).
    """

    def __init__(
        self, url: str, *, username: str | None = None, password: str | None = None
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"management_url must be http:// or https://, got {url!r}")
        user = urllib.parse.unquote(parts.username) if parts.username else username
        secret = urllib.parse.unquote(parts.password) if parts.password else password
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self.headers = {"Accept": "application/json"}
        if user is not None:
            token = base64.b64encode(f"{user}:{secret or ''}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def queue(self, vhost: str, queue: str, timeout: float) -> QueueStats:
        """One request for ``queue`` in ``vhost``; raises on an HTTP error or no answer."""
        path = "/".join(urllib.parse.quote(part, safe="") for part in (vhost, queue))
        url = f"{self.base}/api/queues/{path}?columns={COLUMNS}"
        request = urllib.request.Request(url, headers=self.headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                body = json.loads(response.read(MAX_BODY))
        except urllib.error.HTTPError as exc:
            raise ManagementError(f"management API answered {exc.code} for {url}") from None
        if not isinstance(body, dict):  # [] for a queue whose statistics are not out yet
            return QueueStats(ready=None, unacknowledged=None, head_timestamp=None)
        return QueueStats(
            ready=_number(body.get("messages_ready")),
            unacknowledged=_number(body.get("messages_unacknowledged")),
            head_timestamp=_number(body.get("head_message_timestamp")),
        )


class ManagementError(Exception):
    """The management API refused a request (wrong credentials, unknown queue...)."""


def _number(value: Any) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None
