"""How the server listens: uvicorn with timeouts and a connection limit that hold under load.

uvicorn closes a keep-alive connection that stays idle after a response
(``timeout_keep_alive``) and answers 503 to requests that arrive while it holds
``limit_concurrency`` connections, but it has no timeout for reading a request's headers:
a connection that never sends a byte, or sends its headers a byte at a time (slowloris),
is kept for ever. ``GuardedHttpProtocol`` adds that timeout to uvicorn's httptools
protocol: from the moment a connection opens, or its previous response ends, the request
headers must be complete within ``header_timeout`` seconds, or the connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tocsin.settings import Settings

logger = logging.getLogger(__name__)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus a deadline for receiving each request's headers."""

    header_timeout: ClassVar[float] = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """A new connection: its first request's headers are due within the timeout."""
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection closed."""
        self._cancel_header_timer()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        """Headers are in: the request is the app's now (uvicorn's own timeouts apply)."""
        self._cancel_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        """A response went out: unless a pipelined request waits, the next one's headers
        are due within the timeout (an idle keep-alive closes sooner, by uvicorn)."""
        waiting_for_next = not self.pipeline
        super().on_response_complete()
        if waiting_for_next and not self.transport.is_closing():
            self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        idle = self.cycle is None or self.cycle.response_complete
        if idle and not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(header_timeout: float) -> type[GuardedHttpProtocol]:
    """``GuardedHttpProtocol`` with ``header_timeout`` (uvicorn builds protocols itself)."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"header_timeout": header_timeout})


def open_file_limit() -> int | None:
    """Raise the soft limit on open files to the hard one; return the new soft limit.

    Every connection is a file descriptor: a low default (often 1,024) is what runs out
    first under many connections. ``None`` where the platform has no such limit.
    """
    try:
        import resource
    except ImportError:  # not on Unix
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            logger.warning(
                "could not raise the open file limit soft=%d hard=%d: %s", soft, hard, exc
            )
    return None if soft == resource.RLIM_INFINITY else soft


def connection_limit(wanted: int, file_limit: int | None) -> int:
    """``wanted``, lowered to half the open-file limit.

    uvicorn accepts connections past its limit and answers their requests with 503, and
    each of them holds a descriptor until answered or timed out: the other half is room
    for those, the database connections and the log files.
    """
    if file_limit is None or wanted <= file_limit // 2:
        return wanted
    lowered = max(1, file_limit // 2)
    logger.warning(
        "TOCSIN_HTTP_MAX_CONNECTIONS=%d lowered to %d: the open file limit is %d",
        wanted,
        lowered,
        file_limit,
    )
    return lowered


# uvicorn's own X-Forwarded-* handling stays off. It would otherwise apply the headers for
# any peer at 127.0.0.1 (FORWARDED_ALLOW_IPS), so a local client could claim HTTPS or
# another address; and trusting every peer makes it take the first X-Forwarded-For entry,
# the one the client wrote. With TOCSIN_TRUST_PROXY the app's own TrustedProxyHeaders
# takes the entries our proxy added instead.
UVICORN_PROXY_OPTIONS: dict[str, Any] = {"proxy_headers": False}


def serve(app: Any, settings: Settings) -> None:
    """Serve ``app`` on the settings' host and port until the process is told to stop."""
    limit = connection_limit(settings.http_max_connections, open_file_limit())
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,
        loop="auto",
        http=guarded_protocol(settings.http_header_timeout_seconds),
        timeout_keep_alive=settings.http_idle_timeout_seconds,
        limit_concurrency=limit,
        timeout_graceful_shutdown=5,
        **UVICORN_PROXY_OPTIONS,
    )
