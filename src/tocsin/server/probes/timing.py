"""Phase timings of one probe, stamped from the monotonic clock.

The HTTP probe's client and the TCP probe stamp the phases on the probe's ``PhaseClock``:
``dns`` for a name looked up (an IP literal or a cached name needs none), ``connect`` for
a new TCP connection, ``tls`` for its handshake (HTTPS, or a TCP monitor with TLS), and
``first_byte`` when the final answer's head arrived. A phase that did not happen (a
kept-alive connection needs no connect) is ``None``. Across redirects each phase adds up
over the hops.
"""

from __future__ import annotations

import time

from tocsin.server.domain.observations import Timings

_monotonic = time.monotonic


class PhaseClock:
    """Seconds spent per phase of one probe, from the monotonic clock; the probes set
    the phases as they happen."""

    __slots__ = ("connect", "dns", "first_byte", "started", "tls")

    def __init__(self) -> None:
        self.started = _monotonic()
        self.dns: float | None = None
        self.connect: float | None = None
        self.tls: float | None = None
        self.first_byte: float | None = None

    def timings(self) -> Timings:
        """Milliseconds per phase; ``total`` runs from the start until now."""
        total = _monotonic() - self.started
        first_byte = self.first_byte
        return Timings(
            dns_ms=None if self.dns is None else round(self.dns * 1000.0, 3),
            connect_ms=None if self.connect is None else round(self.connect * 1000.0, 3),
            tls_ms=None if self.tls is None else round(self.tls * 1000.0, 3),
            first_byte_ms=None if first_byte is None else round(first_byte * 1000.0, 3),
            total_ms=round(total * 1000.0, 3),
        )
