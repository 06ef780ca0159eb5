"""The alert channels' HTTP client over TLS: verified against the trust it is given,
with the URL's host name as SNI, kept alive like plain HTTP."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trustme

from tests.server.alerts.raw_receivers import read_request
from tocsin.errors import DeliveryError
from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.channels.posting import post


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A certificate authority made for these tests."""
    return trustme.CA()


@asynccontextmanager
async def tls_receiver(ca: trustme.CA, name: str, seen: list[str | None]) -> AsyncIterator[int]:
    """Serve HTTPS on 127.0.0.1 with a certificate for ``name``; note each connection's
    SNI name in ``seen``; answer 200 to every request. Yields the port."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)

    def note_sni(_sock: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        seen.append(server_name)

    context.sni_callback = note_sni  # type: ignore[assignment]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await read_request(reader) is not None:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_https_is_verified_sent_with_sni_and_kept_alive(ca: trustme.CA) -> None:
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    seen: list[str | None] = []
    async with (
        tls_receiver(ca, "localhost", seen) as port,
        HttpClient(ssl_context=trusting) as client,
    ):
        for _ in range(3):
            assert await post(client, f"https://localhost:{port}/hook", b"{}", {}, 5) == 200
    assert seen == ["localhost"]  # one connection, and the URL's host name as SNI


async def test_a_certificate_not_signed_by_a_trusted_ca_is_a_transient_failure(
    ca: trustme.CA,
) -> None:
    async with tls_receiver(ca, "localhost", []) as port, HttpClient() as client:
        with pytest.raises(DeliveryError) as caught:
            await post(client, f"https://localhost:{port}/hook/secret-token", b"{}", {}, 5)
    message = str(caught.value)
    assert message.startswith(f"TLS with localhost:{port} failed: certificate not trusted")
    assert "secret-token" not in message
    assert not caught.value.permanent


async def test_a_certificate_for_another_name_is_refused(ca: trustme.CA) -> None:
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with (
        tls_receiver(ca, "hooks.example.org", []) as port,
        HttpClient(ssl_context=trusting) as client,
    ):
        with pytest.raises(DeliveryError, match="certificate not trusted"):
            await post(client, f"https://localhost:{port}/hook", b"{}", {}, 5)
