"""`tocsin apply --url` of probed monitors (http, app, tcp) against a real server: created
as planned, a second apply changes nothing, a changed assertion updates just its monitor;
the server probes real local targets and `tocsin status` shows what it found."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from tests.cli.test_remote import key, tocsin
from tests.server.live import LiveServer, live_server
from tests.server.probes.targets import Targets, serve_targets
from tocsin.server.storage.apikeys import ApiKeyScope

TOKEN_VARIABLE = "TOCSIN_TEST_PROBE_TOKEN"

CONFIG = """\
monitors:
  - name: api
    kind: http
    url: HTTP_URL/echo
    interval: 1s
    timeout: 5s
    headers: {Authorization: "Bearer ${TOCSIN_TEST_PROBE_TOKEN}"}
    assert:
      - status == 200
      - response_time < 5s
      - json $.headers.Authorization == "Bearer s3cret"
    confirm: {fail: 2, recover: 1}
  - name: shop-app
    kind: app
    url: HTTP_URL/health
    interval: 1s
    components:
      "rq:workers": {fail: "< 1"}
      "rq:queue_depth": {warn: "> 500", fail: "> 2000"}
    confirm: {fail: 3}
  - name: web-port
    kind: tcp
    host: 127.0.0.1
    port: HTTP_PORT
    interval: 1s
"""


@pytest.fixture
async def targets() -> AsyncIterator[Targets]:
    """The local probe targets (an HTTP server with ``/echo`` and ``/health``)."""
    async with serve_targets(trustme.CA()) as running:
        yield running


def config(targets: Targets) -> str:
    port = targets.http_url.rsplit(":", 1)[1]
    return CONFIG.replace("HTTP_URL", targets.http_url).replace("HTTP_PORT", port)


async def monitors(server: LiveServer, api_key: str) -> dict[str, dict[str, Any]]:
    """Every monitor as the API shows it, by name."""
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {api_key}"}) as client:
        answer = await client.get(f"{server.base_url}/api/v1/monitors")
    answer.raise_for_status()
    return {m["name"]: m for m in answer.json()["monitors"]}


async def shown_when(
    server: LiveServer,
    api_key: str,
    done: Callable[[dict[str, dict[str, Any]]], bool],
    timeout: float = 20.0,
) -> dict[str, dict[str, Any]]:
    """The monitors once ``done(monitors)`` holds (the probe engine has checked them)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        shown = await monitors(server, api_key)
        if done(shown):
            return shown
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not as expected within {timeout} s: {shown}")
        await asyncio.sleep(0.1)


def texts(monitor: dict[str, Any]) -> list[str]:
    """The assertion texts of the monitor's last result."""
    return [o["text"] for o in (monitor["last_result"] or {}).get("outcomes", [])]


