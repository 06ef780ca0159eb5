"""One HTTP/1.1 connection of the probe client: it writes a request and parses the answer
with httptools (llhttp, in C), keeping every header and the body up to a limit.

What a target does wrong surfaces as a ``ProbeFailure`` with its kind and a short reason:
a connection closed before or during the answer, bytes that are not HTTP, a body that
ends before its length, a head (status line and headers) longer than ``MAX_HEAD_BYTES``
or with more than ``MAX_HEADER_LINES`` headers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import NamedTuple, cast

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

from tocsin.server.domain.observations import FailureKind

# The most bytes of answer heads (status line and headers, with any 1xx answers before
# the final one) read per request. httptools sets no limit and joins a header's pieces
# by copying (quadratic), so an endless header would cost memory and CPU until the
# timeout. 64 KiB is 8 times nginx's default proxy_buffer_size (a longer head already
# fails behind a default nginx) and 4 times Node's client default; curl allows 300 KiB.
MAX_HEAD_BYTES = 64 * 1024
# The most headers in one answer: real ones carry a few dozen; 256 tuples stay small.
MAX_HEADER_LINES = 256


class ProbeFailure(Exception):
    """A probe's exchange failed in a way the target caused; ``reason`` is safe to show
    (it never repeats the URL)."""

    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class ConnectionLost(ProbeFailure):
    """The connection ended before the answer's head arrived; ``answered`` says whether
    any byte of an answer came (if none did, the request may be sent again)."""

    def __init__(self, reason: str, *, answered: bool) -> None:
        super().__init__(FailureKind.CONNECTION, reason)
        self.answered = answered


class RawAnswer(NamedTuple):
    """An answer as read: status, headers (lower-case names, in order, repeats kept),
    up to the limit of the body, whether the body was longer, and when (monotonic
    seconds) its head arrived."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    truncated: bool
    head_at: float


