"""``task_urls(store, ...)`` through Django's test clients, over a real Redis store."""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import AsyncClient, Client, override_settings
from django.urls import include, path

from tests.conftest import free_port
from tocsin.django.task_views import task_urls
from tocsin.tasks import Change, TaskRecord, TaskState
from tocsin.tasks.redis_store import RedisTaskStore


def serve(store: RedisTaskStore, **options: Any) -> override_settings:
    """A root URLconf with the task views under ``/tasks/``."""
    urls = types.ModuleType("task_test_urls")
    urls.urlpatterns = [path("tasks/", include(task_urls(store, **options)))]  # type: ignore[attr-defined]
    return override_settings(ROOT_URLCONF=urls)


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisTaskStore]:
    store = RedisTaskStore.from_url(redis_url)
    yield store
    store.close()


def owner_header(task: TaskRecord, request: HttpRequest) -> bool:
    return bool(request.headers.get("X-User") == task.owner)


def test_status_ownership_and_etag(store: RedisTaskStore) -> None:
    public = store.create("export")
    mine = store.create("report", owner="alice")
    with serve(store, authorize=owner_header):
        client = Client()
        response = client.get(f"/tasks/{public.id}")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response["Retry-After"] == "2"
        assert (response.json()["id"], response.json()["state"]) == (public.id, "queued")
        again = client.get(f"/tasks/{public.id}", headers={"If-None-Match": response["ETag"]})
        assert again.status_code == 304
        # Another user's task, an unknown id and garbage all look the same.
        for task_id in (mine.id, "0" * 32, "not-an-id"):
            missing = client.get(f"/tasks/{task_id}")
            assert (missing.status_code, missing.json()) == (404, {"error": "no such task"})
        owned = client.get(f"/tasks/{mine.id}", headers={"X-User": "alice"})
        assert owned.status_code == 200
        assert "owner" not in owned.json()


def test_cancel_retry_and_methods(store: RedisTaskStore) -> None:
    task = store.create("export")
    retried: list[str] = []
    with serve(store, on_retry=lambda t: retried.append(t.id)):
        client = Client()
        assert client.get(f"/tasks/{task.id}/cancel").status_code == 405
        cancelled = client.post(f"/tasks/{task.id}/cancel")
        assert (cancelled.status_code, cancelled.json()["state"]) == (202, "cancelled")
        assert client.post(f"/tasks/{task.id}/cancel").status_code == 409
        reopened = client.post(f"/tasks/{task.id}/retry")
        assert (reopened.status_code, reopened.json()["state"]) == (202, "queued")
        assert retried == [task.id]
    with serve(store):
        assert client.post(f"/tasks/{task.id}/retry").status_code == 404  # no on_retry hook
        # The POST views stay behind Django's CSRF protection.
        guarded = Client(enforce_csrf_checks=True).post(f"/tasks/{task.id}/cancel")
        assert guarded.status_code == 403
    assert store.get(task.id).state is TaskState.QUEUED  # type: ignore[union-attr]


def sse_events(body: bytes) -> list[str]:
    return [line for line in body.decode().split("\n") if line.startswith("event: ")]


def test_events_stream_sync_and_asgi(store: RedisTaskStore) -> None:
    task = store.create("export")
    store.update(task.id, Change(TaskState.STARTED))
    store.update(task.id, Change(TaskState.SUCCEEDED, result={"rows": 3}))
    with serve(store):
        response = Client().get(f"/tasks/{task.id}/events")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/event-stream"
        assert response["X-Accel-Buffering"] == "no"
        body = b"".join(response.streaming_content)
        assert body.startswith(b"retry: 2000\n\n")
        assert sse_events(body) == ["event: task"]
        assert b'"state":"succeeded"' in body
        # After the end, a reconnect with the last id gets 204: EventSource stops.
        last_id = next(
            line.removeprefix("id: ")
            for line in body.decode().split("\n")
            if line.startswith("id: ")
        )
        done = Client().get(f"/tasks/{task.id}/events", headers={"Last-Event-ID": last_id})
        assert done.status_code == 204


def test_events_stream_delivers_live_changes(store: RedisTaskStore) -> None:
    task = store.create("export")
    with serve(store, keepalive=0.5):
        response = Client().get(f"/tasks/{task.id}/events")
        chunks = iter(response.streaming_content)
        assert next(chunks) == b"retry: 2000\n\n"
        assert b'"state":"queued"' in next(chunks)
        store.update(task.id, Change(TaskState.SUCCEEDED))
        rest = b"".join(chunks)  # ends after the terminal state
    assert b'"state":"succeeded"' in rest


async def test_events_stream_under_asgi(store: RedisTaskStore) -> None:
    task = store.create("export")
    with serve(store, keepalive=0.5):
        response = await AsyncClient().get(f"/tasks/{task.id}/events")
        assert response.status_code == 200
        chunks = aiter(response.streaming_content)  # streamed, not read to the end first
        assert await anext(chunks) == b"retry: 2000\n\n"
        assert b'"state":"queued"' in await anext(chunks)
        store.update(task.id, Change(TaskState.FAILED))
        rest = b"".join([chunk async for chunk in chunks])
    assert b'"state":"failed"' in rest


def test_store_down_is_503_with_retry_after() -> None:
    down = RedisTaskStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    with serve(down):
        response = Client().get(f"/tasks/{'a' * 32}")
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json() == {"error": "task status is unavailable right now"}
