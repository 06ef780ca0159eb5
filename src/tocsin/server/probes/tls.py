"""TLS for probes: the two client contexts and the peer certificate's expiry.

The expiry is read from the certificate's DER bytes, which ``getpeercert(binary_form=True)``
returns even when verification is off (the parsed dictionary form needs a verified peer).
Only the few fields on the way to ``validity.notAfter`` are walked (RFC 5280, 4.1), so no
X.509 library is needed at run time.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from functools import cache, lru_cache

_SEQUENCE = 0x30
_INTEGER = 0x02
_EXPLICIT_VERSION = 0xA0
_UTC_TIME = 0x17
_GENERALIZED_TIME = 0x18


@cache
def verified_context() -> ssl.SSLContext:
    """The system's trust store with hostname checks: what ``verify_tls`` means."""
    return ssl.create_default_context()


@cache
def unverified_context() -> ssl.SSLContext:
    """Encrypts but trusts any certificate (``verify_tls: false``)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def peer_not_after(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> datetime | None:
    """The peer certificate's expiry (UTC), or ``None`` without TLS or a readable one."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return der_not_after(der) if der else None


@lru_cache(maxsize=1024)  # probes of one site see the same certificate again and again
def der_not_after(der: bytes) -> datetime | None:
    """``notAfter`` of a DER-encoded X.509 certificate, or ``None`` if it is malformed."""
    try:
        tag, start, _ = _element(der, 0)
        _expect(tag, _SEQUENCE)  # Certificate
        tag, pos, _ = _element(der, start)
        _expect(tag, _SEQUENCE)  # tbsCertificate
        tag, _, end = _element(der, pos)
        if tag == _EXPLICIT_VERSION:
            pos = end
        for expected in (_INTEGER, _SEQUENCE, _SEQUENCE):  # serial, signature, issuer
            tag, _, pos = _element(der, pos)
            _expect(tag, expected)
        tag, validity, _ = _element(der, pos)
        _expect(tag, _SEQUENCE)
        _, _, not_before_end = _element(der, validity)
        tag, start, end = _element(der, not_before_end)
        return _time(tag, der[start:end].decode("ascii"))
    except (IndexError, ValueError):
        return None


def _element(der: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the element at ``pos``."""
    tag, length = der[pos], der[pos + 1]
    pos += 2
    if length & 0x80:
        size = length & 0x7F
        if not 0 < size <= 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(der[pos : pos + size], "big")
        pos += size
    end = pos + length
    if end > len(der):
        raise ValueError("truncated DER")
    return tag, pos, end


def _expect(tag: int, expected: int) -> None:
    if tag != expected:
        raise ValueError(f"DER tag {tag:#x}, expected {expected:#x}")


def _time(tag: int, text: str) -> datetime:
    if tag == _UTC_TIME:
        # RFC 5280: two-digit years 50..99 are 19xx, 00..49 are 20xx.
        century = "19" if int(text[:2]) >= 50 else "20"
        text = century + text
    elif tag != _GENERALIZED_TIME:
        raise ValueError(f"DER tag {tag:#x} is not a time")
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
