"""Channel endpoints on both databases."""

from __future__ import annotations

import httpx

API = "/api/v1"
HOOK = {"name": "ops", "kind": "webhook", "url": "https://example.com/hook"}


async def test_channel_crud(client: httpx.AsyncClient) -> None:
    created = await client.post(
        f"{API}/channels", json=HOOK | {"headers": {"X-Token": "t"}, "timeout": "10s"}
    )
    assert created.status_code == 201, created.text
    channel = created.json()
    assert (channel["name"], channel["kind"], channel["url"]) == ("ops", "webhook", HOOK["url"])
    assert (channel["headers"], channel["timeout"]) == ({"X-Token": "t"}, 10)

    assert (await client.get(f"{API}/channels/{channel['uuid']}")).json() == channel
    assert (await client.get(f"{API}/channels")).json() == {"channels": [channel]}

    changed = await client.patch(f"{API}/channels/ops", json={"name": "oncall", "headers": None})
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "oncall"
    assert changed.json()["url"] == HOOK["url"]
    assert changed.json().get("headers") is None
    assert changed.json()["timeout"] == 10

    assert (await client.delete(f"{API}/channels/oncall")).status_code == 204
    assert (await client.get(f"{API}/channels/oncall")).status_code == 404


async def test_deleting_a_channel_detaches_it(client: httpx.AsyncClient) -> None:
    await client.post(f"{API}/channels", json=HOOK)
    await client.post(f"{API}/monitors", json={"name": "m", "channels": ["ops"]})
    await client.delete(f"{API}/channels/ops")
    assert (await client.get(f"{API}/monitors/m")).json()["channels"] == []


async def test_channel_errors(client: httpx.AsyncClient) -> None:
    bad = await client.post(
        f"{API}/channels", json={"name": "x", "kind": "pigeon", "url": "ftp://x"}
    )
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid channel"
    assert "kind" in bad.json()["fields"]

    no_url = await client.post(f"{API}/channels", json={"name": "x", "kind": "webhook"})
    assert no_url.status_code == 422
    assert no_url.json()["fields"] == {"url": "is required"}

    slow = await client.post(f"{API}/channels", json=HOOK | {"timeout": "2m"})
    assert slow.json()["fields"] == {"timeout": "must be at most 60 seconds"}

    headers = await client.post(f"{API}/channels", json=HOOK | {"headers": {"a": 1}})
    assert headers.status_code == 422
    assert "headers.a" in headers.json()["fields"]

    assert (await client.post(f"{API}/channels", json=HOOK)).status_code == 201
    conflict = await client.post(f"{API}/channels", json=HOOK)
    assert conflict.status_code == 409
    assert conflict.json() == {"error": "a channel named 'ops' already exists"}

    patch = await client.patch(f"{API}/channels/ops", json={"url": "nope"})
    assert patch.status_code == 422
    assert patch.json()["fields"] == {"url": "must be an http:// or https:// URL"}

    for method in ("GET", "PATCH", "DELETE"):
        missing = await client.request(
            method, f"{API}/channels/ghost", json={} if method == "PATCH" else None
        )
        assert missing.status_code == 404
        assert missing.json() == {"error": "no channel 'ghost'"}


async def test_read_only_keys_see_channels_with_credentials_masked(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    secret_url = "https://user:pw@hooks.example.com:8443/services/T0/B0/XyZ?token=abc"
    created = await client.post(
        f"{API}/channels",
        json={**HOOK, "url": secret_url, "headers": {"Authorization": "Bearer s3cret"}},
    )
    assert created.status_code == 201, created.text
    seen = (await reader.get(f"{API}/channels/ops")).json()
    assert seen["url"] == "https://hooks.example.com:8443/********"
    assert seen["headers"] == {"Authorization": "********"}
    assert (await reader.get(f"{API}/channels")).json() == {"channels": [seen]}
    assert "s3cret" not in (await reader.get(f"{API}/channels")).text
    # A key that may change the channel sees it whole (tocsin apply compares settings).
    whole = (await client.get(f"{API}/channels/ops")).json()
    assert (whole["url"], whole["headers"]) == (secret_url, {"Authorization": "Bearer s3cret"})


async def test_managed_by_can_be_set_and_is_validated(client: httpx.AsyncClient) -> None:
    made = await client.post(f"{API}/channels", json=HOOK)
    assert made.json()["managed_by"] == "api"
    claimed = await client.patch(f"{API}/channels/ops", json={"managed_by": "config"})
    assert claimed.json()["managed_by"] == "config"
    unchanged = await client.patch(f"{API}/channels/ops", json={"timeout": "5s"})
    assert unchanged.json()["managed_by"] == "config"
    bad = await client.post(f"{API}/channels", json=HOOK | {"name": "x", "managed_by": "me"})
    assert bad.status_code == 422
    assert set(bad.json()["fields"]) == {"managed_by"}
