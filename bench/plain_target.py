"""A probe target that costs next to nothing: a raw asyncio protocol answering every
request on a keep-alive connection with a fixed ``200 ok``.

Benches that measure what probing costs *the server* (``pings.py --probing``,
``probe_server_cpu.py``) run their target on the same two cores. Monitored sites live on
other machines; here an aiohttp web app as the target took about 8 % of a core at 170
probes/s, charged to the probing rounds only. This one reads a request up to its blank
line (the probes send ``GET`` without a body) and writes 90 fixed bytes.

    .venv/bin/python bench/plain_target.py --serve PORT
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from typing import cast

from _common import serving_script

ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
    b"Connection: keep-alive\r\n\r\nok"
)


class PlainTarget(asyncio.Protocol):
    """One connection: a fixed answer for each request head received."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but write the same.
        self.transport = cast(asyncio.Transport, transport)
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answers = self.buffer.count(b"\r\n\r\n")
        if answers:
            self.buffer = self.buffer[self.buffer.rindex(b"\r\n\r\n") + 4 :]
            self.transport.write(ANSWER * answers)


async def serve(port: int) -> None:
    """Answer on 127.0.0.1:``port`` until killed."""
    server = await asyncio.get_running_loop().create_server(PlainTarget, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def plain_target_process() -> Iterator[str]:
    """Run the target in a subprocess; yield its URL."""
    with serving_script(__file__) as port:
        yield f"http://127.0.0.1:{port}/"


if __name__ == "__main__":
    if sys.argv[1:2] != ["--serve"]:
        raise SystemExit(__doc__)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(int(sys.argv[2])))
