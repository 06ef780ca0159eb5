"""The OpenAPI document says what the server accepts, and /docs works without the internet."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.server.domain.durations import parse_duration
from tocsin.server.web.app import create_app
from tocsin.settings import Settings


@pytest.fixture
async def document(anonymous: httpx.AsyncClient) -> dict[str, Any]:
    """The API's OpenAPI document."""
    spec: dict[str, Any] = (await anonymous.get("/openapi.json")).json()
    return spec


def _property(document: dict[str, Any], model: str, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][model]["properties"][name]
    return schema


def _valid(schema: dict[str, Any], value: Any) -> bool:
    return bool(jsonschema_rs.validator_for(schema).is_valid(value))


REFUSED_DURATIONS = [
    *("0", "0s", "00.0m", 0, -5, "0.0000001", 1e-7),
    *("367d", "53w", "31622401", 31622401, "", "5 m s"),
]
ACCEPTED_DURATIONS = ["5m", "90", 90, 2.5, "2.5h", "366d", "52w", "0.5s", "31622400", " 1d "]


@pytest.mark.parametrize("model", ["MonitorIn", "MonitorPatch"])
@pytest.mark.parametrize("field", ["period", "grace"])
async def test_durations_in_the_schema_are_the_ones_the_server_takes(
    document: dict[str, Any], model: str, field: str
) -> None:
    # Defect 12: the schema allowed "0", which the server refuses.
    schema = _property(document, model, field)
    for value in REFUSED_DURATIONS:
        assert not _valid(schema, value), value
    for value in ACCEPTED_DURATIONS:
        assert _valid(schema, value), value
        assert parse_duration(value).total_seconds() > 0


async def test_channel_timeouts_stop_at_a_minute(document: dict[str, Any]) -> None:
    schema = _property(document, "ChannelIn", "timeout")
    for value in ("61s", 61, "2m", "1h", "0"):
        assert not _valid(schema, value), value
    for value in ("60s", 60, "1m", "0.5m", 0.25):
        assert _valid(schema, value), value


async def test_text_with_nul_is_outside_the_schema(document: dict[str, Any]) -> None:
    for model, field, good in [
        ("MonitorIn", "name", "backup"),
        ("MonitorIn", "desc", "nightly"),
        ("MonitorIn", "cron", "0 3 * * *"),
        ("ChannelIn", "name", "ops"),
        ("ChannelIn", "url", "https://x.test/hook"),
    ]:
        schema = _property(document, model, field)
        assert _valid(schema, good), (model, field)
        assert not _valid(schema, good + "\u0000"), (model, field)
    name = _property(document, "MonitorIn", "name")
    assert not _valid(name, "   ")
    assert not _valid(name, "x" * 101)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_every_duration_the_schema_allows_is_accepted(data: st.DataObject) -> None:
    from tocsin.server.web.api.schemas import duration_schema

    for maximum in (366 * 86400, 60):
        patterns = [
            member["pattern"] for member in duration_schema(maximum)["anyOf"] if "pattern" in member
        ]
        for pattern in patterns:
            text = data.draw(st.from_regex(re.compile(pattern), fullmatch=True))
            assert 0 < parse_duration(text).total_seconds() <= maximum, text


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_work_air_gapped(tmp_path: Path, page: str) -> None:
    # Found by a new user: /docs loaded Swagger UI from a public CDN.
    app = create_app(Settings.from_env({"TOCSIN_DATA_DIR": str(tmp_path)}))
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        html = await client.get(page)
        assert html.status_code == 200
        links = _Links()
        links.feed(html.text)
        scripts = re.findall(r"""(?:url|spec-url)\s*[:=]\s*['"]([^'"]+)['"]""", html.text)
        urls = links.urls + scripts
        assert any(url.endswith(".js") for url in urls), urls
        for url in urls:
            assert url.startswith("/"), f"{page} loads {url} from elsewhere"
            assert (await client.get(url)).status_code == 200, url
        assert "cdn" not in html.text.lower()
