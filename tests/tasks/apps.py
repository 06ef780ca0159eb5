"""Apps the HTTP tests serve with real servers (gunicorn gthread, uvicorn).

Owner check: the ``X-User`` header must equal the task's owner. ``X-Admin: 1`` is privileged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tocsin.tasks.store import TaskStore


def make_store(url: str, ttl: float = 60.0) -> TaskStore:
    """A store for ``url``: ``redis://`` or an SQLAlchemy URL."""
    if url.startswith("redis://"):
        from tocsin.tasks.redis_store import RedisTaskStore

        return RedisTaskStore.from_url(url, ttl=timedelta(seconds=ttl))
    from tocsin.tasks.sql_store import SqlTaskStore

    return SqlTaskStore.from_url(url, ttl=timedelta(seconds=ttl), poll_interval=0.1)


def authorize(task: Any, request: Any) -> bool:
    return bool(request.headers.get("X-User") == task.owner)


def privileged(request: Any) -> bool:
    return bool(request.headers.get("X-Admin") == "1")


def create_flask_app(url: str, keepalive: float = 0.5, rq_hooks: bool = False) -> Any:
    from flask import Flask

    from tocsin.tasks.flask_blueprint import task_blueprint

    store = make_store(url)
    app = Flask(__name__)
    hooks: dict[str, Any] = {}
    if rq_hooks:
        from redis import Redis

        from tocsin.tasks.rq import cancel_hook, retry_hook

        connection = Redis.from_url(url)
        hooks = {"on_cancel": cancel_hook(connection), "on_retry": retry_hook(connection)}
    app.register_blueprint(
        task_blueprint(
            store, authorize=authorize, privileged=privileged, keepalive=keepalive, **hooks
        ),
        url_prefix="/tasks",
    )

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    return app


def create_asgi_app(url: str, keepalive: float = 0.5) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    from tocsin.tasks.asgi_routes import task_app

    store = make_store(url)

    async def healthz(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Mount(
                "/tasks",
                task_app(
                    store,
                    authorize=authorize,
                    privileged=privileged,
                    keepalive=keepalive,
                    poll_interval=0.1,
                ),
            ),
        ]
    )
