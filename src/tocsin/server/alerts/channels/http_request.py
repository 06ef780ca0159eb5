"""What the alert client sends: a channel URL read once into where to connect and the
request line, and the request's bytes with its headers."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import quote, unquote, urlsplit

from tocsin.server.domain.fields import HEADER_NAME

DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters a path or query keeps as they are; anything else is percent-encoded (as
# browsers and aiohttp do), "%" included only when it does not start an escape.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_BAD_VALUE = re.compile(r"[\r\n\x00]")
# Framing is ours: a channel's headers may not set these.
_FRAMING = frozenset({"content-length", "transfer-encoding"})


class InvalidURL(ValueError):
    """A channel URL that cannot be sent to; the text never repeats the URL."""


class InvalidHeader(ValueError):
    """A header that cannot be sent (not a token, or a line break in its value); the
    text names the header, never its value."""


class Origin(NamedTuple):
    """Where a request goes; connections are pooled per origin."""

    scheme: str
    host: str  # as connected to: IDNA-encoded, an IPv6 address without brackets
    port: int


class Target(NamedTuple):
    """A URL read for sending: its origin and the start of its request."""

    origin: Origin
    # "POST <path?query> HTTP/1.1", the Host header, and Authorization from user:password.
    head: str
    host_header: str
    authorization: str | None


@lru_cache(maxsize=4096)
def target_of(url: str) -> Target:
    """Read ``url`` (cached: channels post to the same few URLs again and again)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        hostname = parts.hostname
    except ValueError:
        raise InvalidURL("the channel's URL is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidURL("the channel's URL is not an http or https URL")
    if not hostname:
        raise InvalidURL("the channel's URL has no host")
    try:
        host = hostname.encode("idna").decode("ascii") if not hostname.isascii() else hostname
    except UnicodeError:
        raise InvalidURL("the channel's URL has a host name that is not valid") from None
    port = port or DEFAULT_PORTS[scheme]
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == DEFAULT_PORTS[scheme] else f"{shown}:{port}"
    path = _ESCAPE.sub("%25", quote(parts.path or "/", safe=_PATH_SAFE + "%"))
    if parts.query:
        path += "?" + _ESCAPE.sub("%25", quote(parts.query, safe=_QUERY_SAFE + "%"))
    authorization = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
    return Target(Origin(scheme, host, port), f"POST {path} HTTP/1.1", host_header, authorization)


def encode_request(target: Target, headers: Mapping[str, str], body: bytes) -> bytes:
    """The bytes of a POST of ``body`` to ``target`` with ``headers``; a header named
    twice in any case is sent once, the later value winning (``Host`` and
    ``Authorization`` may be set by the channel's headers)."""
    merged: dict[str, tuple[str, str]] = {"host": ("Host", target.host_header)}
    if target.authorization is not None:
        merged["authorization"] = ("Authorization", target.authorization)
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _FRAMING:
            continue
        if HEADER_NAME.fullmatch(name) is None:
            raise InvalidHeader("a header name of the channel is not valid in HTTP")
        if _BAD_VALUE.search(value) is not None:
            raise InvalidHeader(f"the channel's header {name} has a line break in its value")
        merged[lowered] = (name, value)
    lines = [target.head]
    lines.extend(f"{name}: {value}" for name, value in merged.values())
    lines.append(f"Content-Length: {len(body)}\r\n\r\n")
    return "\r\n".join(lines).encode() + body
