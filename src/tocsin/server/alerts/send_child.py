"""The alert sender child process (``python -m tocsin.server.alerts.send_child LEVEL FORMAT``).

Reads sends from stdin and writes their answers to stdout, both as ``send_process``
frames; each send runs as its own task with the channels' ``HttpClient``, so a slow
receiver holds only its own sends. It exits when its stdin closes (the server stopped or
died), dropping what is still in flight: those alerts are claimed in the database and
sent again.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import uvloop

from tocsin.errors import DeliveryError
from tocsin.logs import configure_logging
from tocsin.server.alerts.channels import channel_for
from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.send_process import Answer, frame, read_frame

logger = logging.getLogger(__name__)

# Idle connections kept per receiver host: as many as the delivery worker's shared slots,
# so every send in flight to one host (hooks.slack.com) can reuse one.
MAX_IDLE_PER_ORIGIN = 400


async def _answer(client: HttpClient, request: tuple[Any, ...]) -> Answer:
    request_id, kind, settings, payload, key = request
    try:
        status = await channel_for(kind).send(client, settings, payload, key)
    except DeliveryError as exc:
        return request_id, exc.http_status, (str(exc), exc.permanent, exc.retry_after)
    except Exception as exc:  # a sender bug must not stop the other alerts
        # Logged here as the server's delivery worker logs a sender that crashes in it:
        # the parent only sees the DeliveryError this becomes.
        logger.exception("channel sender crashed kind=%s", kind)
        return request_id, None, (f"{type(exc).__name__}: {exc}", False, None)
    return request_id, status, None


async def serve() -> None:
    """Answer sends until stdin closes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, sys.stdout.buffer
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    sending: set[asyncio.Task[None]] = set()

    async def send(request: tuple[Any, ...]) -> None:
        writer.write(frame(await _answer(client, request)))

    async with HttpClient(max_idle_per_origin=MAX_IDLE_PER_ORIGIN) as client:
        while True:
            try:
                request = await read_frame(reader)
            except asyncio.IncompleteReadError:
                return
            task = asyncio.create_task(send(request))
            sending.add(task)
            task.add_done_callback(sending.discard)


def main() -> None:
    """Configure logging as the server does, then serve."""
    level, fmt = sys.argv[1], sys.argv[2]
    configure_logging(level, fmt)
    uvloop.run(serve())


if __name__ == "__main__":
    main()
