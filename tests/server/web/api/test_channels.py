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
    assert (await client.get(f"{API}/channels")).json() == {"channels": [channel], "next": None}

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
    assert headers.json()["fields"] == {"headers": "must map header names to string values"}

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
    assert (await reader.get(f"{API}/channels")).json() == {"channels": [seen], "next": None}
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


async def test_every_kind_is_masked_for_read_only_keys(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    secret = "0123456789abcdef0123456789abcdef"
    made = [
        {**HOOK, "name": "hook", "secret": secret},
        {"name": "mail", "kind": "email", "to": ["ops@example.com"]},
        {"name": "chat", "kind": "slack", "url": "https://hooks.slack.com/services/T/B/XyZ"},
        {"name": "pager", "kind": "apprise", "url": "pagerduty://KEY@ROUTING"},
    ]
    for body in made:
        created = await client.post(f"{API}/channels", json=body)
        assert created.status_code == 201, created.text
    seen = {c["name"]: c for c in (await reader.get(f"{API}/channels")).json()["channels"]}
    assert seen["hook"]["secret"] == "********"
    assert seen["mail"]["to"] == ["ops@example.com"]
    assert seen["chat"]["url"] == "https://hooks.slack.com/********"
    assert seen["pager"]["url"] == "pagerduty://********"
    text = (await reader.get(f"{API}/channels")).text
    assert secret not in text and "KEY" not in text and "XyZ" not in text
    whole = (await client.get(f"{API}/channels/pager")).json()
    assert (whole["url"], whole["to"]) == ("pagerduty://KEY@ROUTING", None)
    assert (await client.get(f"{API}/channels/hook")).json()["secret"] == secret


async def test_a_new_kind_keeps_only_the_settings_it_takes(client: httpx.AsyncClient) -> None:
    signed = {**HOOK, "headers": {"X-A": "b"}, "secret": "s" * 16, "timeout": 5}
    assert (await client.post(f"{API}/channels", json=signed)).status_code == 201
    changed = await client.patch(f"{API}/channels/ops", json={"kind": "slack"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["kind"], body["url"], body["timeout"]) == ("slack", HOOK["url"], 5)
    assert (body["headers"], body["secret"]) == (None, None)
    to_email = await client.patch(f"{API}/channels/ops", json={"kind": "email"})
    assert to_email.status_code == 422
    assert to_email.json()["fields"] == {"to": "is required"}


async def test_channel_problems_of_new_kinds_are_listed_by_field(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post(
        f"{API}/channels",
        json={"name": "mail", "kind": "email", "to": ["ops@", "ok@example.com"], "secret": 1},
    )
    assert answer.status_code == 422
    assert answer.json()["fields"] == {
        "secret": "is not used by email channels",
        "to": "not an email address: 'ops@'",
    }
    apprise = await client.post(
        f"{API}/channels", json={"name": "p", "kind": "apprise", "url": "nonsense://x"}
    )
    assert apprise.status_code == 422
    assert set(apprise.json()["fields"]) == {"url"}