class ProbeConnection(asyncio.Protocol):
    """A connection carrying one exchange at a time; ``reusable`` after an answer read
    whole that allows keep-alive. ``peer_certificate`` is the TLS peer's DER certificate
    (``None`` without TLS), read when the connection was made."""

    def __init__(self, on_closed: Callable[[ProbeConnection], None]) -> None:
        self._on_closed = on_closed
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._parser: HttpResponseParser | None = None
        self._status = 0
        self._interim = False
        self._headers: list[tuple[str, str]] = []
        self._framed = False  # the answer has a Content-Length or chunked framing
        self._body = bytearray()
        self._limit = 0
        self._head_room = MAX_HEAD_BYTES  # bytes the head may still take
        self._truncated = False
        self._head_at = 0.0
        self._head_only = False
        self._head_done = False
        self._complete = False
        self._keep_alive = False
        self._answered = False
        self._error: ProbeFailure | None = None
        self.closed = False
        self.peer_certificate: bytes | None = None
        self.idle_since = 0.0  # when it went back to its pool (monotonic seconds)

    # --- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport (uvloop's are not ``asyncio.Transport`` subclasses) and
        the TLS peer's certificate."""
        self._transport = cast(asyncio.Transport, transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.peer_certificate = ssl_object.getpeercert(binary_form=True)

    def data_received(self, data: bytes) -> None:
        """Feed the answer to the parser; wake the exchange when it has what it needs."""
        parser = self._parser
        if parser is None or self._complete or self._truncated:
            self.abort()  # nothing was asked, or no more is wanted: never reuse it
            return
        self._answered = True
        try:
            if self._head_done:
                parser.feed_data(data)
            else:
                self._feed_head(parser, data)
        except _Overflow as overflow:
            self._overflowed(overflow)
        except (HttpParserError, HttpParserUpgrade) as exc:
            if isinstance(exc.__context__, _Overflow):  # raised in a callback
                self._overflowed(exc.__context__)
            else:
                if not self._complete:  # else: bytes after the answer; nobody asked for them
                    self._error = ProbeFailure(
                        FailureKind.PROTOCOL, f"not a valid HTTP answer: {_reason(exc)}"
                    )
                self.abort()  # whatever else comes is not read either
        self._wake_if_ready()

    def eof_received(self) -> bool:
        """The peer is done sending: close (a body read until close ends here)."""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Note the end: an exchange without its head fails, and so does one whose body
        was cut short of its length; a body without framing ends here."""
        self.closed = True
        if self._parser is not None and self._error is None and not self._complete:
            if not self._head_done:
                when = "in the middle of its answer" if self._answered else "before answering"
                self._error = ConnectionLost(
                    f"the server closed the connection {when}", answered=self._answered
                )
            elif self._framed and not self._truncated and not self._head_only:
                self._error = ProbeFailure(
                    FailureKind.CONNECTION, "the body ended early or was malformed"
                )
        self._keep_alive = False
        self._wake()
        self._on_closed(self)

    # --- httptools callbacks ------------------------------------------------------------
    def on_message_begin(self) -> None:
        """A new answer (after an interim 1xx, the final one) begins."""
        if self._complete:
            raise _Unasked  # a second answer to one request: stop parsing, then close
        self._headers = []
        self._framed = False
        self._interim = False

    def on_header(self, name: bytes, value: bytes) -> None:
        """Keep every header (up to ``MAX_HEADER_LINES``), its name in lower case."""
        if len(self._headers) >= MAX_HEADER_LINES:
            raise _Overflow(f"more than {MAX_HEADER_LINES} response headers")
        lowered = name.decode("latin-1").lower()
        if lowered in _FRAMING:
            self._framed = True
        self._headers.append((lowered, value.decode(errors="replace")))

    def on_headers_complete(self) -> None:
        """The status is known; a 1xx is skipped (the final answer follows)."""
        assert self._parser is not None
        status = self._parser.get_status_code()
        if status < 200:
            self._interim = True
            return
        self._status = status
        self._head_at = time.monotonic()
        self._head_done = True
        if self._head_only:  # an answer to HEAD has no body, whatever its length says
            self._complete = True

    def on_body(self, body: bytes) -> None:
        """Keep the body up to the limit; past it, stop reading."""
        room = self._limit - len(self._body)
        if len(body) > room:
            self._body += body[:room]
            self._truncated = True
            return
        self._body += body

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
        return (
            self._complete
            and self._keep_alive
            and not self._truncated
            and not self._head_only
            and not self.closed
        )

    async def exchange(self, request: bytes, *, body_limit: int, head_only: bool) -> RawAnswer:
        """Send ``request`` and read the answer: its head, and its body up to
        ``body_limit`` bytes (``head_only``: none, the request was a HEAD).

        Raises ``ProbeFailure`` (``ConnectionLost`` before the head); the caller closes
        the connection on any exception, cancellation included.
        """
        if self.closed or self._transport is None:
            raise ConnectionLost("the connection was closed", answered=False)
        self._parser = HttpResponseParser(self)
        self._status, self._headers, self._body = 0, [], bytearray()
        self._limit, self._head_only = body_limit, head_only
        self._head_room = MAX_HEAD_BYTES
        self._head_done = self._complete = self._keep_alive = self._answered = False
        self._truncated = self._framed = False
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
        if self._truncated:
            self.abort()  # the rest of the body is not read: see ``abort``
        elif not self.reusable:
            self.close()
        self._parser = None
        return RawAnswer(
            self._status, self._headers, bytes(self._body), self._truncated, self._head_at
        )

    def close(self) -> None:
        """Close the connection (it is never reused), over TLS after a goodbye: for an
        answer read whole, when the target sends nothing more."""
        self._keep_alive = False
        # Once only: closing asyncio's TLS transport again unhooks it, and an ``abort``
        # after that (the client's, when the goodbye goes unanswered) would do nothing.
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        """Close the connection at once, without a TLS goodbye: when the target may still
        be sending what will not be read (a body past the limit, bytes past the answer or
        not HTTP). A goodbye would keep the socket until the target answers it or the
        30 s shutdown timeout ends it, and uvloop reads and decrypts all that comes
        meanwhile."""
        self._keep_alive = False
        if self._transport is not None:
            self._transport.abort()

    def _feed_head(self, parser: HttpResponseParser, data: bytes) -> None:
        """Feed bytes that come while the head is read: the parser gets at most the
        head's room (httptools buffers an unfinished header whole), and what follows
        only if the head ended within it."""
        room = self._head_room
        self._head_room = max(0, room - len(data))
        if len(data) <= room:
            parser.feed_data(data)
            return
        parser.feed_data(data[:room])
        if not self._head_done:
            raise _Overflow(f"the response headers passed {MAX_HEAD_BYTES // 1024} KiB")
        parser.feed_data(data[room:])

    def _overflowed(self, overflow: _Overflow) -> None:
        """The head passed a limit: fail, and cut the connection at once (a TLS goodbye
        would keep reading what the target still sends)."""
        self._error = ProbeFailure(FailureKind.PROTOCOL, str(overflow))
        self.abort()

    def _ready(self) -> bool:
        if self._error is not None or self._complete or self._truncated:
            return True
        # A body without framing ends when the connection does.
        return self._head_done and self.closed

    def _wake_if_ready(self) -> None:
        if self._waiter is not None and self._ready():
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


_FRAMING = frozenset({"content-length", "transfer-encoding"})


class _Unasked(Exception):
    """Raised from a parser callback to stop at an answer nobody asked for."""


class _Overflow(Exception):
    """The answer's head passed a limit; the message is the failure's reason."""


def _reason(exc: Exception) -> str:
    """The parser's reason, short and printable."""
    text = str(exc) or type(exc).__name__
    return text[:100]
