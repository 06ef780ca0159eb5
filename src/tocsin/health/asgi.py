"""A raw ASGI app serving ``/healthz``, ``/livez`` and optional metrics.

It needs no framework. Mount it in Starlette or FastAPI with
``app.mount("/ops", HealthASGIApp(endpoint))`` (then ``/ops/healthz``), or serve it
alone with any ASGI server. Checks run in a worker thread, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tocsin.health.endpoint import HealthEndpoint, HTTPResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class HealthASGIApp:
    """ASGI application answering the health paths of one :class:`HealthEndpoint`."""

    def __init__(
        self,
        endpoint: HealthEndpoint,
        *,
        healthz_path: str = "/healthz",
        livez_path: str = "/livez",
        metrics_path: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.healthz_path = healthz_path
        self.livez_path = livez_path
        self.metrics_path = metrics_path

    async def respond(
        self, path: str, authorization: str | None, query: str = "", accept: str | None = None
    ) -> HTTPResponse:
        """The response for ``path`` (``query``: the raw query string)."""
        if path == self.livez_path:
            return self.endpoint.livez()
        if path == self.healthz_path:
            return await self.endpoint.ahealthz(authorization, query, accept)
        if self.metrics_path is not None and path == self.metrics_path:
            return await self.endpoint.ametrics(authorization, query)
        return self.endpoint.not_found()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point (HTTP only; lifespan events are acknowledged)."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path: str = scope.get("path", "/")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        authorization = accept = None
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"accept":
                accept = value.decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        response = await self.respond(path, authorization, query, accept)
        headers = [(k.lower().encode(), v.encode()) for k, v in response.headers]
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
