"""``POST /channels/{key}/test`` on both databases, against real local receivers: a local
webhook receiver, a Slack stand-in and a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
from aiohttp import web

from tests.conftest import free_port
from tests.server.alerts.receivers import Receiver, receiver
from tests.server.alerts.test_channel_email import Recorder, smtp_server
from tocsin.server.web.state import ServerState
from tocsin.settings import SmtpSecurity, SmtpSettings

API = "/api/v1"
SECRET = "s" * 32


async def _channel(client: httpx.AsyncClient, **fields: object) -> None:
    created = await client.post(f"{API}/channels", json={"name": "ops", **fields})
    assert created.status_code == 201, created.text


async def refuse_401(_receiver: Receiver, _request: web.Request) -> web.StreamResponse:
    return web.Response(status=401, text="bad signature")


async def test_a_webhook_test_reaches_the_receiver_signed_and_says_so(
    client: httpx.AsyncClient,
) -> None:
    async with receiver() as hook:
        await _channel(client, kind="webhook", url=hook.url, secret=SECRET)
        answer = await client.post(f"{API}/channels/ops/test")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["channel"], body["channel_kind"], body["outcome"]) == (
        "ops",
        "webhook",
        "delivered",
    )
    assert (body["status"], body["error"], body["permanent"]) == (200, None, None)
    assert body["duration_ms"] >= 0
    [request] = hook.requests
    sent = json.loads(request.body)
    assert (sent["version"], sent["event"], sent["channel"]["name"]) == (1, "test", "ops")
    assert "test" in sent["summary"].lower()
    assert request.headers["X-Tocsin-Signature"].startswith("t=")
    assert request.headers["Idempotency-Key"] == sent["idempotency_key"]


async def test_a_refusal_is_the_answer_and_is_not_retried(client: httpx.AsyncClient) -> None:
    async with receiver(refuse_401) as hook:
        await _channel(client, kind="webhook", url=hook.url)
        answer = await client.post(f"{API}/channels/ops/test")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["outcome"], body["status"], body["permanent"]) == ("failed", 401, True)
        assert "401" in body["error"] and "bad signature" in body["error"]
        deliveries = await client.get(f"{API}/deliveries")
    assert len(hook.requests) == 1  # sent once, never queued for a retry
    # Tests are answered, not recorded (a delivery attempt belongs to a monitor's alert).
    assert deliveries.json() == {"deliveries": [], "next": None}


async def test_a_receiver_that_is_down_fails_as_transient(client: httpx.AsyncClient) -> None:
    await _channel(client, kind="webhook", url=f"http://127.0.0.1:{free_port()}/hook")
    body = (await client.post(f"{API}/channels/ops/test")).json()
    assert (body["outcome"], body["status"], body["permanent"]) == ("failed", None, False)
    assert body["error"]


async def test_a_slack_test_reads_as_a_test(client: httpx.AsyncClient) -> None:
    async with receiver() as slack:
        await _channel(client, kind="slack", url=slack.url)
        body = (await client.post(f"{API}/channels/ops/test")).json()
    assert body["outcome"] == "delivered", body
    message = json.loads(slack.requests[0].body)
    assert "Test alert from tocsin" in message["text"]
    assert "Nothing is down" in json.dumps(message["blocks"])


async def test_an_email_test_goes_through_the_servers_smtp(
    client: httpx.AsyncClient, server_state: ServerState
) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        smtp = SmtpSettings("127.0.0.1", port, SmtpSecurity.NONE, "tocsin@example.com")
        server_state.settings = replace(server_state.settings, smtp=smtp)
        await _channel(client, kind="email", to=["ops@example.com"])
        body = (await client.post(f"{API}/channels/ops/test")).json()
    assert (body["outcome"], body["status"]) == ("delivered", 250), body
    [(envelope, mail)] = recorder.messages
    assert envelope.rcpt_tos == ["ops@example.com"]
    assert mail["Subject"] == "[tocsin] Test alert from tocsin"


async def test_email_without_smtp_settings_fails_with_how_to_fix_it(
    client: httpx.AsyncClient,
) -> None:
    await _channel(client, kind="email", to=["ops@example.com"])
    body = (await client.post(f"{API}/channels/ops/test")).json()
    assert (body["outcome"], body["permanent"]) == ("failed", False)
    assert "TOCSIN_SMTP_URL" in body["error"]


async def test_unknown_channels_and_read_only_keys_are_refused(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    missing = await client.post(f"{API}/channels/nope/test")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no channel 'nope'"}
    await _channel(client, kind="webhook", url=f"http://127.0.0.1:{free_port()}/hook")
    refused = await reader.post(f"{API}/channels/ops/test")
    assert refused.status_code == 403
    assert "read-only" in refused.json()["error"]
