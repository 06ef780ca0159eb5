"""``GET /deliveries`` on both databases: attempts written by the delivery worker's own
storage call, listed newest first, filtered, paged and masked for read-only keys; each
channel in `/channels` shows its newest attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert

from tocsin.server.domain.spec import channel_spec, monitor_spec
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.deliveries import Attempt, AttemptOutcome, record_attempts
from tocsin.server.storage.monitors import create_monitor
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.tables import notifications

API = "/api/v1"
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
TOKEN_URL = "http://127.0.0.1:9/services/T0KEN-abc"
SECRET = "hook-secret-0123456789"


@dataclass(frozen=True)
class History:
    """The alerts written: ``job_down`` tried twice on ops, ``web_up`` once on ops,
    ``job_mail`` once on mail."""

    job_down: int
    web_up: int
    job_mail: int


async def _history(db: Database) -> History:
    async with db.write() as conn:
        project = await default_project(conn)
        ops = await create_channel(
            conn,
            project.id,
            channel_spec({"name": "ops", "kind": "webhook", "url": TOKEN_URL, "secret": SECRET}),
            NOW,
        )
        mail = await create_channel(
            conn, project.id, channel_spec({"name": "mail", "kind": "email", "to": ["a@b.io"]}), NOW
        )
        job = await create_monitor(conn, project.id, monitor_spec({"name": "job"}), NOW)
        web = await create_monitor(conn, project.id, monitor_spec({"name": "web"}), NOW)
        ids = []
        for n, (monitor, channel, kind) in enumerate(
            [(job, ops, "down"), (web, ops, "up"), (job, mail, "down")]
        ):
            result = await conn.execute(
                insert(notifications)
                .values(
                    monitor_id=monitor.id,
                    channel_id=channel.id,
                    kind=kind,
                    idempotency_key=f"key-{n}",
                    payload={},
                    status="pending",
                    attempts=1,
                    next_attempt_at=NOW,
                    created_at=NOW,
                )
                .returning(notifications.c.id)
            )
            ids.append(result.scalar_one())
    history = History(*ids)

    def attempt(
        note: int, channel: int, number: int, outcome: AttemptOutcome, **more: Any
    ) -> Attempt:
        fields: dict[str, Any] = {"http_status": 200, "error": None, "next_attempt_at": None}
        return Attempt(
            notification_id=note,
            channel_id=channel,
            attempt=number,
            started_at=NOW + timedelta(seconds=number),
            duration_ms=40 + number,
            outcome=outcome,
            **(fields | more),
        )

    await db.run_write(
        record_attempts,
        [
            attempt(
                history.job_down,
                ops.id,
                1,
                AttemptOutcome.RETRY,
                http_status=503,
                error=f"HTTP 503 from {TOKEN_URL}: busy",
                next_attempt_at=NOW + timedelta(seconds=5),
            )
        ],
        NOW,
    )
    await db.run_write(
        record_attempts,
        [
            attempt(history.job_down, ops.id, 2, AttemptOutcome.DELIVERED),
            attempt(
                history.web_up,
                ops.id,
                1,
                AttemptOutcome.FAILED,
                http_status=401,
                error=f"HTTP 401: signature {SECRET} refused",
            ),
            attempt(history.job_mail, mail.id, 1, AttemptOutcome.DELIVERED, http_status=250),
        ],
        NOW,
    )
    return history


def _rows(page: httpx.Response) -> list[tuple[Any, ...]]:
    assert page.status_code == 200, page.text
    return [
        (d["channel"], d["monitor"], d["kind"], d["attempt"], d["outcome"], d["status"])
        for d in page.json()["deliveries"]
    ]


async def test_attempts_are_listed_newest_first_with_what_they_were_about(
    client: httpx.AsyncClient, db: Database
) -> None:
    await _history(db)
    page = await client.get(f"{API}/deliveries")
    assert _rows(page) == [
        ("mail", "job", "down", 1, "delivered", 250),
        ("ops", "web", "up", 1, "failed", 401),
        ("ops", "job", "down", 2, "delivered", 200),
        ("ops", "job", "down", 1, "retry", 503),
    ]
    newest, *_, oldest = page.json()["deliveries"]
    assert newest["channel_kind"] == "email" and newest["duration_ms"] == 41
    assert oldest["error"] == f"HTTP 503 from {TOKEN_URL}: busy"  # a read-write key sees it all
    assert oldest["at"] == "2026-12-01T03:00:01+00:00"
    assert page.json()["next"] is None


async def test_filters_by_channel_monitor_and_notification(
    client: httpx.AsyncClient, db: Database
) -> None:
    history = await _history(db)
    channel_uuid = (await client.get(f"{API}/channels/mail")).json()["uuid"]
    by_channel = await client.get(f"{API}/deliveries", params={"channel": channel_uuid})
    assert _rows(by_channel) == [("mail", "job", "down", 1, "delivered", 250)]
    by_monitor = await client.get(f"{API}/deliveries", params={"monitor": "web"})
    assert _rows(by_monitor) == [("ops", "web", "up", 1, "failed", 401)]
    both = await client.get(f"{API}/deliveries", params={"channel": "ops", "monitor": "job"})
    assert [row[3] for row in _rows(both)] == [2, 1]
    one_alert = await client.get(f"{API}/deliveries", params={"notification": history.job_down})
    assert {d["notification_id"] for d in one_alert.json()["deliveries"]} == {history.job_down}
    assert len(one_alert.json()["deliveries"]) == 2


async def test_pages_follow_next_links(client: httpx.AsyncClient, db: Database) -> None:
    await _history(db)
    seen: list[tuple[Any, ...]] = []
    path: str | None = f"{API}/deliveries?limit=3"
    pages = 0
    while path is not None:
        page = await client.get(path)
        seen += _rows(page)
        path = page.json()["next"]
        if path is not None:
            assert page.headers["Link"] == f'<{path}>; rel="next"'
        pages += 1
    assert pages == 2
    assert seen == _rows(await client.get(f"{API}/deliveries"))


async def test_bad_parameters_and_unknown_names(client: httpx.AsyncClient, db: Database) -> None:
    await _history(db)
    past_64_bits = str(2**63)  # no stored id is that large (it was a 500 on SQLite)
    for params in (
        {"limit": "0"},
        {"limit": "1001"},
        {"notification": "x"},
        {"notification": past_64_bits},
    ):
        bad = await client.get(f"{API}/deliveries", params=params)
        assert bad.status_code == 422, params
        assert set(bad.json()) == {"error", "fields"}
        assert list(bad.json()["fields"]) == list(params)
    channels_cursor = (await client.get(f"{API}/channels?limit=1")).json()["next"].split("=")[-1]
    for cursor in ("garbage", channels_cursor):
        bad = await client.get(f"{API}/deliveries", params={"cursor": cursor})
        assert bad.status_code == 422
        assert "cursor" in bad.json()["fields"]
    for params, error in (
        ({"channel": "nope"}, "no channel 'nope'"),
        ({"monitor": "nope"}, "no monitor 'nope'"),
    ):
        missing = await client.get(f"{API}/deliveries", params=params)
        assert missing.status_code == 404
        assert missing.json() == {"error": error}


async def test_read_only_keys_see_error_texts_masked_like_channels(
    reader: httpx.AsyncClient, db: Database
) -> None:
    await _history(db)
    page = await reader.get(f"{API}/deliveries")
    errors = [d["error"] for d in page.json()["deliveries"]]
    assert errors == [
        None,
        "HTTP 401: signature ******** refused",
        None,
        "HTTP 503 from http://127.0.0.1:9/********: busy",
    ]


async def test_each_channel_shows_its_newest_attempt(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, db: Database
) -> None:
    await _history(db)
    refused = {
        "at": "2026-12-01T03:00:01+00:00",
        "outcome": "failed",
        "status": 401,
        "error": f"HTTP 401: signature {SECRET} refused",
    }
    delivered = {"at": "2026-12-01T03:00:01+00:00", "outcome": "delivered", "status": 250}
    ops = await client.get(f"{API}/channels/ops")
    assert ops.json()["last_attempt"] == refused
    listed = {
        c["name"]: c["last_attempt"]
        for c in (await client.get(f"{API}/channels")).json()["channels"]
    }
    assert listed == {"mail": delivered | {"error": None}, "ops": refused}
    masked = (await reader.get(f"{API}/channels/ops")).json()["last_attempt"]
    assert masked == refused | {"error": "HTTP 401: signature ******** refused"}
    changed = await client.patch(f"{API}/channels/ops", json={"timeout": "5s"})
    assert changed.json()["last_attempt"] == refused

    new = await client.post(
        f"{API}/channels", json={"name": "fresh", "kind": "webhook", "url": TOKEN_URL}
    )
    assert new.status_code == 201
    assert new.json()["last_attempt"] is None
    assert (await client.get(f"{API}/channels/fresh")).json()["last_attempt"] is None
