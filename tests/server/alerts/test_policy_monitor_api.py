"""The alert policy through ``/api/v1/monitors``: the keys the OpenAPI document states are
taken, shown back in ``alert_policy``, and kept by a PATCH that does not mention them."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.server.live import live_server
from tests.server.web.api.conftest import make_key
from tocsin.server.storage.apikeys import ApiKeyScope

POLICY = {
    "remind": {"every": "2h", "max": 3},
    "escalate": {"after": "1h", "channels": ["pager"]},
    "notify_on_recovery": False,
    "flapping": {"changes": 4, "within": "10m"},
    "depends_on": ["shop"],
}


async def test_policy_keys_are_taken_shown_and_kept(database_url: str, tmp_path: Path) -> None:
    async with live_server(database_url, tmp_path) as server:
        key = await make_key(server.database, ApiKeyScope.WRITE)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
            document = (await client.get("/openapi.json")).json()
            heartbeat = document["components"]["schemas"]["MonitorIn"]["oneOf"][0]
            assert set(POLICY) <= set(heartbeat["properties"])
            patch = document["components"]["schemas"]["MonitorPatch"]["properties"]
            assert set(POLICY) <= set(patch)

            await client.post("/api/v1/monitors", json={"name": "shop"})
            made = await client.post("/api/v1/monitors", json={"name": "invoices", **POLICY})
            assert made.status_code == 201, made.text
            assert made.json()["alert_policy"] == POLICY

            changed = await client.patch("/api/v1/monitors/invoices", json={"desc": "nightly"})
            assert changed.status_code == 200, changed.text
            assert changed.json()["alert_policy"] == POLICY

            off = await client.patch("/api/v1/monitors/invoices", json={"remind": "off"})
            assert off.json()["alert_policy"] == POLICY | {"remind": "off"}
            shown = (await client.get("/api/v1/monitors/shop")).json()["alert_policy"]
            assert shown["remind"] == "off" and shown["notify_on_recovery"] is True
