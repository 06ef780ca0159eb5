"""Notification channels: one module per kind, each a ``Channel`` with one ``send`` method."""

from __future__ import annotations

from typing import Any, Protocol

import aiohttp

from tocsin.errors import DeliveryError
from tocsin.server.alerts.channels.webhook import WebhookChannel


class Channel(Protocol):
    """Sends one alert; raises ``DeliveryError(permanent=...)`` when it cannot."""

    async def send(
        self,
        session: aiohttp.ClientSession,
        settings: dict[str, Any],
        payload: dict[str, Any],
        idempotency_key: str,
    ) -> None:
        """Deliver ``payload`` using the channel's ``settings``."""


CHANNELS: dict[str, Channel] = {"webhook": WebhookChannel()}


def channel_for(kind: str) -> Channel:
    """The sender for ``kind``; an unknown kind is a permanent delivery error."""
    try:
        return CHANNELS[kind]
    except KeyError:
        raise DeliveryError(f"no sender for channel kind {kind!r}", permanent=True) from None
