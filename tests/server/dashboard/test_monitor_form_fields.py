"""Every monitor setting through the dashboard's forms, over HTTP (SQLite and PostgreSQL):
each kind round-trips (form → API → edit form → unchanged after a resubmit), problems are
shown at the field that caused them with what was typed kept, and secrets in headers stay
as written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from tests.server.dashboard.conftest import add_user, client_for, log_in
from tests.server.live import LiveServer
from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key
from tocsin.server.storage.users import Role


class _FormFields(HTMLParser):
    """What a browser would post from the page's monitor form, untouched."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, list[str]] = {}
        self._in_form = False
        self._select: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def _add(self, name: str, value: str) -> None:
        self.fields.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form" and "monitor-form" in a.get("class", ""):
            self._in_form = True
        if not self._in_form:
            return
        if tag == "input" and a.get("type") == "checkbox":
            if "checked" in a:
                self._add(a["name"], a.get("value", "on"))
        elif tag == "input":
            self._add(a["name"], a.get("value", ""))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            if "value" in a:
                self._add(self._select, a["value"])
            else:  # the option's text is its value
                self._textarea, self._text = self._select, ""
        elif tag == "textarea":
            self._textarea, self._text = a["name"], ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag in ("textarea", "option") and self._textarea is not None:
            # A browser drops the line break that follows <textarea>.
            self._add(self._textarea, self._text.removeprefix("\n"))
            self._textarea = None


def form_of(page: httpx.Response) -> dict[str, list[str]]:
    """The fields the page's monitor form posts as it stands."""
    parser = _FormFields()
    parser.feed(page.text)
    return parser.fields


def changed(form: dict[str, list[str]], **values: str | list[str]) -> dict[str, list[str]]:
    """``form`` with some fields set as a user would type or tick them."""
    updated = dict(form)
    for name, value in values.items():
        updated[name] = value if isinstance(value, list) else [value]
    return updated


