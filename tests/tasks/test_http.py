"""The HTTP endpoints over real servers: Flask on gunicorn gthread, Starlette on uvicorn.

Each test runs on Redis (push through XREAD BLOCK / one shared pub/sub subscription) and on
SQLite (the polling fallback).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.tasks.apps import make_store
from tests.tasks.helpers import SseMessage, iter_sse, serve
from tocsin.tasks import Change, Progress, TaskError, TaskState, TaskStore

pytestmark = pytest.mark.slow


@pytest.fixture(params=["flask", "asgi"])
def server_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["redis", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return f"sqlite:///{tmp_path / 'tasks.db'}"


@pytest.fixture
def store(store_url: str) -> Iterator[TaskStore]:
    store = make_store(store_url)
    yield store
    store.close()


@pytest.fixture
def base_url(server_kind: str, store_url: str, store: TaskStore) -> Iterator[str]:
    # ``store`` first, so the SQL tables exist before the server starts.
    with serve(server_kind, store_url) as url:
        yield url


def events_only(messages: Iterator[SseMessage]) -> Iterator[SseMessage]:
    return (m for m in messages if m.comment is None and m.retry is None)


def test_status_json_etag_and_ownership(base_url: str, store: TaskStore) -> None:
    mine = store.create("report", owner="alice")
    public = store.create("export")
    with httpx.Client(base_url=base_url, timeout=10) as client:
        response = client.get(f"/tasks/{mine.id}", headers={"X-User": "alice"})
        assert response.status_code == 200
        body = response.json()
        assert body["state"] == "queued"
        assert body["terminal"] is False
        assert "owner" not in body
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Retry-After"] == "2"
        tag = response.headers["ETag"]
        again = client.get(f"/tasks/{mine.id}", headers={"X-User": "alice", "If-None-Match": tag})
        assert again.status_code == 304
        # Not the owner, no user, unknown id: all the same 404.
        for headers in ({"X-User": "mallory"}, {}):
            denied = client.get(f"/tasks/{mine.id}", headers=headers)
            assert denied.status_code == 404
            assert denied.json() == {"error": "no such task"}
            assert client.get(f"/tasks/{mine.id}/events", headers=headers).status_code == 404
            assert client.post(f"/tasks/{mine.id}/cancel", headers=headers).status_code == 404
        assert client.get(f"/tasks/{'0' * 32}").status_code == 404
        # Not an id at all (here: the Redis key of the task's event stream): 404 too.
        assert client.get(f"/tasks/{mine.id}:events").status_code == 404
        # A task without owner is visible to whoever knows its id.
        assert client.get(f"/tasks/{public.id}").status_code == 200

        store.update(mine.id, Change(TaskState.STARTED))
        store.update(
            mine.id,
            Change(TaskState.FAILED, error=TaskError("ValueError", "bad row", "Traceback: x")),
        )
        failed = client.get(f"/tasks/{mine.id}", headers={"X-User": "alice", "If-None-Match": tag})
        assert failed.status_code == 200
        assert failed.headers["ETag"] != tag
        assert "Retry-After" not in failed.headers
        assert failed.json()["error"] == {"type": "ValueError", "message": "bad row"}
        admin = client.get(f"/tasks/{mine.id}", headers={"X-User": "alice", "X-Admin": "1"})
        assert admin.json()["error"]["traceback"] == "Traceback: x"


def test_sse_order_keepalive_end_and_resume(base_url: str, store: TaskStore) -> None:
    task = store.create("report")
    url = f"/tasks/{task.id}/events"
    with (
        httpx.Client(base_url=base_url, timeout=10) as client,
        client.stream("GET", url) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Accel-Buffering"] == "no"
        messages = iter_sse(response)
        assert next(messages).retry == 2000
        first = next(messages)
        assert first.event == "task"
        assert first.json["state"] == "queued"
        # Silence: a keep-alive comment arrives (interval 0.5 s in these tests).
        assert next(messages).comment == "keep-alive"
        store.update(task.id, Change(TaskState.STARTED))
        store.update(task.id, Change(TaskState.PROGRESS, progress=Progress(current=2, total=5)))
        store.update(task.id, Change(TaskState.SUCCEEDED, result={"rows": 12}))
        rest = list(events_only(messages))  # ends by itself after the terminal state
    assert [m.json["state"] for m in rest] == ["started", "progress", "succeeded"]
    assert rest[1].json["progress"]["percent"] == 40.0
    assert rest[2].json["result"] == {"rows": 12}
    ids = [first.id, *(m.id for m in rest)]
    assert all(ids)
    assert len(set(ids)) == 4

    with httpx.Client(base_url=base_url, timeout=10) as client:
        # Resume after "started": the missed events, then the end.
        with client.stream("GET", url, headers={"Last-Event-ID": str(rest[0].id)}) as response:
            resumed = list(events_only(iter_sse(response)))
        assert [m.json["state"] for m in resumed] == ["progress", "succeeded"]
        assert [m.id for m in resumed] == ids[2:]
        # Reconnect after the end: 204 tells EventSource to stop.
        done = client.get(url, headers={"Last-Event-ID": str(ids[-1])})
        assert done.status_code == 204
        # A new client on a finished task gets the final snapshot and the end.
        with client.stream("GET", url) as response:
            final = list(events_only(iter_sse(response)))
        assert [m.json["state"] for m in final] == ["succeeded"]


def test_cancel_endpoint(base_url: str, store: TaskStore) -> None:
    task = store.create("report", owner="bob")
    with httpx.Client(base_url=base_url, timeout=10) as client:
        response = client.post(f"/tasks/{task.id}/cancel", headers={"X-User": "bob"})
        assert response.status_code == 202
        assert response.json()["state"] == "cancelled"
        again = client.post(f"/tasks/{task.id}/cancel", headers={"X-User": "bob"})
        assert again.status_code == 409
        # No on_retry hook configured: the retry endpoint does not exist.
        assert client.post(f"/tasks/{task.id}/retry", headers={"X-User": "bob"}).status_code == 404
    current = store.get(task.id)
    assert current is not None
    assert current.state is TaskState.CANCELLED


def test_streams_do_not_block_other_requests(base_url: str, store: TaskStore) -> None:
    """Several open streams leave the server answering (gthread / asyncio)."""
    task = store.create("report")
    with httpx.Client(base_url=base_url, timeout=10) as client:
        streams = [client.stream("GET", f"/tasks/{task.id}/events") for _ in range(4)]
        opened = [s.__enter__() for s in streams]
        try:
            began = time.monotonic()
            assert client.get("/healthz").status_code == 200
            # A sync worker would block here until a stream ends; allow for a loaded machine.
            assert time.monotonic() - began < 3.0
        finally:
            for s, r in zip(streams, opened, strict=True):
                r.close()
                s.__exit__(None, None, None)


def test_asgi_stream_survives_a_lost_pubsub_connection(redis_url: str) -> None:
    """Kill the server's shared subscription: the stream re-reads the log after reconnecting."""
    import redis

    store = make_store(redis_url)
    admin = redis.Redis.from_url(redis_url)
    db = int(redis_url.rsplit("/", 1)[1])
    task = store.create("report")
    with (
        serve("asgi", redis_url) as base,
        httpx.Client(base_url=base, timeout=10) as client,
        client.stream("GET", f"/tasks/{task.id}/events") as response,
    ):
        messages = events_only(iter_sse(response))
        assert next(messages).json["state"] == "queued"
        killed = 0
        for entry in admin.client_list(_type="pubsub"):
            if int(entry["db"]) == db:  # only this test's server, never others on the machine
                admin.client_kill_filter(_id=entry["id"])
                killed += 1
        assert killed == 1
        store.update(task.id, Change(TaskState.STARTED))  # published while nobody listens
        store.update(task.id, Change(TaskState.SUCCEEDED))
        states = [m.json["state"] for m in messages]
    assert states == ["started", "succeeded"]
    admin.close()
    store.close()


