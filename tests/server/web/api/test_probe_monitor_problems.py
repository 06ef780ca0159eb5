"""A probe monitor with several problems, created through the API: one 422 naming every
problem by its field, and nothing stored (on SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx

API = "/api/v1"

# Messages are being reworded: the tests hold field names and a few stable words only.
BAD_APP = {
    "name": "shop-app",
    "kind": "app",
    "url": "ftp://example.com/healthz",
    "interval": 0.5,
    "headers": {"Authorization": "Bearer ${API_TOKEN}"},  # fine: kept, filled at each probe
    "assert": [
        "status === 200",
        "status == 200",
        "json $..version exists",
        "response_time < 800ms [warn]",
    ],
    "components": {
        "rq:workers": {"fail": "< 1"},
        "workers": {"fail": "< 1"},
    },
    "confirm": {"fail": 2, "recover": 1},
}


async def test_every_problem_of_a_probe_monitor_is_named(client: httpx.AsyncClient) -> None:
    answer = await client.post(f"{API}/monitors", json=BAD_APP)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "invalid monitor"
    fields = body["fields"]
    assert set(fields) == {"url", "interval", "assert[0]", "assert[2]", "components.workers"}
    assert all(isinstance(text, str) and text for text in fields.values())
    assert "http" in fields["url"]
    assert "1s" in fields["interval"]
    assert "JSON path" in fields["assert[2]"]
    assert "component:measurement" in fields["components.workers"]

    listed = await client.get(f"{API}/monitors")
    assert listed.status_code == 200
    assert listed.json()["monitors"] == []
    assert (await client.get(f"{API}/monitors/shop-app")).status_code == 404


async def test_the_same_monitor_without_its_problems_is_created(
    client: httpx.AsyncClient,
) -> None:
    fixed = BAD_APP | {
        "url": "https://shop.example.com/healthz",
        "interval": "1s",
        "assert": ["status == 200", "json $.version exists", "response_time < 800ms [warn]"],
        "components": {"rq:workers": {"fail": "< 1"}, "rq:workers[emails]": {"fail": "< 1"}},
    }
    created = await client.post(f"{API}/monitors", json=fixed)
    assert created.status_code == 201, created.text
    monitor = created.json()
    assert (monitor["kind"], monitor["interval_seconds"]) == ("app", 1)
    assert monitor["probe"]["headers"] == {"Authorization": "Bearer ${API_TOKEN}"}
    assert [a["subject"] for a in monitor["probe"]["assert"]] == ["status", "json", "response_time"]
    listed = await client.get(f"{API}/monitors")
    assert [m["name"] for m in listed.json()["monitors"]] == ["shop-app"]


async def test_a_patch_names_every_probe_problem_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    good = {"name": "api", "kind": "http", "url": "https://api.example.com/", "interval": 30}
    created = await client.post(f"{API}/monitors", json=good | {"assert": ["status == 200"]})
    assert created.status_code == 201, created.text
    answer = await client.patch(
        f"{API}/monitors/api",
        json={"url": "api.example.com", "interval": 0, "assert": ["status == 200", "json $.["]},
    )
    assert answer.status_code == 422, answer.text
    assert set(answer.json()["fields"]) == {"url", "interval", "assert[1]"}
    after = (await client.get(f"{API}/monitors/api")).json()
    assert after["probe"] == created.json()["probe"]
    assert after["updated_at"] == created.json()["updated_at"]
