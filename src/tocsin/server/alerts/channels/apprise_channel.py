"""Apprise channel: any of Apprise's ~100 services (Telegram, PagerDuty, Teams, ntfy,
Pushover, ...) from one Apprise URL.

A fresh ``Apprise`` object per alert, in a thread: Apprise's senders are synchronous, and
an object of our own per call shares no state between channels. Our outbox does the
retrying, so Apprise is asked for one try; it reports only success or failure, so a
failure is a transient one carrying the warnings Apprise logged for this call.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tocsin.errors import DeliveryError
from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.channels.messages import Tone, message_of
from tocsin.server.alerts.channels.posting import DEFAULT_TIMEOUT_SECONDS, EXCERPT_CHARS

NOTIFY_TYPES = {Tone.BAD: "failure", Tone.GOOD: "success", Tone.NEUTRAL: "warning"}


def scheme_of(url: str) -> str:
    """``tgram://…`` → ``tgram``: what an error message may say about an Apprise URL."""
    return url.partition("://")[0] if "://" in url else "apprise"


class AppriseChannel:
    """Notifies the service named by the channel's Apprise ``url``."""

    async def send(
        self,
        session: HttpClient,
        settings: dict[str, Any],
        payload: dict[str, Any],
        idempotency_key: str,
    ) -> None:
        """Deliver ``payload``; Apprise's answer has no status code."""
        timeout = settings.get("timeout") or DEFAULT_TIMEOUT_SECONDS
        await asyncio.to_thread(_notify, settings["url"], payload, timeout)


def _notify(url: str, payload: dict[str, Any], timeout: float) -> None:
    import apprise

    service = apprise.Apprise()
    if not service.add(url):
        raise DeliveryError(
            f"Apprise cannot read the {scheme_of(url)}:// URL any more", permanent=True
        )
    message = message_of(payload)
    warnings: list[str] = []

    def keep(entry: Any, _service: Any) -> None:
        level = entry.level  # a name ("WARNING") in Apprise 2, a number in logging's terms
        number = level if isinstance(level, int) else logging.getLevelName(str(level))
        if isinstance(number, int) and number >= logging.WARNING:
            warnings.append(str(entry.message))

    sent = service.notify(
        body=message.text,
        title=message.title,
        notify_type=NOTIFY_TYPES[message.tone],
        body_format="text",
        timeout=timeout,
        log_callback=keep,
    )
    if not sent:
        why = "; ".join(warnings)[:EXCERPT_CHARS] or "no reason given"
        raise DeliveryError(f"Apprise could not notify {scheme_of(url)}://: {why}")
