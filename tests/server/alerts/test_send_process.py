"""The alert sender child process: answers cross the pipe intact, a dead child fails only
the sends it held (as retryable) and the next send starts a new one, and close stops it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.server.alerts.receivers import Receiver, answering, held_until, receiver
from tocsin.errors import DeliveryError
from tocsin.server.alerts.send_process import PROCESS_KINDS, SendProcess, process_senders

PAYLOAD = {"monitor": {"name": "nightly-backup"}, "flip": {"old": "up", "new": "down"}}


@pytest.fixture
async def sender() -> AsyncIterator[SendProcess]:
    process = SendProcess()
    try:
        yield process
    finally:
        await process.close()


async def test_no_child_runs_before_the_first_send(sender: SendProcess) -> None:
    assert sender.pid is None


async def test_start_runs_the_child_before_any_alert(sender: SendProcess) -> None:
    sender.start()
    async with asyncio.timeout(10):
        while sender.pid is None:
            await asyncio.sleep(0.01)
    started = sender.pid
    async with receiver() as hook:
        assert await sender.send("webhook", {"url": hook.url}, PAYLOAD, "key-0") == 200
    assert sender.pid == started  # the send used the child already running


async def test_a_webhook_sent_through_the_child_arrives_whole(sender: SendProcess) -> None:
    async with receiver() as hook:
        status = await sender.send("webhook", {"url": hook.url}, PAYLOAD, "key-1")
    assert status == 200
    [request] = hook.requests
    assert request.headers["Idempotency-Key"] == "key-1"
    assert json.loads(request.body)["monitor"] == {"name": "nightly-backup"}
    assert sender.pid is not None


async def test_a_refusal_stays_permanent_across_the_pipe(sender: SendProcess) -> None:
    async with receiver(answering(401)) as hook:
        with pytest.raises(DeliveryError) as caught:
            await sender.send("webhook", {"url": hook.url}, PAYLOAD, "key-2")
    assert caught.value.permanent
    assert caught.value.http_status == 401
    assert "401" in str(caught.value)


async def test_retry_after_crosses_the_pipe(sender: SendProcess) -> None:
    async def busy(_receiver: Receiver, _request: web.Request) -> web.StreamResponse:
        return web.Response(status=503, headers={"Retry-After": "120"})

    async with receiver(busy) as hook:
        with pytest.raises(DeliveryError) as caught:
            await sender.send("slack", {"url": hook.url}, PAYLOAD, "key-3")
    assert not caught.value.permanent
    assert caught.value.http_status == 503
    assert caught.value.retry_after == 120


async def test_sends_run_side_by_side_in_the_child(sender: SendProcess) -> None:
    release = asyncio.Event()
    async with receiver(held_until(release)) as slow, receiver() as fast:
        held = asyncio.create_task(sender.send("webhook", {"url": slow.url}, PAYLOAD, "slow"))
        await slow.wait_for(1)
        assert await sender.send("discord", {"url": fast.url}, PAYLOAD, "fast") in (200, 204)
        assert not held.done()  # the slow receiver holds only its own send
        release.set()
        assert await held == 200


async def test_a_killed_child_fails_its_sends_as_retryable_and_a_new_one_takes_over(
    sender: SendProcess,
) -> None:
    release = asyncio.Event()
    async with receiver(held_until(release)) as hung, receiver() as hook:
        held = asyncio.create_task(sender.send("webhook", {"url": hung.url}, PAYLOAD, "held"))
        await hung.wait_for(1)
        first = sender.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        with pytest.raises(DeliveryError) as caught:
            await asyncio.wait_for(held, 5)
        assert not caught.value.permanent
        assert "exited" in str(caught.value)
        release.set()
        assert await sender.send("webhook", {"url": hook.url}, PAYLOAD, "after") == 200
    assert sender.pid not in (None, first)


async def test_close_stops_the_child(sender: SendProcess) -> None:
    async with receiver() as hook:
        await sender.send("webhook", {"url": hook.url}, PAYLOAD, "key-4")
    pid = sender.pid
    assert pid is not None
    await sender.close()
    assert sender.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: gone


def test_only_the_http_kinds_go_to_the_child() -> None:
    channels = process_senders(SendProcess())
    assert {kind for kind, channel in channels.items() if hasattr(channel, "process")} == set(
        PROCESS_KINDS
    )
    assert {"email", "apprise"} <= set(channels)
