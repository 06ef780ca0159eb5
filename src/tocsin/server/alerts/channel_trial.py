"""A test alert sent through a channel now, with the receiver's answer: ``tocsin channel test``.

The trial uses the channel's real sender (the same code alerts go through) but not the
outbox: a test is sent once, in the caller's request, and never retried later. It is
not recorded in ``delivery_attempts`` either: that table's rows belong to notifications,
and a notification belongs to a monitor, which a test has none of. Its answer goes back
to the caller (and into the log) instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid as uuid_module
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tocsin import __version__
from tocsin.errors import DeliveryError
from tocsin.server.alerts.channels import Channel, channel_for
from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.channels.posting import DEFAULT_TIMEOUT_SECONDS
from tocsin.server.storage.deliveries import cap_error
from tocsin.server.storage.rows import ChannelRecord

logger = logging.getLogger(__name__)

# Added to the channel's own timeout: senders bound each step (an SMTP conversation has
# several), this bounds the whole trial.
TRIAL_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class TrialResult:
    """What the receiver said to a test alert."""

    channel: ChannelRecord
    sent_at: datetime
    duration_ms: int
    delivered: bool
    # The HTTP status, or the SMTP reply code for email; None when there was no answer.
    status: int | None
    error: str | None
    # When it failed: True if a real alert would not be retried (a 4xx, bad credentials).
    permanent: bool | None


def trial_payload(channel: ChannelRecord, at: datetime, idempotency_key: str) -> dict[str, Any]:
    """The JSON document of a test alert: ``event: test``, the channel instead of a
    monitor and a flip (docs/channels.md, "Testing a channel")."""
    return {
        "event": "test",
        "idempotency_key": idempotency_key,
        "summary": (
            f"Test alert from tocsin to channel {channel.name!r}: if you can read this, "
            "its alerts arrive. Nothing is down."
        ),
        "channel": {"uuid": channel.uuid, "name": channel.name, "kind": channel.kind},
        "at": at.isoformat(),
        "sent_by": f"tocsin/{__version__}",
    }


def trial_seconds(channel: ChannelRecord) -> float:
    """The most a trial of ``channel`` may take."""
    timeout = channel.settings.get("timeout") or DEFAULT_TIMEOUT_SECONDS
    return float(timeout) + TRIAL_GRACE_SECONDS


async def send_trial(channel: ChannelRecord, senders: Mapping[str, Channel]) -> TrialResult:
    """Send a test alert through ``channel`` with its sender from ``senders``; never
    raises for a failed delivery: the failure is the answer."""
    sent_at, started = datetime.now(UTC), time.monotonic()
    payload = trial_payload(channel, sent_at, str(uuid_module.uuid4()))
    limit = trial_seconds(channel)
    status: int | None = None
    error: DeliveryError | None = None
    try:
        sender = channel_for(channel.kind, senders)
        async with (
            HttpClient() as client,
            asyncio.timeout(limit),
        ):
            status = await sender.send(
                client, dict(channel.settings), payload, payload["idempotency_key"]
            )
    except DeliveryError as exc:
        status, error = exc.http_status, exc
    except TimeoutError:
        error = DeliveryError(f"no answer within {limit:g} s")
    except Exception as exc:  # a sender bug is this trial's answer, not a crash
        logger.exception("channel sender crashed in a test channel=%s", channel.name)
        error = DeliveryError(f"{type(exc).__name__}: {exc}")
    result = TrialResult(
        channel=channel,
        sent_at=sent_at,
        duration_ms=round((time.monotonic() - started) * 1000),
        delivered=error is None,
        status=status,
        error=cap_error(str(error)) if error is not None else None,
        permanent=error.permanent if error is not None else None,
    )
    logger.info(
        "channel test channel=%s delivered=%s status=%s",
        channel.name,
        result.delivered,
        result.status,
    )
    return result
