"""The alert channels' HTTP client against raw local receivers: answer framing (length,
chunked, until close, interim 1xx), keep-alive and its failures, timeouts, garbage."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import uvloop

from tests.conftest import free_port
from tests.server.alerts.raw_receivers import (
    OK,
    Link,
    RawRequest,
    answer_raw,
    raw_receiver,
)
from tocsin.errors import DeliveryError
from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.channels.posting import post

BODY = b'{"event":"down"}'


async def _post(client: HttpClient, url: str, timeout: float | None = None) -> int:
    return await post(client, url, BODY, {"Idempotency-Key": "key-1"}, timeout)


async def test_the_request_carries_its_headers_path_query_and_body() -> None:
    async with raw_receiver(answer_raw(OK)) as hook, HttpClient() as client:
        url = f"http://127.0.0.1:{hook.port}/hooks/é x?team=ops&q=a b"
        headers = {"Idempotency-Key": "key-1", "X-Team": "ops", "content-type": "text/json"}
        assert await post(client, url, BODY, headers, None) == 200
    [request] = hook.requests
    assert request.line == "POST /hooks/%C3%A9%20x?team=ops&q=a%20b HTTP/1.1"
    assert request.headers["host"] == f"127.0.0.1:{hook.port}"
    assert request.headers["user-agent"].startswith("tocsin/")
    assert request.headers["content-type"] == "text/json"  # the channel's header wins
    assert request.headers["idempotency-key"] == "key-1"
    assert request.headers["x-team"] == "ops"
    assert request.body == BODY


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 503 Busy\r\nContent-Length: 9\r\n\r\nbusy now!",
        b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nbusy\r\n5\r\n now!\r\n0\r\n\r\n",
    ],
    ids=["content-length", "chunked"],
)
async def test_an_error_body_is_read_by_length_or_chunks_and_the_connection_kept(
    answer: bytes,
) -> None:
    async with raw_receiver(answer_raw(answer)) as hook, HttpClient() as client:
        for _ in range(3):
            with pytest.raises(DeliveryError) as caught:
                await _post(client, hook.url)
            assert str(caught.value) == "HTTP 503: busy now!"
            assert (caught.value.permanent, caught.value.http_status) == (False, 503)
    assert len(hook.links) == 1


async def test_a_body_that_ends_with_the_connection_is_read_until_close() -> None:
    async def until_close(_link: Link, _request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 500 Oops\r\nContent-Type: text/plain\r\n\r\nit broke")
        return False

    async with raw_receiver(until_close) as hook, HttpClient() as client:
        with pytest.raises(DeliveryError, match=r"^HTTP 500: it broke$"):
            await _post(client, hook.url)
        with pytest.raises(DeliveryError, match=r"^HTTP 500: it broke$"):
            await _post(client, hook.url)
    assert len(hook.links) == 2


async def test_kept_alive_connections_are_reused_in_turn_and_in_parallel() -> None:
    chunked_ok = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    async with raw_receiver(answer_raw(chunked_ok)) as hook, HttpClient() as client:
        for _ in range(5):
            assert await _post(client, hook.url) == 200
        assert len(hook.links) == 1
        statuses = await asyncio.gather(*(_post(client, hook.url) for _ in range(10)))
        assert statuses == [200] * 10
        opened = len(hook.links)
        assert opened <= 10
        await asyncio.gather(*(_post(client, hook.url) for _ in range(opened)))
        assert len(hook.links) == opened
    assert len(hook.requests) == 5 + 10 + opened


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["connection-close", "http-1.0"],
)
async def test_an_answer_that_ends_keep_alive_is_honoured(answer: bytes) -> None:
    async def then_close(_link: Link, _request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer)
        await asyncio.sleep(0.5)  # the client must not wait for the close: it knows
        return False

    async with raw_receiver(then_close) as hook, HttpClient() as client:
        assert await asyncio.wait_for(_post(client, hook.url), 0.4) == 200
        assert await asyncio.wait_for(_post(client, hook.url), 0.4) == 200
    assert [len(link.requests) for link in hook.links] == [1, 1]


async def test_a_connection_the_receiver_closed_while_idle_is_not_used() -> None:
    async def once(_link: Link, _request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(OK)  # keep-alive by HTTP/1.1's default, then closed at once
        return False

    async with raw_receiver(once) as hook, HttpClient() as client:
        assert await _post(client, hook.url) == 200
        await asyncio.sleep(0.1)  # the close reaches the client while it is idle
        assert await _post(client, hook.url) == 200
    assert [len(link.requests) for link in hook.links] == [1, 1]


async def test_a_request_lost_on_a_reused_connection_is_sent_once_more_on_a_new_one() -> None:
    # The receiver closes a kept-alive connection just as the next request arrives.
    async def closes_second(link: Link, _request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        if len(link.requests) == 2:
            return False
        writer.write(OK)
        return True

    async with raw_receiver(closes_second) as hook, HttpClient() as client:
        assert await _post(client, hook.url) == 200
        assert await _post(client, hook.url) == 200
    assert [len(link.requests) for link in hook.links] == [2, 1]
    assert {request.headers["idempotency-key"] for request in hook.requests} == {"key-1"}


async def test_a_new_connection_closed_without_an_answer_is_not_retried() -> None:
    async def hang_up(_link: Link, _request: RawRequest, _writer: asyncio.StreamWriter) -> bool:
        return False

    async with raw_receiver(hang_up) as hook, HttpClient() as client:
        with pytest.raises(DeliveryError) as caught:
            await _post(client, hook.url)
    assert str(caught.value) == "the receiver closed the connection before answering"
    assert not caught.value.permanent
    assert len(hook.links) == 1


async def test_a_reused_connection_cut_mid_answer_is_not_retried() -> None:
    async def cuts_second(link: Link, _request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        if len(link.requests) == 2:
            writer.write(b"HTTP/1.1 200 O")
            return False
        writer.write(OK)
        return True

    async with raw_receiver(cuts_second) as hook, HttpClient() as client:
        assert await _post(client, hook.url) == 200
        with pytest.raises(
            DeliveryError, match="closed the connection in the middle of its answer"
        ):
            await _post(client, hook.url)
    assert len(hook.links) == 1


async def test_interim_answers_are_skipped() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" + OK
    async with raw_receiver(answer_raw(interim)) as hook, HttpClient() as client:
        assert await _post(client, hook.url) == 200
        assert await _post(client, hook.url) == 200
    assert len(hook.links) == 1


@pytest.mark.parametrize(
    "answer",
    [b"SSH-2.0-OpenSSH_9.6\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"],
    ids=["not-http", "bad-length"],
)
async def test_a_garbage_answer_is_a_transient_failure(answer: bytes) -> None:
    async with raw_receiver(answer_raw(answer)) as hook, HttpClient() as client:
        with pytest.raises(DeliveryError, match=r"^malformed HTTP answer") as caught:
            await _post(client, hook.url)
    assert not caught.value.permanent


async def test_a_huge_ok_body_is_not_read_and_its_connection_is_closed() -> None:
    async def huge(link: Link, _request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 1_000_000)
        await link.client_closed.wait()
        return False

    async with raw_receiver(huge) as hook, HttpClient() as client:
        assert await asyncio.wait_for(_post(client, hook.url), 2) == 200
        assert await _post(client, hook.url) == 200
    assert len(hook.links) == 2


async def test_a_receiver_that_never_answers_times_out_and_its_connection_is_closed() -> None:
    async def silent(_link: Link, _request: RawRequest, _writer: asyncio.StreamWriter) -> bool:
        return True  # and never a byte

    async with raw_receiver(silent) as hook, HttpClient() as client:
        with pytest.raises(DeliveryError) as caught:
            await _post(client, hook.url, timeout=0.3)
        assert str(caught.value) == "timed out after 0.3 s"
        assert not caught.value.permanent
        await asyncio.wait_for(hook.links[0].client_closed.wait(), 2)


async def test_a_cancelled_send_closes_its_connection() -> None:
    release = asyncio.Event()

    async def held(link: Link, _request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        if link.number == 1:
            await release.wait()
        writer.write(OK)
        return True

    async with raw_receiver(held) as hook, HttpClient() as client:
        sending = asyncio.create_task(_post(client, hook.url))
        while not hook.requests:
            await asyncio.sleep(0.01)
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        release.set()
        assert await _post(client, hook.url) == 200
    assert len(hook.links) == 2


async def test_a_refused_port_is_a_transient_failure_naming_host_and_port() -> None:
    port = free_port()
    async with HttpClient() as client:
        with pytest.raises(DeliveryError) as caught:
            await _post(client, f"http://127.0.0.1:{port}/services/secret-token")
    assert str(caught.value).startswith(f"cannot connect to 127.0.0.1:{port}: ")
    assert "secret-token" not in str(caught.value)
    assert not caught.value.permanent


async def test_an_unknown_host_is_a_transient_failure_naming_it() -> None:
    async with HttpClient() as client:
        with pytest.raises(DeliveryError) as caught:
            await _post(client, "http://tocsin-test.invalid/hook/secret-token", timeout=5)
    assert str(caught.value).startswith("cannot resolve host tocsin-test.invalid: ")
    assert "secret-token" not in str(caught.value)
    assert not caught.value.permanent


async def test_ipv6_literal_hosts_work() -> None:
    server = await asyncio.start_server(_answer_once, "::1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with HttpClient() as client:
            assert await _post(client, f"http://[::1]:{port}/hook") == 204
    finally:
        server.close()
        await server.wait_closed()


async def _answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    assert f"Host: [::1]:{writer.get_extra_info('sockname')[1]}".encode() in head
    writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
    await writer.drain()
    writer.close()


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        (
            {"X-Evil": "a\r\nX-Injected: 1"},
            "the channel's header X-Evil has a line break in its value",
        ),
        ({"Bad Name": "v"}, "a header name of the channel is not valid in HTTP"),
    ],
)
async def test_a_header_that_cannot_be_sent_fails_for_good(
    headers: dict[str, str], error: str
) -> None:
    async with raw_receiver(answer_raw(OK)) as hook, HttpClient() as client:
        with pytest.raises(DeliveryError) as caught:
            await post(client, hook.url, BODY, headers, None)
    assert (str(caught.value), caught.value.permanent) == (error, True)
    assert hook.links == []


async def test_closing_the_client_closes_its_idle_connections() -> None:
    async with raw_receiver(answer_raw(OK)) as hook:
        client = HttpClient()
        assert await _post(client, hook.url) == 200
        await client.close()
        await asyncio.wait_for(hook.links[0].client_closed.wait(), 2)


async def test_idle_connections_are_closed_after_the_idle_time() -> None:
    async with raw_receiver(answer_raw(OK)) as hook, HttpClient(idle_seconds=0.2) as client:
        assert await _post(client, hook.url) == 200
        await asyncio.wait_for(hook.links[0].client_closed.wait(), 2)
        assert await _post(client, hook.url) == 200
    assert len(hook.links) == 2


def test_the_server_s_event_loop_uvloop_reuses_detects_closes_and_retries() -> None:
    # The server runs uvloop (uvicorn's loop="auto"), whose transports differ in detail.
    async def scenario() -> None:
        async def closes_third(
            link: Link, _request: RawRequest, writer: asyncio.StreamWriter
        ) -> bool:
            if len(link.requests) == 3:
                return False
            writer.write(
                b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"
                if len(link.requests) == 2
                else OK
            )
            return True

        async with raw_receiver(closes_third) as hook, HttpClient() as client:
            assert await _post(client, hook.url) == 200
            with pytest.raises(DeliveryError, match=r"^HTTP 503: busy$"):
                await _post(client, hook.url)
            assert await _post(client, hook.url) == 200
        assert [len(link.requests) for link in hook.links] == [3, 1]

    uvloop.run(scenario())


async def test_answer_headers_are_read_whatever_their_case() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    answers = iter(
        [
            b"HTTP/1.1 301 Moved\r\nLOCATION: https://new.example/hook\r\n"
            b"Content-Length: 0\r\n\r\n",
            f"HTTP/1.1 503 Busy\r\nretry-after: {when}\r\nContent-Length: 0\r\n\r\n".encode(),
        ]
    )

    async def in_turn(_link: Link, _request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(next(answers))
        return True

    async with raw_receiver(in_turn) as hook, HttpClient() as client:
        with pytest.raises(DeliveryError) as moved:
            await _post(client, hook.url)
        with pytest.raises(DeliveryError) as busy:
            await _post(client, hook.url)
    assert str(moved.value).startswith("HTTP 301 redirect to https://new.example/hook:")
    assert moved.value.permanent
    assert busy.value.retry_after is not None and 100 < busy.value.retry_after <= 120
    assert not busy.value.permanent
