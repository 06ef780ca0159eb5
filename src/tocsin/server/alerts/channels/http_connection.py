"""One HTTP/1.1 connection of the alert client: it writes a request, parses the answer
with httptools (llhttp, in C) and says whether it may carry another request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NamedTuple, cast

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

# The most of an answer's body kept (the error excerpt needs 200 characters); a longer
# body is not read on: its connection is closed instead.
BODY_CAP = 4096
# The answer headers anyone reads; the others are parsed and dropped.
KEPT_HEADERS = frozenset({b"location", b"retry-after", b"content-type"})


class Answer(NamedTuple):
    """A receiver's answer: its status, the ``KEPT_HEADERS`` it had (lower-case names)
    and up to ``BODY_CAP`` bytes of its body (none for a 2xx: nobody reads it)."""

    status: int
    headers: dict[str, str]
    body: bytes


class TransportError(Exception):
    """The exchange failed below HTTP; the text is safe to show (no URL path or query)."""


class ConnectionLost(TransportError):
    """The connection ended before a whole answer head arrived; ``answered`` says whether
    any byte of an answer had arrived (if not, the request may be sent again)."""

    def __init__(self, message: str, *, answered: bool) -> None:
        super().__init__(message)
        self.answered = answered


class HttpConnection(asyncio.Protocol):
    """A connection carrying one exchange at a time; ``reusable`` after an answer that
    was read whole and allows keep-alive. Bytes arriving while no request is out (a
    server's goodbye before it closes an idle connection) close it."""

    def __init__(self, on_closed: Callable[[HttpConnection], None]) -> None:
        self._on_closed = on_closed
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._parser: HttpResponseParser | None = None
        self._status = 0
        self._interim = False
        self._headers: dict[str, str] = {}
        self._body = bytearray()
        self._head_done = False
        self._complete = False
        self._keep_alive = False
        self._answered = False
        self._error: TransportError | None = None
        self.closed = False
        # When it went back to its pool (monotonic seconds).
        self.idle_since = 0.0

    # --- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport (uvloop's are not ``asyncio.Transport`` subclasses)."""
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        """Feed the answer to the parser; wake the exchange when it has what it needs."""
        parser = self._parser
        if parser is None or self._complete:
            self.close()  # nothing was asked: this connection cannot be trusted again
            return
        self._answered = True
        try:
            parser.feed_data(data)
        except (HttpParserError, HttpParserUpgrade) as exc:
            if not self._complete:  # else: bytes after the answer, nobody asked for them
                self._error = TransportError(f"malformed HTTP answer: {_reason(exc)}")
            self.close()
        self._wake_if_ready()

    def eof_received(self) -> bool:
        """The peer is done sending: close (an answer read until close ends here)."""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Note the end; an exchange waiting for its answer head fails."""
        self.closed = True
        if self._parser is not None and not self._head_done and self._error is None:
            cause = f": {exc}" if exc is not None else ""
            when = "in the middle of its answer" if self._answered else "before answering"
            self._error = ConnectionLost(
                f"the receiver closed the connection {when}{cause}", answered=self._answered
            )
        self._keep_alive = False
        self._wake()
        self._on_closed(self)

    # --- httptools callbacks ------------------------------------------------------------
    def on_message_begin(self) -> None:
        """A new answer (after an interim 1xx, the final one) begins."""
        if self._complete:
            raise _Unasked  # a second answer to one request: stop parsing, then close
        self._headers = {}
        self._interim = False

    def on_header(self, name: bytes, value: bytes) -> None:
        """Keep the headers anyone reads."""
        lowered = name.lower()
        if lowered in KEPT_HEADERS:
            self._headers[lowered.decode("latin-1")] = value.decode(errors="replace")

    def on_headers_complete(self) -> None:
        """The status is known; a 1xx is skipped (the final answer follows)."""
        assert self._parser is not None
        status = self._parser.get_status_code()
        if status < 200:
            self._interim = True
            return
        self._status = status
        self._head_done = True

    def on_body(self, body: bytes) -> None:
        """Keep up to ``BODY_CAP`` bytes of a body someone will read."""
        if self._status >= 300 and len(self._body) < BODY_CAP:
            self._body += body[: BODY_CAP - len(self._body)]

    def on_message_complete(self) -> None:
        """The final answer is whole: note whether the connection may be kept."""
        if self._interim:
            return
        assert self._parser is not None
        self._complete = True
        self._keep_alive = self._parser.should_keep_alive()

    # --- the exchange ---------------------------------------------------------------------
    @property
    def usable(self) -> bool:
        """Whether the connection is open (an idle one may have been closed by its peer)."""
        return not self.closed and self._transport is not None and not self._transport.is_closing()

    @property
    def reusable(self) -> bool:
        """Whether another request may follow on this connection."""
        return self._complete and self._keep_alive and not self.closed

    async def exchange(self, request: bytes) -> Answer:
        """Send ``request`` and read the answer: the head, and unless it is a 2xx the body
        up to ``BODY_CAP`` (or until the connection closes, for a body without a length).

        Raises ``ConnectionLost`` or ``TransportError``; the caller closes the connection
        on any exception (cancellation included).
        """
        if self.closed or self._transport is None:
            raise ConnectionLost("the connection was closed", answered=False)
        self._parser = HttpResponseParser(self)
        self._status, self._headers, self._body = 0, {}, bytearray()
        self._head_done = self._complete = self._keep_alive = self._answered = False
        self._error = None
        self._transport.write(request)
        if not self._ready():
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._error is not None:
            raise self._error
        if not self.reusable:
            self.close()
        self._parser = None
        return Answer(self._status, self._headers, bytes(self._body))

    def close(self) -> None:
        """Close the connection (it is never reused)."""
        self._keep_alive = False
        if self._transport is not None:
            self._transport.close()

    def _ready(self) -> bool:
        if self._error is not None or self._complete:
            return True
        if not self._head_done:
            return False
        # A 2xx is all we need; any other answer's body is read up to the cap.
        return self._status < 300 or self.closed or len(self._body) >= BODY_CAP

    def _wake_if_ready(self) -> None:
        if self._waiter is not None and self._ready():
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class _Unasked(Exception):
    """Raised from a parser callback to stop at an answer nobody asked for."""


def _reason(exc: Exception) -> str:
    """The parser's reason, short and printable."""
    text = str(exc) or type(exc).__name__
    return text[:100]
