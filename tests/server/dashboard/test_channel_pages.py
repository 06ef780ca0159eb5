"""The channel pages over HTTP (SQLite and PostgreSQL): the list with masked targets and
each channel's newest delivery, adding a channel through the form (validated by
``channel_spec``), a test alert answered by a real local receiver, the delivery log with
its pages and poll, deleting, roles and CSRF; no credential ever appears in a page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from aiohttp import web
from sqlalchemy import insert

from tests.conftest import free_port
from tests.server.dashboard.conftest import add_user, client_for, csrf_token, log_in
from tests.server.live import LiveServer, webhook_receiver
from tocsin.server.domain.spec import channel_spec
from tocsin.server.storage.channels import create_channel, get_channel
from tocsin.server.storage.deliveries import Attempt, AttemptOutcome, record_attempts
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.rows import ChannelRecord
from tocsin.server.storage.tables import notifications
from tocsin.server.storage.users import Role

# Credentials the channels below hold: none may ever be in a page's HTML.
URL_TOKEN = "T0KEN-in-the-path-4a7f"
QUERY_TOKEN = "qtok-93be1c"
SECRET = "signing-secret-0123456789"
HEADER_VALUE = "Bearer header-cred-5d21"
SLACK_TOKEN = "XXslackTOKENxx77"
APPRISE_TOKEN = "appr1se-t0ken-3c"
CREDENTIALS = (URL_TOKEN, QUERY_TOKEN, SECRET, HEADER_VALUE, SLACK_TOKEN, APPRISE_TOKEN)
HOOK_URL = f"http://127.0.0.1:9/hooks/{URL_TOKEN}?token={QUERY_TOKEN}"


def assert_no_credentials(*pages: httpx.Response) -> None:
    """None of ``CREDENTIALS`` is in any of ``pages``."""
    for page in pages:
        for credential in CREDENTIALS:
            assert credential not in page.text, (page.url, credential)


@asynccontextmanager
async def logged_in(
    server: LiveServer, role: Role = Role.ADMIN
) -> AsyncIterator[httpx.AsyncClient]:
    """A client logged in as a new user with ``role``."""
    name = "ada" if role is Role.ADMIN else "rob"
    await add_user(server, name, role)
    async with client_for(server, timeout=30) as client:
        assert (await log_in(client, name)).status_code == 303
        yield client


async def add_channel(server: LiveServer, **fields: object) -> ChannelRecord:
    """Create a channel in storage, as ``tocsin apply`` does."""
    async with server.database.write() as conn:
        project = await default_project(conn)
        return await create_channel(conn, project.id, channel_spec(fields), datetime.now(UTC))


async def find(server: LiveServer, name: str) -> ChannelRecord:
    """The channel named ``name`` as stored."""
    async with server.database.read() as conn:
        project = await default_project(conn)
        return await get_channel(conn, project.id, name)


async def add_attempts(
    server: LiveServer, channel: ChannelRecord, outcomes: list[tuple[AttemptOutcome, int, str]]
) -> None:
    """One alert of a new monitor ``job`` to ``channel``, tried once per ``outcomes``
    entry (outcome, HTTP status, error), oldest first, as the delivery worker records."""
    server_monitor = await server.create_monitor(name=f"job-{channel.name}")
    now = datetime.now(UTC)
    async with server.database.write() as conn:
        note = await conn.execute(
            insert(notifications)
            .values(
                monitor_id=server_monitor.id,
                channel_id=channel.id,
                kind="down",
                idempotency_key=f"key-{channel.uuid}",
                payload={},
                status="pending",
                attempts=len(outcomes),
                next_attempt_at=now,
                created_at=now,
            )
            .returning(notifications.c.id)
        )
        note_id = note.scalar_one()
    attempts = [
        Attempt(note_id, channel.id, n, now - timedelta(minutes=len(outcomes) - n), 40 + n,
                outcome, status, error or None, None)
        for n, (outcome, status, error) in enumerate(outcomes, 1)
    ]  # fmt: skip
    for attempt in attempts:  # one batch each, in order, so ids follow the attempts
        await server.database.run_write(record_attempts, [attempt], now)


async def add_credential_channels(server: LiveServer) -> ChannelRecord:
    """A webhook holding every kind of credential, plus slack, apprise and email ones."""
    hook = await add_channel(
        server,
        name="ops-hook",
        kind="webhook",
        url=HOOK_URL,
        secret=SECRET,
        headers={"Authorization": HEADER_VALUE},
    )
    await add_channel(
        server,
        name="slack",
        kind="slack",
        url=f"https://hooks.slack.com/services/T000/B000/{SLACK_TOKEN}",
    )
    await add_channel(server, name="phone", kind="apprise", url=f"json://localhost/{APPRISE_TOKEN}")
    await add_channel(server, name="mail", kind="email", to=["ops@example.com"])
    return hook


async def test_read_only_users_see_masked_channels_and_no_actions(server: LiveServer) -> None:
    hook = await add_credential_channels(server)
    await add_attempts(
        server,
        hook,
        [
            (AttemptOutcome.DELIVERED, 200, ""),
            (AttemptOutcome.FAILED, 401, f"HTTP 401 from {HOOK_URL}: signature {SECRET} refused"),
        ],
    )
    async with logged_in(server, Role.READ_ONLY) as client:
        listing = await client.get("/ui/channels")
        detail = await client.get(f"/ui/channels/{hook.uuid}")
        log = await client.get(f"/ui/channels/{hook.uuid}/log")
        token = csrf_token(listing)
        refused = [
            await client.get("/ui/channels/new"),
            await client.get(f"/ui/channels/{hook.uuid}/delete"),
            await client.post("/ui/channels/new", data={"csrf_token": token, "name": "x"}),
            await client.post(f"/ui/channels/{hook.uuid}/test", data={"csrf_token": token}),
            await client.post(f"/ui/channels/{hook.uuid}/delete", data={"csrf_token": token}),
        ]
    assert listing.status_code == detail.status_code == log.status_code == 200
    html = listing.text
    for name in ("ops-hook", "slack", "phone", "mail"):
        assert f">{name}</a>" in html
    assert "http://127.0.0.1:9/********" in html
    assert "https://hooks.slack.com/********" in html
    assert "json://********" in html
    assert "ops@example.com" in html
    # The newest attempt failed: the list says so, with its error masked.
    assert 'class="state outcome-failed">failed<' in html
    assert "Failing: HTTP 401 from http://127.0.0.1:9/********: signature ******** refused" in html
    assert "New channel" not in html and 'href="/ui/channels/new"' not in html
    assert "Send a test alert" not in detail.text and "Delete" not in detail.text
    assert "Authorization <span" in detail.text and "(values hidden)" in detail.text
    assert "yes (secret set)" in detail.text
    assert [page.status_code for page in refused] == [403] * 5
    assert all("Admins only" in page.text for page in refused)
    assert (await find(server, "ops-hook")).uuid == hook.uuid  # not deleted
    assert_no_credentials(listing, detail, log, *refused)


async def test_an_admin_adds_channels_with_errors_next_to_their_fields(
    server: LiveServer,
) -> None:
    await add_channel(server, name="taken", kind="email", to=["a@example.com"])
    async with logged_in(server) as client:
        form = await client.get("/ui/channels/new")
        token = csrf_token(form)
        bad_hook = await client.post(
            "/ui/channels/new",
            data={
                "csrf_token": token,
                "name": "ops",
                "kind": "webhook",
                "url": f"ftp://example.com/{URL_TOKEN}",
                "secret": "short",
                "headers": f"no colon here {HEADER_VALUE}",
                "timeout": "2m",
                "to": "ignored for webhooks",
            },
        )
        bad_mail = await client.post(
            "/ui/channels/new",
            data={"csrf_token": token, "name": "", "kind": "email", "to": "ops@, b@example.com"},
        )
        taken = await client.post(
            "/ui/channels/new",
            data={"csrf_token": token, "name": "taken", "kind": "email", "to": "c@example.com"},
        )
        bad_kind = await client.post(
            "/ui/channels/new", data={"csrf_token": token, "name": "x", "kind": "pager"}
        )
        created = await client.post(
            "/ui/channels/new",
            data={
                "csrf_token": token,
                "name": "ops",
                "kind": "webhook",
                "url": HOOK_URL,
                "secret": SECRET,
                "headers": f"Authorization: {HEADER_VALUE}\n\nX-Team: sre",
                "timeout": "5s",
            },
        )
        shown = await client.get(created.headers["location"])
        mail = await client.post(
            "/ui/channels/new",
            data={"csrf_token": token, "name": "pager", "kind": "email", "to": "a@x.io\nb@x.io"},
        )
    assert form.status_code == 200
    for kind in ("webhook", "email", "slack", "discord", "apprise"):
        assert f'<option value="{kind}"' in form.text
    assert bad_hook.status_code == 422
    errors = dict(re.findall(r'<p class="error" id="e-(\w+)">([^<]*)</p>', bad_hook.text))
    assert errors == {
        "url": "must be an http:// or https:// URL",
        "secret": "must be at least 16 characters (try: openssl rand -hex 32)",
        "headers": "line 1: write one header a line as &#39;Name: value&#39;",
        "timeout": "must be at most 60 seconds",
    }
    assert 'value="ops"' in bad_hook.text  # what was typed is kept, but no credential
    assert "never sent back to your browser" in bad_hook.text
    assert bad_mail.status_code == 422
    errors = dict(re.findall(r'<p class="error" id="e-(\w+)">([^<]*)</p>', bad_mail.text))
    assert errors == {"name": "must not be empty", "to": "not an email address: &#39;ops@&#39;"}
    assert 'value="ops@, b@example.com"' in bad_mail.text
    assert taken.status_code == 409
    assert "a channel named &#39;taken&#39; already exists" in taken.text
    assert bad_kind.status_code == 422
    assert "unknown kind &#39;pager&#39;; supported: webhook, email, slack, discord, apprise" in (
        bad_kind.text
    )
    assert created.status_code == 303
    stored = await find(server, "ops")
    assert created.headers["location"] == f"/ui/channels/{stored.uuid}"
    assert stored.settings == {
        "url": HOOK_URL,
        "secret": SECRET,
        "headers": {"Authorization": HEADER_VALUE, "X-Team": "sre"},
        "timeout": 5.0,
    }
    assert shown.status_code == 200 and "<h1>ops</h1>" in shown.text
    assert "Authorization, X-Team" in shown.text and "5 s" in shown.text
    assert mail.status_code == 303
    assert (await find(server, "pager")).settings == {"to": ["a@x.io", "b@x.io"]}
    assert_no_credentials(form, bad_hook, bad_mail, taken, shown)


async def test_send_test_shows_the_local_receivers_answer(server: LiveServer) -> None:
    async with webhook_receiver() as receiver:
        hook = await add_channel(server, name="hook", kind="webhook", url=receiver.url)
        async with logged_in(server) as client:
            page = await client.get(f"/ui/channels/{hook.uuid}")
            token = csrf_token(page)
            assert "Send a test alert" in page.text
            answered = await client.post(
                f"/ui/channels/{hook.uuid}/test", data={"csrf_token": token}
            )
            receiver.statuses.append(503)
            in_place = await client.post(
                f"/ui/channels/{hook.uuid}/test",
                headers={"HX-Request": "true", "X-CSRF-Token": token},
            )
            no_token = await client.post(f"/ui/channels/{hook.uuid}/test")
        received = await receiver.wait_for(2)
    assert [r.body["event"] for r in received] == ["test", "test"]
    assert received[0].body["channel"]["name"] == "hook"
    # Without script, the whole page comes back with the answer above the log.
    assert answered.status_code == 200 and "<html" in answered.text
    assert "Test alert delivered" in answered.text and "HTTP 200" in answered.text
    assert re.search(r"in \d+ ms", answered.text)
    # htmx gets the answer alone, to put in place.
    assert in_place.status_code == 200 and "<html" not in in_place.text
    assert "Test alert failed" in in_place.text and "HTTP 503" in in_place.text
    assert "HTTP 503: nope" in in_place.text
    assert "Transient: real alerts to it would be retried." in in_place.text
    assert no_token.status_code == 403 and "Form expired" in no_token.text
    assert len(received) == 2  # the refused post sent nothing


@dataclass
class EchoingReceiver:
    """A receiver that refuses every alert, quoting the URL it was called at."""

    url: str
    calls: list[str] = field(default_factory=list)


@asynccontextmanager
async def echoing_receiver() -> AsyncIterator[EchoingReceiver]:
    """Answers 401 with the request's full URL, as some receivers' errors do."""
    port = free_port()
    receiver = EchoingReceiver(f"http://127.0.0.1:{port}")

    async def refuse(request: web.Request) -> web.Response:
        receiver.calls.append(str(request.url))
        return web.Response(status=401, text=f"bad token for {request.url}")

    app = web.Application()
    app.router.add_post("/{tail:.*}", refuse)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield receiver
    finally:
        await runner.cleanup()


async def test_a_test_answer_quoting_the_url_is_masked(server: LiveServer) -> None:
    async with echoing_receiver() as receiver:
        url = f"{receiver.url}/hooks/{URL_TOKEN}?token={QUERY_TOKEN}"
        hook = await add_channel(server, name="hook", kind="webhook", url=url, secret=SECRET)
        async with logged_in(server) as client:
            token = csrf_token(await client.get(f"/ui/channels/{hook.uuid}"))
            answered = await client.post(
                f"/ui/channels/{hook.uuid}/test", data={"csrf_token": token}
            )
    assert receiver.calls == [url]  # the receiver did get the whole URL
    assert answered.status_code == 200
    assert "Test alert failed" in answered.text and "HTTP 401" in answered.text
    assert f"HTTP 401: bad token for {receiver.url}/********" in answered.text
    assert "Permanent: real alerts to it would not be retried." in answered.text
    assert_no_credentials(answered)


async def test_the_delivery_log_pages_and_polls(server: LiveServer) -> None:
    hook = await add_channel(server, name="hook", kind="webhook", url=HOOK_URL, secret=SECRET)
    other = await add_channel(server, name="other", kind="email", to=["a@example.com"])
    await add_attempts(
        server,
        hook,
        [(AttemptOutcome.RETRY, 503, f"HTTP 503 from {HOOK_URL}")]
        + [(AttemptOutcome.DELIVERED, 200, "")] * 54,
    )
    await add_attempts(server, other, [(AttemptOutcome.DELIVERED, 250, "")])
    async with logged_in(server, Role.READ_ONLY) as client:
        first = await client.get(f"/ui/channels/{hook.uuid}")
        older = re.search(r'href="(/ui/channels/[^"]+\?before=\d+)" rel="next"', first.text)
        assert older, first.text
        second = await client.get(older.group(1))
        poll = await client.get(f"/ui/channels/{hook.uuid}/log?" + older.group(1).split("?")[1])
        mail = await client.get(f"/ui/channels/{other.uuid}")
        listing = await client.get("/ui/channels")
        bad = await client.get(f"/ui/channels/{hook.uuid}?before=x")
        missing = await client.get("/ui/channels/00000000-0000-4000-8000-000000000000")
        by_name = await client.get("/ui/channels/hook")
    assert first.status_code == 200
    assert first.text.count('class="state outcome-delivered"') == 50
    assert f'hx-get="/ui/channels/{hook.uuid}/log"' in first.text
    assert 'hx-trigger="every 5s"' in first.text
    assert ">job-hook</a>" in first.text and "HTTP 200" in first.text and "ms</td>" in first.text
    assert second.text.count('class="state outcome-delivered"') == 4
    assert second.text.count('class="state outcome-retry"') == 1
    assert "HTTP 503 from http://127.0.0.1:9/********" in second.text
    assert "(attempt 55)" in first.text and "(attempt 2)" in second.text
    assert 'rel="next"' not in second.text and "Newest" in second.text
    assert poll.status_code == 200 and "<html" not in poll.text
    assert poll.text.count("<tr>") == second.text.count("<tr>")
    assert "SMTP 250" in mail.text and "job-hook" not in mail.text
    # The list shows each channel's newest attempt: hook's first one (a retry) is long past.
    assert listing.text.count('class="state outcome-delivered"') == 2
    assert "outcome-retry" not in listing.text and "Failing" not in listing.text
    assert (bad.status_code, missing.status_code, by_name.status_code) == (400, 404, 404)
    assert_no_credentials(first, second, poll)


async def test_an_admin_deletes_a_channel_after_confirming(server: LiveServer) -> None:
    hook = await add_channel(server, name="hook", kind="webhook", url=HOOK_URL)
    async with logged_in(server) as client:
        ask = await client.get(f"/ui/channels/{hook.uuid}/delete")
        no_token = await client.post(f"/ui/channels/{hook.uuid}/delete")
        done = await client.post(
            f"/ui/channels/{hook.uuid}/delete", data={"csrf_token": csrf_token(ask)}
        )
        listing = await client.get("/ui/channels")
        gone = await client.get(f"/ui/channels/{hook.uuid}")
    assert ask.status_code == 200 and "Delete hook?" in ask.text
    assert no_token.status_code == 403
    assert done.status_code == 303 and done.headers["location"] == "/ui/channels"
    assert "No channels yet." in listing.text and gone.status_code == 404
    assert_no_credentials(ask, listing)


async def test_the_channel_list_pages_by_name(server: LiveServer) -> None:
    for n in range(51):
        await add_channel(server, name=f"c{n:02}", kind="email", to=["a@example.com"])
    async with logged_in(server, Role.READ_ONLY) as client:
        first = await client.get("/ui/channels")
        second = await client.get("/ui/channels?after=c49")
        nav = await client.get("/")
    assert first.text.count('href="/ui/channels/') == 50
    assert 'href="/ui/channels?after=c49" rel="next"' in first.text
    assert ">c50</a>" in second.text and ">c49</a>" not in second.text
    assert "none yet" in first.text
    assert '<a href="/ui/channels">Channels</a>' in nav.text
    assert 'href="/ui/api-keys"' not in nav.text  # read-only users have no API keys link
