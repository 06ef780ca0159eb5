"""Property-based: whatever a client sends to /ping/..., the answer is never a 500."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.live import live_server

EXPECTED = {200, 201, 400, 404, 405, 409, 413}


@pytest.fixture
def running(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A live server in a thread: (base URL, a monitor's uuid, the ping key)."""
    ready = threading.Event()
    stop = threading.Event()
    found: dict[str, str] = {}

    async def serve() -> None:
        async with live_server(database_url, tmp_path, TOCSIN_PING_BODY_MAX="5000") as server:
            monitor = await server.create_monitor(name="target", slug="target")
            found.update(url=server.base_url, uuid=monitor.uuid, key=await server.ping_key())
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.02)

    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    assert ready.wait(30)
    try:
        yield found["url"], found["uuid"], found["key"]
    finally:
        stop.set()
        thread.join(30)


segment = st.one_of(
    st.sampled_from(["start", "fail", "log", "0", "1", "255", "256", "999", "-1", "", "%00"]),
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"),
        max_size=40,
    ),
    st.builds(lambda: str(uuid.uuid4())),
)
query = st.dictionaries(
    st.sampled_from(["rid", "create", "x"]),
    st.one_of(st.builds(lambda: str(uuid.uuid4())), st.text(max_size=20)),
    max_size=3,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(["uuid", "slug", "random"]),
    extra=st.lists(segment, max_size=3),
    params=query,
    method=st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE"]),
    body=st.binary(max_size=6000),
)
def test_no_ping_request_gets_a_500(
    running: tuple[str, str, str],
    kind: str,
    extra: list[str],
    params: dict[str, str],
    method: str,
    body: bytes,
) -> None:
    base_url, monitor_uuid, ping_key = running
    head = {"uuid": [monitor_uuid], "slug": [ping_key, "target"], "random": []}[kind]
    path = "/ping/" + "/".join(head + extra)
    with httpx.Client(base_url=base_url, timeout=10) as client:
        response = client.request(method, path, params=params, content=body or None)
    assert response.status_code in EXPECTED, (path, params, response.status_code, response.text)
    if response.status_code == 413:
        assert len(body) > 5000