async def test_probes_applied_through_the_api(
    database_url: str, tmp_path: Path, targets: Targets, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server (in this process) fills the header from its environment at each probe.
    monkeypatch.setenv(TOKEN_VARIABLE, "s3cret")
    path = tmp_path / "tocsin.yaml"
    path.write_text(config(targets), encoding="utf-8")
    async with live_server(database_url, tmp_path / "server") as server:
        api_key = await key(server, ApiKeyScope.WRITE)
        env: dict[str, str | None] = {
            "TOCSIN_URL": server.base_url,
            "TOCSIN_API_KEY": api_key,
            "TOCSIN_DATABASE_URL": f"sqlite:///{tmp_path}/unused/nothing.db",
        }
        first = await tocsin(env, "apply", "-f", str(path))
        assert first.exit_code == 0, first.output
        created = first.stdout.splitlines()
        assert [line.split(" (")[0] for line in created[:3]] == [
            "+ monitor api",
            "+ monitor shop-app",
            "+ monitor web-port",
        ], first.output
        assert created[3] == "3 created, 0 changed, 0 deleted"

        def checked(shown: dict[str, dict[str, Any]]) -> bool:
            return len(shown) == 3 and all(m["state"] == "up" for m in shown.values())

        shown = await shown_when(server, api_key, checked)
        api, app, tcp = shown["api"], shown["shop-app"], shown["web-port"]
        assert {m["managed_by"] for m in shown.values()} == {"config"}
        # The header is stored as written (the placeholder); the probe sent the secret.
        assert api["probe"]["headers"] == {"Authorization": f"Bearer ${{{TOKEN_VARIABLE}}}"}
        assert api["probe"]["confirm"] == {"fail": 2, "recover": 1}
        assert (api["interval_seconds"], api["probe"]["timeout_seconds"]) == (1, 5)
        assert texts(api) == [
            "status == 200",
            "response_time < 5s",
            'json $.headers.Authorization == "Bearer s3cret"',
        ]
        assert all(o["passed"] for o in api["last_result"]["outcomes"]), api["last_result"]
        assert api["last_result"]["outcomes"][0]["message"] == "status (200) == 200"
        assert app["probe"]["components"] == {
            "rq:workers": {"fail": "< 1"},
            "rq:queue_depth": {"warn": "> 500", "fail": "> 2000"},
        }
        assert [(c["key"], c["status"], c["value"]) for c in app["components"]] == [
            ("rq:workers[emails]", "pass", 2)
        ]
        assert (tcp["probe"]["host"], tcp["probe"]["port"]) == (
            "127.0.0.1",
            int(targets.http_url.rsplit(":", 1)[1]),
        )
        assert tcp["last_verdict"] == "pass"

        # The same file again: nothing planned, nothing touched.
        second = await tocsin(env, "apply", "-f", str(path))
        assert (second.exit_code, second.stdout) == (0, "no changes\n"), second.output
        again = await monitors(server, api_key)
        assert {n: m["updated_at"] for n, m in again.items()} == {
            n: m["updated_at"] for n, m in shown.items()
        }

        # One assertion changed: only that monitor is updated, and its next check uses it.
        path.write_text(
            config(targets).replace("response_time < 5s", "response_time < 4s"), encoding="utf-8"
        )
        changed = await tocsin(env, "apply", "-f", str(path))
        assert changed.exit_code == 0, changed.output
        lines = changed.stdout.splitlines()
        assert lines[0].startswith("~ monitor api: assert"), changed.output
        assert lines[1:] == ["0 created, 1 changed, 0 deleted"], changed.output
        after = await shown_when(server, api_key, lambda s: "response_time < 4s" in texts(s["api"]))
        assert after["api"]["updated_at"] != shown["api"]["updated_at"]
        before_asserts, after_asserts = (
            shown["api"]["probe"]["assert"],
            after["api"]["probe"]["assert"],
        )
        assert after_asserts[1] == {
            "subject": "response_time",
            "op": "<",
            "value": 4000.0,
            "severity": "fail",
        }
        assert after_asserts[::2] == before_asserts[::2]
        for name in ("shop-app", "web-port"):
            assert after[name]["updated_at"] == shown[name]["updated_at"]
            assert after[name]["probe"] == shown[name]["probe"]
        assert (await tocsin(env, "apply", "-f", str(path))).stdout == "no changes\n"

        # What users see: the same through `tocsin status --json`, and every outcome with -v.
        status = await tocsin(env, "status", "--json")
        assert status.exit_code == 0, status.output
        listed = {m["name"]: m for m in json.loads(status.stdout)}
        assert sorted(listed) == ["api", "shop-app", "web-port"]
        assert listed["api"]["probe"]["headers"] == api["probe"]["headers"]
        assert "response_time < 4s" in texts(listed["api"])
        table = await tocsin(env, "status", "-v")
        assert table.exit_code == 0, table.output
        rows = table.stdout.splitlines()
        at = next(i for i, row in enumerate(rows) if row.startswith("api "))
        checks = rows[at + 1 : at + 4]
        assert [row[:6] for row in checks] == ["    ✓ "] * 3, table.stdout
        assert checks[0] == "    ✓ status (200) == 200"
        assert checks[1].startswith("    ✓ response_time (") and checks[1].endswith(") < 4s")
        assert checks[2].startswith("    ✓ json $.headers.Authorization (")
