"""Celery groups and chords as one tracked task group, run by a real prefork worker and
watched through the SSE endpoint (uvicorn + the Redis store's shared subscription)."""

from __future__ import annotations

from typing import Any

import pytest
from celery import chord, group

from tests.tasks.group_checks import assert_one_member_per_event, member_states, stream_group
from tests.tasks.helpers import serve
from tests.tasks.test_celery import celery_app, worker  # noqa: F401 (the fixtures)
from tocsin.tasks.celery import CeleryTracker, send_tracked_group
from tocsin.tasks.redis_store import RedisTaskStore

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("worker")]


def test_group_progress_rises_member_by_member(
    celery_app: tuple[Any, CeleryTracker],  # noqa: F811
    redis_url: str,
) -> None:
    app, _tracker = celery_app
    store = RedisTaskStore.from_url(redis_url)
    build = app.tasks["tests.build_report"]
    sent = send_tracked_group(group(build.s(3) for _ in range(3)), owner="alice", store=store)
    assert sent.id == sent.handle.id  # the group record's id is Celery's group id
    with serve("asgi", redis_url) as base:
        snapshots = stream_group(base, sent.id, user="alice")
    assert [snapshot["state"] for snapshot in snapshots][:: len(snapshots) - 1] == [
        "queued",
        "succeeded",
    ]
    percents = [snapshot["progress"]["percent"] for snapshot in snapshots[1:]]
    assert any(0 < percent < 100 for percent in percents)
    assert percents[-1] == 100
    assert_one_member_per_event(snapshots)
    member_ids = [result.id for result in sent.handle.results]
    assert list(member_states(snapshots)) == member_ids
    for seen in member_states(snapshots).values():
        assert seen == ["queued", "started", "progress", "succeeded"]
    assert sent.handle.get(timeout=10) == [{"rows": 30}] * 3
    store.close()


def test_a_failing_member_fails_the_group(
    celery_app: tuple[Any, CeleryTracker],  # noqa: F811
    redis_url: str,
) -> None:
    app, _tracker = celery_app
    store = RedisTaskStore.from_url(redis_url)
    build, broken = app.tasks["tests.build_report"], app.tasks["tests.broken"]
    canvas = group(build.s(2), broken.s(), build.s(1))
    sent = send_tracked_group(canvas, store=store)
    with serve("asgi", redis_url) as base:
        final = stream_group(base, sent.id)[-1]
    assert final["state"] == "failed"
    assert [m["state"] for m in final["members"]] == ["succeeded", "failed", "succeeded"]
    assert final["error"] == {
        "type": "ValueError",
        "message": "tests.broken: the report template is broken",
    }
    store.close()


def test_a_chord_ends_with_its_callback(
    celery_app: tuple[Any, CeleryTracker],  # noqa: F811
    redis_url: str,
) -> None:
    app, _tracker = celery_app
    store = RedisTaskStore.from_url(redis_url)
    build, total = app.tasks["tests.build_report"], app.tasks["tests.total_rows"]
    sent = send_tracked_group(chord([build.s(1), build.s(2)], total.s()), store=store)
    assert sent.id == sent.handle.parent.id
    with serve("asgi", redis_url) as base:
        snapshots = stream_group(base, sent.id)
    final = snapshots[-1]
    assert final["name"] == "chord"
    assert final["state"] == "succeeded"
    assert final["result"] == 30
    callback = final["members"][-1]
    assert (callback["id"], callback["name"], callback["callback"]) == (
        sent.handle.id,
        "tests.total_rows",
        True,
    )
    # The group stayed running after the header finished, until the callback did.
    header_done = [
        s for s in snapshots if [m["state"] for m in s["members"][:2]] == ["succeeded"] * 2
    ]
    assert header_done[0]["state"] == "progress"
    assert sent.handle.get(timeout=10) == 30
    store.close()


def test_a_chord_whose_header_failed_fails_without_its_callback(
    celery_app: tuple[Any, CeleryTracker],  # noqa: F811
    redis_url: str,
) -> None:
    app, _tracker = celery_app
    store = RedisTaskStore.from_url(redis_url)
    build, broken = app.tasks["tests.build_report"], app.tasks["tests.broken"]
    total = app.tasks["tests.total_rows"]
    sent = send_tracked_group(chord([build.s(1), broken.s()], total.s()), store=store)
    with serve("asgi", redis_url) as base:
        final = stream_group(base, sent.id)[-1]
    assert final["state"] == "failed"
    assert [m["state"] for m in final["members"]] == ["succeeded", "failed", "queued"]
    store.close()
