"""Notification channels: one module per kind, each a ``Channel`` with one ``send`` method.

``senders(smtp)`` is the set a server uses; only email needs settings (the SMTP server).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from tocsin.errors import DeliveryError
from tocsin.server.alerts.channels.apprise_channel import AppriseChannel
from tocsin.server.alerts.channels.discord import DiscordChannel
from tocsin.server.alerts.channels.email import EmailChannel
from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.channels.slack import SlackChannel
from tocsin.server.alerts.channels.webhook import WebhookChannel
from tocsin.settings import SmtpSettings


class Channel(Protocol):
    """Sends one alert; raises ``DeliveryError(permanent=...)`` when it cannot."""

    async def send(
        self,
        client: HttpClient,
        settings: dict[str, Any],
        payload: dict[str, Any],
        idempotency_key: str,
    ) -> int | None:
        """Deliver ``payload`` using the channel's ``settings``; return the receiver's
        status code, if its protocol has one."""


def senders(smtp: SmtpSettings | None = None) -> dict[str, Channel]:
    """A sender per channel kind; email ones hand their messages to ``smtp``."""
    return {
        "webhook": WebhookChannel(),
        "slack": SlackChannel(),
        "discord": DiscordChannel(),
        "email": EmailChannel(smtp),
        "apprise": AppriseChannel(),
    }


CHANNELS: Mapping[str, Channel] = senders()


def channel_for(kind: str, channels: Mapping[str, Channel] = CHANNELS) -> Channel:
    """The sender for ``kind``; an unknown kind is a permanent delivery error."""
    try:
        return channels[kind]
    except KeyError:
        raise DeliveryError(f"no sender for channel kind {kind!r}", permanent=True) from None