@pytest.mark.parametrize("kind", ["flask", "asgi"])
def test_store_down_answers_503(kind: str) -> None:
    """Nothing listens where the store's Redis should be: 503 + Retry-After, not a 500."""
    from tests.conftest import free_port

    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    with serve(kind, dead_redis) as base, httpx.Client(base_url=base, timeout=10) as client:
        for path in (f"/tasks/{'a' * 32}", f"/tasks/{'a' * 32}/events"):
            response = client.get(path)
            assert response.status_code == 503
            assert response.json() == {"error": "task status is unavailable right now"}
            assert response.headers["Retry-After"] == "2"


def test_every_web_process_streams_the_same_updates(redis_url: str) -> None:
    """A Flask (gunicorn) and an ASGI (uvicorn) process stream one task from one Redis."""
    store = make_store(redis_url)
    task = store.create("report")
    with (
        serve("flask", redis_url) as flask_base,
        serve("asgi", redis_url) as asgi_base,
        httpx.Client(timeout=10) as client,
        client.stream("GET", f"{flask_base}/tasks/{task.id}/events") as first,
        client.stream("GET", f"{asgi_base}/tasks/{task.id}/events") as second,
    ):
        streams = [events_only(iter_sse(first)), events_only(iter_sse(second))]
        for messages in streams:
            assert next(messages).json["state"] == "queued"
        store.update(task.id, Change(TaskState.PROGRESS, progress=Progress(40)))
        store.update(task.id, Change(TaskState.SUCCEEDED))
        received = [[(m.id, m.json["state"]) for m in messages] for messages in streams]
    assert received[0] == received[1]
    assert [state for _, state in received[0]] == ["progress", "succeeded"]
    store.close()
