"""The memory of finished days behind status pages (and their JSON), on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tocsin.server.dashboard import past_days
from tocsin.server.dashboard.past_days import PastDays
from tocsin.server.dashboard.public_state import window_start
from tocsin.server.storage.database import Database


async def test_a_full_memory_starts_over_and_still_answers_every_item(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(past_days, "MAX_ENTRIES", 2)
    past = PastDays()
    now = datetime.now(UTC)
    async with db.read() as conn:
        await past.probed(conn, [(1, ""), (2, "")], window_start(now), now)
        # Item (1, "") is kept, (3, "") is new: the memory overflows and starts over.
        found = await past.probed(conn, [(1, ""), (3, "")], window_start(now), now)
    assert set(found) == {(1, ""), (3, "")}
    assert all(figures.by_day == {} for figures in found.values())  # no such monitors
