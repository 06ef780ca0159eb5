"""Name lookups for probes.

RFC 6761 (6.4) reserves ``.invalid``: resolvers should answer "no such name" at once,
without asking a DNS server. The system resolver does not know that, and on a machine
whose DNS server is unreachable the lookup would wait out the resolver's timeout, so
both probe kinds check the name first.
"""

from __future__ import annotations

import asyncio
import socket


def is_invalid_name(host: str) -> bool:
    """Whether ``host`` is under the reserved ``.invalid`` top-level domain."""
    return host.rstrip(".").lower().rsplit(".", 1)[-1] == "invalid"


def no_such_name(host: str) -> socket.gaierror:
    """The error the system resolver gives for a name that does not exist."""
    return socket.gaierror(socket.EAI_NONAME, f"{host} does not exist (reserved name)")


async def resolve_stream_addresses(host: str, port: int) -> list[tuple[str, int]]:
    """(address, port) pairs to try for a TCP connection to ``host:port``."""
    if is_invalid_name(host):
        raise no_such_name(host)
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(str(info[4][0]), port) for info in infos]
