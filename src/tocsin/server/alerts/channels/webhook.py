"""Webhook channel: POST the alert as JSON to a URL."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tocsin import __version__
from tocsin.errors import DeliveryError

DEFAULT_TIMEOUT_SECONDS = 10.0
# Client errors that a retry can fix: timeouts and rate limits.
RETRYABLE_4XX = {408, 425, 429}


class WebhookChannel:
    """POSTs the alert JSON with an ``Idempotency-Key`` header; 2xx means delivered."""

    async def send(
        self,
        session: aiohttp.ClientSession,
        settings: dict[str, Any],
        payload: dict[str, Any],
        idempotency_key: str,
    ) -> None:
        """Deliver ``payload``; 4xx answers (but 408/425/429) are permanent failures."""
        headers = {
            "User-Agent": f"tocsin/{__version__}",
            "Idempotency-Key": idempotency_key,
            **settings.get("headers", {}),
        }
        timeout = aiohttp.ClientTimeout(total=settings.get("timeout", DEFAULT_TIMEOUT_SECONDS))
        try:
            async with session.post(
                settings["url"], json=payload, headers=headers, timeout=timeout
            ) as response:
                if 200 <= response.status < 300:
                    return
                text = (await response.text(errors="replace"))[:200]
                permanent = 400 <= response.status < 500 and response.status not in RETRYABLE_4XX
                raise DeliveryError(f"HTTP {response.status}: {text}", permanent=permanent)
        except TimeoutError:
            raise DeliveryError(f"timed out after {timeout.total} s") from None
        except (aiohttp.ClientError, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
