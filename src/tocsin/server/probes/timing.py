"""Phase timings of one probe, stamped from the monotonic clock.

The HTTP probe makes its ``PhaseClock`` the active one for the exchange; the probe
session's connector and resolver stamp the clock they find active (``active_clock``).
aiohttp opens the TCP connection and runs the TLS handshake in one step, so for HTTPS the
``connect`` phase includes the handshake and ``tls`` stays ``None``. A phase that did not
happen (an IP literal needs no DNS, a kept-alive connection needs no connect, a cached
name needs no lookup) is ``None``. Across redirects each phase adds up over the hops.

No aiohttp ``TraceConfig`` is used: with one installed, aiohttp builds a trace context and
sends several signals on every request, hooks or not, which cost a probe more than the
timings themselves.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token

from tocsin.server.domain.observations import Timings

_monotonic = time.monotonic


class PhaseClock:
    """Seconds spent per phase of one probe, from the monotonic clock.

    The HTTP probe activates it around its exchange; the TCP probe sets the phases itself.
    """

    __slots__ = (
        "_connect_started",
        "_dns_before_connect",
        "_dns_started",
        "connect",
        "dns",
        "first_byte",
        "started",
        "tls",
    )

    def __init__(self) -> None:
        self.started = _monotonic()
        self.dns: float | None = None
        self.connect: float | None = None
        self.tls: float | None = None
        self.first_byte: float | None = None
        self._dns_started = 0.0
        self._connect_started = 0.0
        self._dns_before_connect = 0.0

    def activate(self) -> Token[PhaseClock | None]:
        """Make this the clock the connection layer stamps, until ``deactivate``."""
        return _active.set(self)

    @staticmethod
    def deactivate(token: Token[PhaseClock | None]) -> None:
        """Restore the clock that was active before ``activate`` returned ``token``."""
        _active.reset(token)

    def dns_started(self) -> None:
        """A name lookup began."""
        self._dns_started = _monotonic()

    def dns_ended(self) -> None:
        """A name lookup finished."""
        self.dns = (self.dns or 0.0) + _monotonic() - self._dns_started

    def connect_started(self) -> None:
        """A new connection is being opened (lookup, TCP and TLS)."""
        self._connect_started = _monotonic()
        self._dns_before_connect = self.dns or 0.0

    def connect_ended(self) -> None:
        """The connection is open; the lookup inside it is not counted as connecting."""
        lookup = (self.dns or 0.0) - self._dns_before_connect
        span = _monotonic() - self._connect_started - lookup
        self.connect = (self.connect or 0.0) + span

    def headers_received(self) -> None:
        """The (final) response's status line and headers arrived."""
        self.first_byte = _monotonic() - self.started

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


_active: ContextVar[PhaseClock | None] = ContextVar("probe_phase_clock", default=None)


def active_clock() -> PhaseClock | None:
    """The clock of the probe running in this task (or the task that started this one)."""
    return _active.get()
