"""Monitor endpoints on both databases: CRUD, pause/resume, history, and their errors."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.server.web.api.conftest import WatchLog
from tocsin.server.domain.states import MonitorState
from tocsin.server.domain.transitions import Flip
from tocsin.server.storage.database import Database
from tocsin.server.storage.flips import record_flip
from tocsin.server.storage.monitors import get_monitor
from tocsin.server.web.state import ServerState

API = "/api/v1"


async def test_create_read_list_and_delete(client: httpx.AsyncClient, watch_log: WatchLog) -> None:
    created = await client.post(
        f"{API}/monitors",
        json={"name": "nightly backup", "period": "1d", "grace": 3600, "tags": ["db"]},
    )
    assert created.status_code == 201, created.text
    monitor = created.json()
    assert monitor["name"] == "nightly backup"
    assert monitor["slug"] == "nightly-backup"
    assert monitor["period"] == "1d"
    assert monitor["grace_seconds"] == 3600
    assert monitor["state"] == "new"
    assert monitor["ping_url"].endswith(f"/ping/{monitor['uuid']}")
    assert len(watch_log.calls) == 1

    by_uuid = await client.get(f"{API}/monitors/{monitor['uuid']}")
    by_name = await client.get(f"{API}/monitors/nightly backup")
    assert by_uuid.json() == by_name.json() == monitor

    await client.post(f"{API}/monitors", json={"name": "other", "period": 60})
    listed = (await client.get(f"{API}/monitors")).json()["monitors"]
    assert [m["name"] for m in listed] == ["nightly backup", "other"]
    tagged = (await client.get(f"{API}/monitors", params={"tag": "db"})).json()["monitors"]
    assert [m["name"] for m in tagged] == ["nightly backup"]

    deleted = await client.delete(f"{API}/monitors/{monitor['uuid']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await client.get(f"{API}/monitors/{monitor['uuid']}")).status_code == 404
    assert watch_log.calls[-1] == (watch_log.calls[0][0], None)


async def test_cron_monitor_with_channel(client: httpx.AsyncClient) -> None:
    channel = await client.post(
        f"{API}/channels", json={"name": "ops", "kind": "webhook", "url": "http://example.com/"}
    )
    assert channel.status_code == 201, channel.text
    created = await client.post(
        f"{API}/monitors",
        json={
            "name": "report",
            "cron": "0 3 * * *",
            "timezone": "Europe/Berlin",
            "channels": ["ops"],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["cron"] == "0 3 * * *"
    assert body["period"] is None
    assert body["channels"] == ["ops"]


async def test_patch_merges_and_switches_schedules(
    client: httpx.AsyncClient, watch_log: WatchLog
) -> None:
    uuid = (
        await client.post(f"{API}/monitors", json={"name": "job", "period": "5m", "tags": ["a"]})
    ).json()["uuid"]

    renamed = await client.patch(f"{API}/monitors/{uuid}", json={"name": "job2", "grace": "1m"})
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()
    assert (body["name"], body["period"], body["grace"], body["tags"]) == (
        "job2",
        "5m",
        "1m",
        ["a"],
    )
    assert body["slug"] == "job"

    to_cron = await client.patch(f"{API}/monitors/job2", json={"cron": "*/5 * * * *"})
    assert to_cron.status_code == 200, to_cron.text
    assert (to_cron.json()["cron"], to_cron.json()["period"]) == ("*/5 * * * *", None)

    back = await client.patch(f"{API}/monitors/{uuid}", json={"period": 120, "tags": None})
    assert back.status_code == 200, back.text
    assert (back.json()["cron"], back.json()["period"], back.json()["tags"]) == (None, "2m", [])
    assert len(watch_log.calls) == 4


async def test_pause_resume_and_history(client: httpx.AsyncClient) -> None:
    monitor = (await client.post(f"{API}/monitors", json={"name": "w", "period": 60})).json()
    paused = await client.post(f"{API}/monitors/w/pause")
    assert paused.status_code == 200
    assert paused.json()["state"] == "paused"
    resumed = await client.post(f"{API}/monitors/{monitor['uuid']}/resume")
    assert resumed.json()["state"] == "new"

    flips = (await client.get(f"{API}/monitors/w/flips")).json()["flips"]
    assert [(f["old_state"], f["new_state"]) for f in flips] == [
        ("paused", "new"),
        ("new", "paused"),
    ]
    one = (await client.get(f"{API}/monitors/w/flips", params={"limit": 1})).json()["flips"]
    assert len(one) == 1
    pings = await client.get(f"{API}/monitors/w/pings")
    assert pings.status_code == 200
    assert pings.json() == {"pings": [], "next": None}


async def test_flips_limit_is_checked(client: httpx.AsyncClient) -> None:
    await client.post(f"{API}/monitors", json={"name": "w", "period": 60})
    for limit in (0, 1001, "x"):
        answer = await client.get(f"{API}/monitors/w/flips", params={"limit": limit})
        assert answer.status_code == 422
        assert answer.json()["error"] == "invalid request"
        assert "limit" in answer.json()["fields"]


async def test_validation_uses_the_domain_words(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        f"{API}/monitors",
        json={"name": "x", "period": "soon", "cron": "nope", "colour": "red"},
    )
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid monitor"
    assert set(body["fields"]) == {"period", "cron", "colour"}
    assert body["fields"]["colour"].startswith("unknown field")

    missing = await client.post(f"{API}/monitors", json={"period": 60})
    assert missing.status_code == 422
    assert missing.json()["fields"] == {"name": "is required"}

    typed = await client.post(f"{API}/monitors", json={"name": 5})
    assert typed.status_code == 422
    assert typed.json()["fields"] == {"name": "must be a string"}

    nul = await client.post(f"{API}/monitors", json={"name": "a\u0000b"})
    assert nul.status_code == 422
    assert nul.json()["fields"] == {"name": "must not contain NUL characters"}


async def test_unknown_channel_and_conflicts(client: httpx.AsyncClient) -> None:
    unknown = await client.post(f"{API}/monitors", json={"name": "a", "channels": ["nope"]})
    assert unknown.status_code == 422
    assert "nope" in unknown.json()["fields"]["channels"]

    assert (await client.post(f"{API}/monitors", json={"name": "a"})).status_code == 201
    assert (await client.post(f"{API}/monitors", json={"name": "b"})).status_code == 201
    again = await client.post(f"{API}/monitors", json={"name": "a"})
    assert again.status_code == 409
    assert again.json() == {"error": "a monitor named 'a' already exists"}
    rename = await client.patch(f"{API}/monitors/b", json={"name": "a"})
    assert rename.status_code == 409


async def test_missing_monitor_is_404_everywhere(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/monitors/ghost"),
        ("PATCH", "/monitors/ghost"),
        ("DELETE", "/monitors/ghost"),
        ("POST", "/monitors/ghost/pause"),
        ("POST", "/monitors/ghost/resume"),
        ("GET", "/monitors/ghost/pings"),
        ("GET", "/monitors/ghost/flips"),
        ("GET", "/monitors/00000000-0000-0000-0000-000000000000"),
        ("GET", "/monitors/a%00b"),
    ]:
        answer = await client.request(
            method, f"{API}{path}", json={} if method == "PATCH" else None
        )
        assert answer.status_code == 404, (method, path, answer.text)
        assert set(answer.json()) == {"error"}


async def test_flips_recorded_elsewhere_are_listed(
    client: httpx.AsyncClient, db: Database, server_state: ServerState
) -> None:
    await client.post(f"{API}/monitors", json={"name": "w", "period": 60})
    async with db.write() as conn:
        record = await get_monitor(conn, server_state.project.id, "w")
        flip = Flip(MonitorState.UP, MonitorState.DOWN, "no ping")
        await record_flip(conn, record.id, flip, datetime.now(UTC))
    flips = (await client.get(f"{API}/monitors/w/flips")).json()["flips"]
    assert flips[0]["cause"] == "no ping"


async def test_patch_with_every_field_replaces_the_monitor(client: httpx.AsyncClient) -> None:
    # What `tocsin apply` sends: every field, null for the ones that do not apply.
    await client.post(f"{API}/monitors", json={"name": "j", "cron": "0 3 * * *", "timezone": "UTC"})
    full = {
        "name": "j",
        "kind": "heartbeat",
        "period": 600.0,
        "grace": 60.0,
        "cron": None,
        "timezone": None,
        "slug": "j",
        "desc": "every ten minutes",
        "tags": [],
        "channels": [],
    }
    answer = await client.patch(f"{API}/monitors/j", json=full)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["period"], body["cron"], body["timezone"], body["desc"]) == (
        "10m",
        None,
        "UTC",
        "every ten minutes",
    )
    back = await client.patch(
        f"{API}/monitors/j",
        json=full | {"period": None, "cron": "@daily", "timezone": "Asia/Tokyo"},
    )
    assert back.status_code == 200, back.text
    assert (back.json()["period"], back.json()["timezone"]) == (None, "Asia/Tokyo")


async def test_monitors_can_be_created_and_claimed_as_config_managed(
    client: httpx.AsyncClient,
) -> None:
    made = await client.post(f"{API}/monitors", json={"name": "m", "managed_by": "config"})
    assert made.status_code == 201, made.text
    assert made.json()["managed_by"] == "config"
    handed_back = await client.patch(f"{API}/monitors/m", json={"managed_by": "api"})
    assert handed_back.json()["managed_by"] == "api"
    kept = await client.patch(f"{API}/monitors/m", json={"desc": "x", "managed_by": None})
    assert kept.json()["managed_by"] == "api"
