"""What the probes' own HTTP client does on the wire: redirects that change the method
or the origin, HEAD, bodies cut short or ending with the connection, headers that
cannot be sent, compressed bodies, and closing with TLS connections open."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import trustme

from tests.server.probes.targets import Targets
from tocsin.server.domain.observations import FailureKind
from tocsin.server.probes import HttpTarget, ProbeClient, run_http_probe

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SHORT = timedelta(seconds=2)
SECRET = {"Authorization": "Bearer s3cret"}


async def test_a_post_answered_with_303_continues_as_a_get_without_its_body(
    client: ProbeClient, targets: Targets
) -> None:
    target = HttpTarget(f"{targets.http_url}/see-other", method="POST", body=b"payload")
    observation = await run_http_probe(client, target, now=NOW)
    assert observation.status == 200
    echoed = json.loads(observation.body)
    assert (echoed["method"], echoed["body"]) == ("GET", "")
    assert "Content-Length" not in echoed["headers"]


async def test_authorization_follows_a_redirect_on_the_same_origin_only(
    client: ProbeClient, targets: Targets
) -> None:
    same = HttpTarget(f"{targets.http_url}/away?to=/echo", headers=SECRET)
    echoed = json.loads((await run_http_probe(client, same, now=NOW)).body)
    assert echoed["headers"]["Authorization"] == "Bearer s3cret"

    elsewhere = f"{targets.https_url}/echo"  # another scheme, host and port
    other = HttpTarget(f"{targets.http_url}/away?to={quote(elsewhere, safe='')}", headers=SECRET)
    observation = await run_http_probe(client, other, now=NOW)
    assert observation.status == 200
    assert "Authorization" not in json.loads(observation.body)["headers"]
    assert observation.cert_not_after is not None  # the final answer came over TLS


async def test_head_reads_no_body_and_the_next_probe_still_works(
    client: ProbeClient, targets: Targets
) -> None:
    head = HttpTarget(f"{targets.http_url}/status/200", method="HEAD", timeout=SHORT)
    observation = await run_http_probe(client, head, now=NOW)
    assert (observation.failure, observation.status, observation.body) == (None, 200, b"")
    assert observation.headers["content-length"] == "10"
    after = await run_http_probe(client, HttpTarget(f"{targets.http_url}/status/200"), now=NOW)
    assert (after.status, after.body) == (200, b"status 200")


async def test_a_body_cut_short_of_its_length_is_a_connection_failure(
    client: ProbeClient, targets: Targets
) -> None:
    url = f"http://127.0.0.1:{targets.short_body_port}/"
    observation = await run_http_probe(client, HttpTarget(url, timeout=SHORT), now=NOW)
    assert observation.failure is FailureKind.CONNECTION
    assert observation.error == "the body ended early or was malformed"


async def test_a_body_without_a_length_ends_with_the_connection(
    client: ProbeClient, targets: Targets
) -> None:
    url = f"http://127.0.0.1:{targets.until_close_port}/"
    observation = await run_http_probe(client, HttpTarget(url, timeout=SHORT), now=NOW)
    assert observation.failure is None
    assert (observation.status, observation.body) == (200, b"read until the close")


async def test_a_chunked_body_is_read_whole_and_the_connection_kept(
    client: ProbeClient, targets: Targets
) -> None:
    target = HttpTarget(f"{targets.http_url}/chunked")
    first = await run_http_probe(client, target, now=NOW)
    assert (first.failure, first.body, first.body_truncated) == (None, b"onetwothree", False)
    assert first.headers["transfer-encoding"] == "chunked"
    again = await run_http_probe(client, target, now=NOW)
    assert (again.body, again.timings.connect_ms) == (b"onetwothree", None)


async def test_a_chunked_body_past_the_limit_is_cut_at_the_limit(
    client: ProbeClient, targets: Targets
) -> None:
    parts = ",".join(["0123456789"] * 30)
    target = HttpTarget(f"{targets.http_url}/chunked?parts={parts}", body_limit=25)
    observation = await run_http_probe(client, target, now=NOW)
    assert (observation.body, observation.body_truncated) == (b"0123456789" * 2 + b"01234", True)


async def test_a_header_value_with_a_line_break_is_a_config_failure_naming_the_header(
    client: ProbeClient, targets: Targets
) -> None:
    # An environment variable substituted into a header can hold one.
    target = HttpTarget(f"{targets.http_url}/echo", headers={"X-Token": "abc\r\nX-Evil: 1"})
    observation = await run_http_probe(client, target, now=NOW)
    assert observation.failure is FailureKind.CONFIG
    assert observation.error == "the header X-Token has a line break in its value"


async def test_keep_alive_reuses_one_connection_for_many_probes(
    client: ProbeClient, targets: Targets
) -> None:
    target = HttpTarget(f"{targets.http_url}/status/200")
    first = await run_http_probe(client, target, now=NOW)
    assert first.timings.connect_ms is not None
    for _ in range(5):
        again = await run_http_probe(client, target, now=NOW)
        assert again.status == 200
        assert again.timings.connect_ms is None


async def test_a_gzip_body_sent_unasked_is_read_decoded(
    client: ProbeClient, targets: Targets
) -> None:
    target = HttpTarget(f"{targets.http_url}/coded/gzip?text=pong")
    observation = await run_http_probe(client, target, now=NOW)
    assert (observation.failure, observation.status) == (None, 200)
    assert (observation.body, observation.body_truncated) == (b"pong", False)
    assert observation.headers["content-encoding"] == "gzip"  # the headers as sent


async def test_a_monitor_may_ask_for_compression_itself(
    client: ProbeClient, targets: Targets
) -> None:
    echoed = HttpTarget(f"{targets.http_url}/echo", headers={"Accept-Encoding": "gzip"})
    sent = json.loads((await run_http_probe(client, echoed, now=NOW)).body)["headers"]
    assert sent["Accept-Encoding"] == "gzip"
    coded = HttpTarget(f"{targets.http_url}/coded/deflate", headers={"Accept-Encoding": "gzip"})
    assert (await run_http_probe(client, coded, now=NOW)).body == b"pong "


async def test_deflate_is_read_with_or_without_its_zlib_wrapper(
    client: ProbeClient, targets: Targets
) -> None:
    for coding in ("deflate", "raw-deflate"):
        target = HttpTarget(f"{targets.http_url}/coded/{coding}?repeat=3")
        observation = await run_http_probe(client, target, now=NOW)
        assert (coding, observation.failure, observation.body) == (coding, None, b"pong " * 3)


async def test_a_compressed_body_keeps_the_limit_in_decoded_bytes(
    client: ProbeClient, targets: Targets
) -> None:
    # 500 KB of text compresses to about 1 KB: the limit bounds what it decodes to.
    url = f"{targets.http_url}/coded/gzip?text=abcde&repeat=100000"
    observation = await run_http_probe(client, HttpTarget(url, body_limit=1000), now=NOW)
    assert observation.failure is None
    assert (observation.body, observation.body_truncated) == (b"abcde" * 200, True)


async def test_a_body_that_does_not_decode_is_a_protocol_failure(
    client: ProbeClient, targets: Targets
) -> None:
    for coding in ("broken", "gzip-cut"):
        target = HttpTarget(f"{targets.http_url}/coded/{coding}?repeat=50")
        observation = await run_http_probe(client, target, now=NOW)
        assert (coding, observation.failure, observation.error) == (
            coding,
            FailureKind.PROTOCOL,
            "the body is not valid gzip",
        )


async def test_a_coding_the_probe_cannot_decode_is_kept_as_sent(
    client: ProbeClient, targets: Targets
) -> None:
    target = HttpTarget(f"{targets.http_url}/coded/br")  # the route sends it uncompressed
    observation = await run_http_probe(client, target, now=NOW)
    assert (observation.failure, observation.body) == (None, b"pong ")


class SilentTlsPeer:
    """A TLS server (a thread with a blocking socket) that answers one keep-alive request,
    then reads on without ever answering the client's TLS goodbye; ``closed`` is set when
    the client's TCP connection ends."""

    def __init__(self, ca: trustme.CA) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(self.context)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            raw, _ = self.listener.accept()
            with self.context.wrap_socket(raw, server_side=True) as conn:
                received = b""
                while b"\r\n\r\n" not in received:
                    received += conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                with contextlib.suppress(ssl.SSLError, OSError):
                    while conn.recv(4096):  # b"" once the client's goodbye arrives
                        pass
                while os.read(conn.fileno(), 4096):  # then the bare TCP stream, until its end
                    pass
                self.closed.set()

    def stop(self) -> None:
        self.listener.close()


@pytest.fixture
def silent_tls_peer(ca: trustme.CA) -> Iterator[SilentTlsPeer]:
    peer = SilentTlsPeer(ca)
    yield peer
    peer.stop()


async def test_closing_the_client_ends_a_tls_connection_whose_peer_never_says_goodbye(
    silent_tls_peer: SilentTlsPeer,
) -> None:
    # Left open, such a socket outlived `tocsin check`'s event loop (a ResourceWarning).
    client = ProbeClient()
    target = HttpTarget(f"https://127.0.0.1:{silent_tls_peer.port}/", verify_tls=False)
    observation = await run_http_probe(client, target, now=NOW)
    assert (observation.failure, observation.body) == (None, b"ok")
    await client.close()
    assert await asyncio.to_thread(silent_tls_peer.closed.wait, 0.5)
