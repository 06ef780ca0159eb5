"""Undo a probe answer's ``Content-Encoding`` (gzip, deflate) so assertions read the body
the target meant, within the same size limit as a plain body.

Probes send no ``Accept-Encoding``, but a monitor may set one, and some servers and CDNs
compress regardless. Other codings (``br``, ``zstd``) are left as sent.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

from tocsin.server.domain.observations import FailureKind
from tocsin.server.probes.http_connection import ProbeFailure

# zlib's wbits: a gzip member; a zlib stream ("deflate" as HTTP defines it); raw deflate
# (what some servers send as "deflate" instead).
_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS
_WBITS = {"gzip": _GZIP, "x-gzip": _GZIP, "deflate": _ZLIB}


class DecodedBody(NamedTuple):
    """A body after decoding: at most the limit's bytes, and whether there was more."""

    body: bytes
    truncated: bool


def decode_body(coding: str | None, body: bytes, *, truncated: bool, limit: int) -> DecodedBody:
    """``body`` (at most ``limit`` bytes as received; ``truncated`` if the answer went on)
    decoded from ``coding``, keeping at most ``limit`` decoded bytes.

    An unknown or absent coding returns the body as it is. A body that does not decode
    is a ``protocol`` failure. A received body cut at the limit decodes as far as it goes
    and stays truncated; so does one that decodes to more than ``limit`` bytes (read no
    further, so a small compressed body cannot fill memory).
    """
    name = (coding or "").strip().lower()
    wbits = _WBITS.get(name)
    if wbits is None or not body:
        return DecodedBody(body, truncated)
    if limit == 0:  # zlib reads a max_length of 0 as "no limit"
        return DecodedBody(b"", True)
    try:
        return _inflate(body, wbits, truncated, limit)
    except zlib.error:
        if wbits != _ZLIB:
            raise ProbeFailure(FailureKind.PROTOCOL, f"the body is not valid {name}") from None
    try:
        return _inflate(body, _RAW_DEFLATE, truncated, limit)
    except zlib.error:
        raise ProbeFailure(FailureKind.PROTOCOL, "the body is not valid deflate") from None


def _inflate(body: bytes, wbits: int, truncated: bool, limit: int) -> DecodedBody:
    decompressor = zlib.decompressobj(wbits)
    decoded = decompressor.decompress(body, limit)
    more = bool(decompressor.unconsumed_tail)
    if not more and not truncated and not decompressor.eof:
        # All of the body was read, yet the stream did not end: cut short in transit.
        decoded += decompressor.flush()
        if not decompressor.eof:
            raise zlib.error("incomplete stream")
    return DecodedBody(decoded[:limit], truncated or more or len(decoded) > limit)
