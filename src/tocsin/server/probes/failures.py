"""The one place where network exceptions become a ``FailureKind`` and a short reason.

The probe client raises ``ProbeFailure`` with its kind and reason for what a target did
wrong; connecting raises ``OSError`` (and its subclasses ``socket.gaierror``,
``ssl.SSLError`` and ``TimeoutError``), whose reasons are written here rather than copied,
so they stay short and never repeat a URL.
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
from datetime import timedelta

from tocsin.server.domain.observations import FailureKind
from tocsin.server.probes.http_connection import ProbeFailure

logger = logging.getLogger(__name__)

_MAX_REASON = 200


def classify(exc: BaseException, timeout: timedelta) -> tuple[FailureKind, str]:
    """The failure kind and a one-line reason for a probe that raised ``exc``."""
    kind, reason = _classify(exc, timeout)
    return kind, reason[:_MAX_REASON]


def _classify(exc: BaseException, timeout: timedelta) -> tuple[FailureKind, str]:
    if isinstance(exc, TimeoutError):
        return FailureKind.TIMEOUT, f"no complete answer within {timeout.total_seconds():g} s"
    if isinstance(exc, ProbeFailure):
        return exc.kind, exc.reason
    if isinstance(exc, OSError):
        return _classify_os_error(exc)
    logger.warning("probe failed with an unexpected error kind=%s", type(exc).__name__)
    return FailureKind.PROTOCOL, f"unexpected error: {type(exc).__name__}"


def _classify_os_error(exc: OSError) -> tuple[FailureKind, str]:
    if isinstance(exc, socket.gaierror):
        return FailureKind.DNS, f"name lookup failed: {exc.strerror or exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return FailureKind.TLS, f"certificate verification failed: {exc.verify_message or exc}"
    if isinstance(exc, ssl.SSLError):
        return FailureKind.TLS, f"TLS failed: {exc.reason or exc.strerror or exc}"
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return FailureKind.REFUSED, "connection refused"
    if isinstance(exc, ConnectionResetError) or exc.errno == errno.ECONNRESET:
        return FailureKind.CONNECTION, "connection reset by the peer"
    return FailureKind.CONNECTION, _one_line(exc.strerror or str(exc)) or type(exc).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split())
