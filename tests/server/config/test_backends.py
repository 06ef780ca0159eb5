"""Both backends list whole lists in one JSON shape: the remote one follows the API's pages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.server.live import live_server
from tocsin.server.config.backends import LocalBackend, RemoteBackend
from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key


async def test_remote_lists_follow_every_page_and_match_the_local_ones(
    database_url: str, tmp_path: Path
) -> None:
    async with live_server(database_url, tmp_path) as server:
        for i in range(4):
            await server.create_channel(name=f"c{i}", kind="webhook", url="http://x.test/")
        for i in range(7):
            await server.create_monitor(name=f"m{i}", period=60, tags=["t"], channels=["c1"])
        async with server.database.write() as conn:
            made = await create_api_key(conn, "t", ApiKeyScope.WRITE, datetime.now(UTC))
        remote = RemoteBackend(server.base_url, made.key, page_size=3)
        local = LocalBackend(server.database, server.settings.base_url)
        async with remote.session(write=False) as far, local.session(write=False) as near:
            monitors = await far.list_monitors()
            channels = await far.list_channels()
            assert [m["name"] for m in monitors] == [f"m{i}" for i in range(7)]
            assert [c["name"] for c in channels] == [f"c{i}" for i in range(4)]
            # One shape, whichever way it is read.
            assert monitors == await near.list_monitors()
            assert channels == await near.list_channels()