@asynccontextmanager
async def admin(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-in admin's client."""
    await add_user(server, "ada")
    async with client_for(server) as client:
        assert (await log_in(client, "ada")).status_code == 303
        yield client


async def api_view(server: LiveServer, name: str) -> dict[str, Any]:
    """The monitor as ``GET /api/v1/monitors/<name>`` shows it to a read-write key."""
    async with server.database.write() as conn:
        key = (await create_api_key(conn, f"k-{name}", ApiKeyScope.WRITE, datetime.now(UTC))).key
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        answer = await client.get(
            f"/api/v1/monitors/{name}", headers={"Authorization": f"Bearer {key}"}
        )
    assert answer.status_code == 200, answer.text
    shown: dict[str, Any] = answer.json()
    return shown


_VOLATILE = {"state", "updated_at", "next_deadline", "confirmation", "last_result_at"}


def settings_of(view: dict[str, Any]) -> dict[str, Any]:
    """What the user set, without what the engines change by themselves."""
    return {key: value for key, value in view.items() if key not in _VOLATILE}


async def create_and_round_trip(
    server: LiveServer, client: httpx.AsyncClient, name: str, /, **typed: str | list[str]
) -> tuple[dict[str, Any], httpx.Response]:
    """Fill the new-monitor form with ``typed`` and post it; then open the edit page and
    post it back untouched, which must change nothing. Returns the API's view and the
    edit page."""
    blank = await client.get("/ui/monitors/new")
    created = await client.post("/ui/monitors/new", data=changed(form_of(blank), **typed))
    assert created.status_code == 303, created.text
    view = await api_view(server, name)
    edit_page = await client.get(f"/ui/monitors/{view['uuid']}/edit")
    assert edit_page.status_code == 200
    resaved = await client.post(f"/ui/monitors/{view['uuid']}/edit", data=form_of(edit_page))
    assert resaved.status_code == 303, resaved.text
    assert settings_of(await api_view(server, name)) == settings_of(view)
    return view, edit_page


async def test_an_http_monitor_takes_every_setting_from_the_form(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("H7_API_TOKEN", "s3cret-token-value")
    await server.create_channel(name="ops", kind="webhook", url="http://127.0.0.1:9/ops")
    await server.create_channel(name="pager", kind="webhook", url="http://127.0.0.1:9/pager")
    await server.create_monitor(name="db", period="1h")
    async with admin(server) as client:
        view, edit_page = await create_and_round_trip(
            server,
            client,
            "api",
            name="api",
            kind="http",
            url="http://127.0.0.1:9/v1/ping",
            method="POST",
            headers="Authorization: Bearer ${H7_API_TOKEN}\nX-Trace: on: yes",
            body='{"ping": true}\r\nsecond line',  # as a browser posts a textarea
            follow_redirects="0",
            verify_tls="0",
            timeout="5s",
            interval="30s",
            retry_interval="5s",
            jitter="2s",
            confirm_fail="3",
            confirm_recover="2",
            tags="prod, web",
            channels=["", "ops"],
            depends_on="db",
            notify_on_recovery="0",
            remind="2h",
            remind_max="3",
            escalate_after="1h",
            escalate_channels=["", "pager"],
            flapping_changes="4",
            flapping_within="10m",
            **{"assert": 'status == 200\nbody contains "pong"'},
        )
    probe = view["probe"]
    assert probe["method"] == "POST" and probe["url"] == "http://127.0.0.1:9/v1/ping"
    assert probe["headers"] == {"Authorization": "Bearer ${H7_API_TOKEN}", "X-Trace": "on: yes"}
    assert probe["body"] == '{"ping": true}\nsecond line'  # the browser's CRLF made LF
    assert probe["follow_redirects"] is False and probe["verify_tls"] is False
    assert probe["timeout_seconds"] == 5 and probe["jitter_seconds"] == 2
    assert probe["confirm"] == {"fail": 3, "recover": 2}
    assert [(a["subject"], a["op"], a["value"]) for a in probe["assert"]] == [
        ("status", "==", 200),
        ("body", "contains", "pong"),
    ]
    assert (view["interval_seconds"], view["retry_interval_seconds"]) == (30, 5)
    assert view["tags"] == ["prod", "web"] and view["channels"] == ["ops"]
    assert view["alert_policy"] == {
        "notify_on_recovery": False,
        "remind": {"every": "2h", "max": 3},
        "escalate": {"after": "1h", "channels": ["pager"]},
        "flapping": {"changes": 4, "within": "10m"},
        "depends_on": ["db"],
    }
    html = edit_page.text
    # The secret is kept as its ${ENV} reference, never resolved into the page.
    assert "Bearer ${H7_API_TOKEN}" in html and "s3cret-token-value" not in html
    assert 'value="ops" checked' in html and 'value="pager" checked' in html
    assert 'name="remind" type="text" value="2h"' in html


async def test_redirect_hops_and_defaults_round_trip(server: LiveServer) -> None:
    async with admin(server) as client:
        view, edit_page = await create_and_round_trip(
            server, client, "site", name="site", kind="http", url="http://127.0.0.1:9/",
            max_redirects="3",
        )  # fmt: skip
    probe = view["probe"]
    assert probe["follow_redirects"] is True and probe["max_redirects"] == 3
    assert probe["verify_tls"] is True and probe["confirm"] == {"fail": 2, "recover": 1}
    assert view["alert_policy"]["notify_on_recovery"] is True
    assert view["alert_policy"]["remind"] == "off" and view["alert_policy"]["escalate"] == "off"
    assert 'id="f-max_redirects" name="max_redirects" type="text" value="3"' in edit_page.text


async def test_an_app_monitor_takes_component_thresholds_one_a_line(server: LiveServer) -> None:
    async with admin(server) as client:
        view, edit_page = await create_and_round_trip(
            server,
            client,
            "shop",
            name="shop",
            kind="app",
            url="http://127.0.0.1:9/healthz",
            headers="Authorization: Bearer ${HEALTH_TOKEN}",
            interval="15s",
            components=(
                "rq:queue_depth: warn > 500, fail > 2000\n"
                "rq:oldest_job_age[emails]: fail > 300\n\n"
                "rq:workers: fail < 1"
            ),
        )
    assert view["probe"]["components"] == {
        "rq:queue_depth": {"warn": "> 500", "fail": "> 2000"},
        "rq:oldest_job_age[emails]": {"fail": "> 300"},
        "rq:workers": {"fail": "< 1"},
    }
    assert view["probe"]["headers"] == {"Authorization": "Bearer ${HEALTH_TOKEN}"}
    assert "rq:oldest_job_age[emails]: fail &gt; 300" in edit_page.text


async def test_a_tcp_monitor_takes_host_port_and_tls(server: LiveServer) -> None:
    async with admin(server) as client:
        view, _ = await create_and_round_trip(
            server, client, "redis", name="redis", kind="tcp", host="127.0.0.1", port="6380",
            tls="1", verify_tls="0", interval="30s", timeout="3s", confirm_fail="1",
        )  # fmt: skip
    probe = view["probe"]
    assert (probe["host"], probe["port"], probe["tls"], probe["verify_tls"]) == (
        "127.0.0.1", 6380, True, False,
    )  # fmt: skip
    assert probe["timeout_seconds"] == 3 and probe["confirm"] == {"fail": 1, "recover": 1}


async def test_a_heartbeat_takes_a_cron_schedule_and_grace(server: LiveServer) -> None:
    async with admin(server) as client:
        view, edit_page = await create_and_round_trip(
            server, client, "nightly", name="nightly", kind="heartbeat", cron="0 3 * * *",
            timezone="Europe/Paris", grace="45m", slug="nightly-backup", paused="1",
        )  # fmt: skip
        # Switching to a period clears the cron expression and its time zone.
        moved = await client.post(
            f"/ui/monitors/{view['uuid']}/edit",
            data=changed(form_of(edit_page), cron="", timezone="", period="2h"),
        )
    assert (view["cron"], view["timezone"], view["grace"]) == ("0 3 * * *", "Europe/Paris", "45m")
    assert view["slug"] == "nightly-backup" and view["state"] == "paused"
    assert view["probe"] is None
    assert 'value="0 3 * * *"' in edit_page.text and 'value="Europe/Paris"' in edit_page.text
    assert moved.status_code == 303
    after = await api_view(server, "nightly")
    assert (after["period"], after["cron"], after["timezone"]) == ("2h", None, "UTC")


async def test_settings_from_yaml_are_on_the_edit_page_and_survive_a_save(
    server: LiveServer,
) -> None:
    await server.create_channel(name="ops", kind="webhook", url="http://127.0.0.1:9/ops")
    monitor = await server.create_monitor(
        name="shop",
        kind="app",
        url="http://127.0.0.1:9/healthz",
        headers={"Authorization": "Bearer ${HEALTH_TOKEN}"},
        body="ping",
        components={"rq:workers": {"fail": "< 1"}},
        confirm={"fail": 4, "recover": 2, "retry": "7s"},
        follow_redirects=5,
        channels=["ops"],
        remind={"every": "1h"},
        escalate={"after": "30m", "channels": ["ops"]},
        flapping="off",
    )
    before = await api_view(server, "shop")
    async with admin(server) as client:
        edit_page = await client.get(f"/ui/monitors/{monitor.uuid}/edit")
        html = edit_page.text
        assert "Authorization: Bearer ${HEALTH_TOKEN}" in html
        assert "rq:workers: fail &lt; 1" in html
        assert 'name="retry_interval" type="text" value="7s"' in html
        assert 'name="confirm_fail" type="text" value="4"' in html
        assert 'name="escalate_after" type="text" value="30m"' in html
        assert 'id="f-flapping" name="flapping" type="checkbox" value="1">' in html  # off
        saved = await client.post(f"/ui/monitors/{monitor.uuid}/edit", data=form_of(edit_page))
    assert saved.status_code == 303
    assert settings_of(await api_view(server, "shop")) == settings_of(before)


async def test_each_problem_is_shown_at_its_field_and_the_typed_values_stay(
    server: LiveServer,
) -> None:
    await server.create_channel(name="ops", kind="webhook", url="http://127.0.0.1:9/ops")
    async with admin(server) as client:
        form = form_of(await client.get("/ui/monitors/new"))
        bad = await client.post(
            "/ui/monitors/new",
            data=changed(
                form,
                name="shop",
                kind="app",
                url="http://127.0.0.1:9/healthz",
                headers="X-Ok: 1\nno colon here",
                components="rq:workers: fail < 1\nno thresholds here",
                max_redirects="99",
                confirm_fail="0",
                confirm_recover="many",
                retry_interval="soon",
                remind="2h",
                remind_max="0",
                escalate_after="1h",
                flapping_changes="1",
                flapping_within="2d",
            ),
        )
        tcp = await client.post(
            "/ui/monitors/new",
            data=changed(form, name="redis", kind="tcp", host="", port="http"),
        )
        unknown = await client.post(
            "/ui/monitors/new",
            data=changed(form, name="x", url="http://127.0.0.1:9/", channels=["", "nobody"]),
        )
        policy = await client.post(
            "/ui/monitors/new",
            data=changed(
                form, name="y", url="http://127.0.0.1:9/", remind="soon",
                escalate_channels=["", "ops"], depends_on="a, , b",
            ),
        )  # fmt: skip
        # Once the form's own syntax is right, the spec's problems land on the same fields.
        spec_errors = await client.post(
            "/ui/monitors/new",
            data=changed(
                form, name="shop", kind="app", url="http://127.0.0.1:9/healthz",
                headers="Bad Name: x", components="queue: fail > 3",
            ),
        )  # fmt: skip
    assert bad.status_code == 422
    html = bad.text
    assert '<p class="error" id="e-headers">line 2: write one header a line' in html
    assert '<p class="error" id="e-components">line 2: write key:' in html
    assert '<p class="error" id="e-max_redirects">must be true, false or a number' in html
    assert '<p class="error" id="e-confirm_fail">must be a whole number from 1 to 100' in html
    assert '<p class="error" id="e-confirm_recover">must be a whole number' in html
    assert '<p class="error" id="e-retry_interval">' in html
    assert '<p class="error" id="e-remind_max">must be a whole number from 1 to' in html
    assert '<p class="error" id="e-escalate_channels">is required' in html
    assert '<p class="error" id="e-flapping_changes">must be a whole number from 2 to 100' in html
    assert '<p class="error" id="e-flapping_within">must be at most 1d' in html
    # What was typed is shown again, secrets and all, so nothing needs typing twice.
    assert "X-Ok: 1\nno colon here</textarea>" in html
    assert 'name="confirm_recover" type="text" value="many"' in html
    assert spec_errors.status_code == 422
    assert '<p class="error" id="e-headers">headers.Bad Name: is not a valid header name' in (
        spec_errors.text
    )
    assert '<p class="error" id="e-components">components.queue: bad key' in spec_errors.text
    assert tcp.status_code == 422
    assert '<p class="error" id="e-host">is required for tcp monitors' in tcp.text
    assert '<p class="error" id="e-port">must be a whole number from 1 to 65535' in tcp.text
    assert unknown.status_code == 422
    assert '<p class="error" id="e-channels">no channel named &#39;nobody&#39;' in unknown.text
    assert policy.status_code == 422
    assert '<p class="error" id="e-remind">' in policy.text
    assert '<p class="error" id="e-escalate_after">is required' in policy.text
    assert [m.name for m in await server.monitors()] == []


async def test_read_only_users_never_reach_the_form_or_its_secrets(
    server: LiveServer,
) -> None:
    monitor = await server.create_monitor(
        name="api", kind="http", url="http://127.0.0.1:9/",
        headers={"Authorization": "Bearer literal-secret-1234"},
    )  # fmt: skip
    await add_user(server, "rob", Role.READ_ONLY)
    async with client_for(server) as client:
        assert (await log_in(client, "rob")).status_code == 303
        edit = await client.get(f"/ui/monitors/{monitor.uuid}/edit")
        page = await client.get(f"/ui/monitors/{monitor.uuid}")
        live = await client.get(f"/ui/monitors/{monitor.uuid}/live")
    assert edit.status_code == 403 and "literal-secret-1234" not in edit.text
    assert page.status_code == 200 and live.status_code == 200
    assert "literal-secret-1234" not in page.text + live.text
