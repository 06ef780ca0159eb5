"""HTTPS probes against a certificate made for the test (trustme), and the expiry reader."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.server.probes.targets import Targets
from tocsin.server.domain.observations import FailureKind
from tocsin.server.probes import HttpTarget, ProbeClient, run_http_probe
from tocsin.server.probes.tls import der_not_after

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _expiry(ca: trustme.CA) -> datetime:
    """What the issued ``localhost`` certificate says, read with a full X.509 library."""
    pem = ca.issue_cert("localhost").cert_chain_pems[0].bytes()
    return x509.load_pem_x509_certificate(pem).not_valid_after_utc


async def test_a_trusted_certificate_passes_and_its_expiry_is_read(
    client: ProbeClient, targets: Targets
) -> None:
    observation = await run_http_probe(
        client, HttpTarget(f"{targets.https_url}/status/200"), now=NOW
    )
    assert observation.failure is None
    assert observation.status == 200
    assert observation.cert_not_after is not None
    assert observation.cert_not_after.tzinfo is UTC
    # trustme issues every leaf with the same lifetime; compare to the day.
    assert observation.cert_not_after.date() == _expiry(targets.ca).date()
    assert observation.timings.dns_ms is not None  # "localhost" is a name
    assert observation.timings.connect_ms is not None
    assert observation.timings.tls_ms is not None  # the handshake, timed on its own


async def test_a_kept_alive_connection_still_reports_the_certificate(
    client: ProbeClient, targets: Targets
) -> None:
    target = HttpTarget(f"{targets.https_url}/status/200")
    first = await run_http_probe(client, target, now=NOW)
    again = await run_http_probe(client, target, now=NOW)
    assert again.timings.connect_ms is None  # the pooled connection was reused
    assert again.timings.tls_ms is None
    assert again.cert_not_after is not None
    assert again.cert_not_after == first.cert_not_after


async def test_a_plain_http_probe_after_an_https_one_has_no_certificate(
    client: ProbeClient, targets: Targets
) -> None:
    await run_http_probe(client, HttpTarget(f"{targets.https_url}/status/200"), now=NOW)
    plain = await run_http_probe(client, HttpTarget(f"{targets.http_url}/status/200"), now=NOW)
    assert plain.status == 200
    assert plain.cert_not_after is None


async def test_an_untrusted_certificate_is_a_tls_failure(
    system_client: ProbeClient, targets: Targets
) -> None:
    observation = await run_http_probe(
        system_client, HttpTarget(f"{targets.https_url}/status/200"), now=NOW
    )
    assert observation.failure is FailureKind.TLS
    assert observation.error is not None
    assert "certificate verification failed" in observation.error
    assert observation.status is None


async def test_a_certificate_for_another_name_is_a_tls_failure(
    client: ProbeClient, targets: Targets
) -> None:
    url = f"https://127.0.0.1:{targets.https_port}/status/200"
    observation = await run_http_probe(client, HttpTarget(url), now=NOW)
    assert observation.failure is FailureKind.TLS
    assert observation.error is not None and "127.0.0.1" in observation.error


async def test_without_verification_an_untrusted_certificate_answers_and_expiry_is_read(
    system_client: ProbeClient, targets: Targets
) -> None:
    target = HttpTarget(f"{targets.https_url}/status/200", verify_tls=False)
    observation = await run_http_probe(system_client, target, now=NOW)
    assert observation.failure is None
    assert observation.status == 200
    assert observation.cert_not_after is not None
    assert observation.cert_not_after.date() == _expiry(targets.ca).date()


def test_expiry_matches_a_full_x509_parser(ca: trustme.CA) -> None:
    pem = ca.issue_cert("example.test").cert_chain_pems[0].bytes()
    certificate = x509.load_pem_x509_certificate(pem)
    der = certificate.public_bytes(Encoding.DER)
    assert der_not_after(der) == certificate.not_valid_after_utc


@pytest.mark.parametrize(
    "der",
    [b"", b"\x30", b"\x30\x82\xff\xff", b"\x02\x01\x00", b"not a certificate at all"],
    ids=["empty", "tag-only", "truncated", "not-a-sequence", "text"],
)
def test_a_malformed_certificate_has_no_expiry(der: bytes) -> None:
    assert der_not_after(der) is None
