"""Shared checks of the worker-driven task-group tests (RQ and Celery)."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.tasks.helpers import iter_sse


def stream_group(
    base_url: str, group_id: str, user: str = "", timeout: float = 60
) -> list[dict[str, Any]]:
    """Every snapshot of the group from ``GET /tasks/<id>/events`` as ``user`` (the test
    apps' ``X-User``), replayed from the start (``Last-Event-ID: 0-0``) and then live, until
    the server ends the stream."""
    snapshots: list[dict[str, Any]] = []
    headers = {"Last-Event-ID": "0-0", "X-User": user}
    with httpx.stream(
        "GET", f"{base_url}/tasks/{group_id}/events", headers=headers, timeout=timeout
    ) as response:
        assert response.status_code == 200, response.read()
        for message in iter_sse(response):
            if message.event == "task":
                snapshots.append(message.json)
    assert snapshots, "the stream sent no event"
    return snapshots


def assert_one_member_per_event(snapshots: list[dict[str, Any]]) -> None:
    """Each group event after the first is exactly one member's change, and the group's
    progress never goes back."""
    for before, after in itertools.pairwise(snapshots):
        changed = [
            new["id"]
            for old, new in zip(before["members"], after["members"], strict=True)
            if new["version"] != old["version"]
        ]
        assert len(changed) == 1, (before, after)
        old_percent = (before["progress"] or {}).get("percent") or 0
        assert after["progress"]["percent"] >= old_percent


def member_states(snapshots: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each member's states as the group's events showed them, without repeats."""
    seen: dict[str, list[str]] = {}
    for snapshot in snapshots:
        for member in snapshot["members"]:
            states = seen.setdefault(member["id"], [])
            if not states or states[-1] != member["state"]:
                states.append(member["state"])
    return seen
