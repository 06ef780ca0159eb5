"""The one place where network exceptions become a ``FailureKind`` and a short reason.

Reasons are written here rather than copied from the exception: aiohttp's texts repeat
the URL (which may carry credentials) and run long. Order matters: ``TimeoutError`` and
the aiohttp errors are ``OSError`` subclasses.
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
from datetime import timedelta

import aiohttp

from tocsin.server.domain.observations import FailureKind

logger = logging.getLogger(__name__)

_MAX_REASON = 200


def classify(exc: BaseException, timeout: timedelta) -> tuple[FailureKind, str]:
    """The failure kind and a one-line reason for a probe that raised ``exc``."""
    kind, reason = _classify(exc, timeout)
    return kind, reason[:_MAX_REASON]


def _classify(exc: BaseException, timeout: timedelta) -> tuple[FailureKind, str]:
    if isinstance(exc, TimeoutError):
        return FailureKind.TIMEOUT, f"no complete answer within {timeout.total_seconds():g} s"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return FailureKind.TLS, _tls_reason(exc.certificate_error)
    if isinstance(exc, aiohttp.ClientConnectorError):
        # DNS, TLS handshake and refused all arrive wrapped; the cause says which.
        return _classify_os_error(exc.os_error)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return FailureKind.CONNECTION, "the server closed the connection before answering"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return FailureKind.CONNECTION, "the body ended early or was malformed"
    if isinstance(exc, aiohttp.InvalidURL):
        return FailureKind.PROTOCOL, "invalid URL"
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return FailureKind.PROTOCOL, "not an http:// or https:// URL"
    if isinstance(exc, aiohttp.ClientResponseError):
        # The status line or headers could not be parsed: the peer does not speak HTTP.
        return FailureKind.PROTOCOL, f"not a valid HTTP answer: {_one_line(exc.message)}"
    if isinstance(exc, OSError):
        return _classify_os_error(exc)
    if isinstance(exc, aiohttp.ClientError):
        return FailureKind.CONNECTION, _one_line(str(exc)) or type(exc).__name__
    logger.warning("probe failed with an unexpected error kind=%s", type(exc).__name__)
    return FailureKind.PROTOCOL, f"unexpected error: {type(exc).__name__}"


def _classify_os_error(exc: OSError) -> tuple[FailureKind, str]:
    if isinstance(exc, TimeoutError):
        return FailureKind.TIMEOUT, "timed out"
    if isinstance(exc, socket.gaierror):
        return FailureKind.DNS, f"name lookup failed: {exc.strerror or exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return FailureKind.TLS, _tls_reason(exc)
    if isinstance(exc, ssl.SSLError):
        return FailureKind.TLS, f"TLS failed: {exc.reason or exc.strerror or exc}"
    # aiohttp re-raises socket errors as its own OSError subclasses: the errno says which.
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return FailureKind.REFUSED, "connection refused"
    if isinstance(exc, ConnectionResetError) or exc.errno == errno.ECONNRESET:
        return FailureKind.CONNECTION, "connection reset by the peer"
    return FailureKind.CONNECTION, _one_line(exc.strerror or str(exc)) or type(exc).__name__


def _tls_reason(exc: BaseException) -> str:
    detail = exc.verify_message if isinstance(exc, ssl.SSLCertVerificationError) else None
    return f"certificate verification failed: {detail or exc}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
