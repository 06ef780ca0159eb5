"""A refused body names every problem at once, as ``tocsin apply`` does for a file."""

from __future__ import annotations

import httpx

API = "/api/v1"


async def test_every_monitor_problem_is_reported_at_once(client: httpx.AsyncClient) -> None:
    # Found by a new user: a wrong type hid every other problem, and so did a NUL.
    answer = await client.post(
        f"{API}/monitors",
        json={
            "name": "x",
            "period": True,
            "grace": "0",
            "cron": "nope",
            "tags": "db",
            "desc": "a\u0000b",
            "managed_by": "me",
            "colour": "red",
        },
    )
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid monitor"
    assert set(body["fields"]) == {
        "period",
        "grace",
        "cron",
        "tags",
        "desc",
        "managed_by",
        "colour",
    }


async def test_two_problems_with_one_field_are_both_named(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        f"{API}/monitors", json={"name": "x", "period": "soon", "cron": "* * * * *"}
    )
    assert answer.status_code == 422
    period = answer.json()["fields"]["period"]
    assert "'soon' is not a duration" in period
    assert "give either period or cron, not both" in period


async def test_a_patch_reports_every_problem_too(client: httpx.AsyncClient) -> None:
    assert (await client.post(f"{API}/monitors", json={"name": "m"})).status_code == 201
    answer = await client.patch(
        f"{API}/monitors/m", json={"period": [], "grace": "soon", "name": 7, "managed_by": 1}
    )
    assert answer.status_code == 422
    assert set(answer.json()["fields"]) == {"period", "grace", "name", "managed_by"}


async def test_every_channel_problem_is_reported_at_once(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        f"{API}/channels",
        json={"name": 3, "kind": "webhook", "url": "ftp://x", "headers": {"a": 1}, "timeout": 0},
    )
    assert answer.status_code == 422
    assert set(answer.json()["fields"]) == {"name", "url", "headers", "timeout"}


async def test_a_duration_too_short_to_store_is_refused(client: httpx.AsyncClient) -> None:
    # Found by the schema's property test: 0.0000001 s was accepted and stored as 0.
    answer = await client.post(f"{API}/monitors", json={"name": "x", "grace": "0.0000001"})
    assert answer.status_code == 422
    assert answer.json()["fields"] == {"grace": "a duration must be at least a microsecond"}


async def test_probe_durations_below_the_minimum_name_it(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        f"{API}/monitors",
        json={
            "name": "api",
            "kind": "http",
            "url": "http://127.0.0.1:1/",
            "interval": "500ms",
            "retry_interval": "500ms",
            "confirm": {"retry": 0.5},
            "assert": ["status === 200"],
        },
    )
    assert answer.status_code == 422
    assert answer.json()["fields"] == {
        "interval": "must be from 1s to 1d",
        "retry_interval": "must be at least 1s",
        "confirm.retry": "must be at least 1s",
        "assert[0]": "unknown operator '===' (expected ==, !=, <, <=, >, >=, in) at column 8",
    }
