"""The server application: ping routes, the REST API, ``/metrics``, and the engines.

``create_app(settings)`` builds the ASGI app. ``/ping/...`` goes straight to a raw ASGI
handler (the hot path: no FastAPI middleware, router or request objects); everything
else goes to the FastAPI app with the REST API and OpenAPI docs. The FastAPI app's
lifespan opens the database and starts the background engines (``Engines``: the
group-commit ping writer, the deadline watch, the alert delivery worker and the ping
pruner), which own what happens after their commits.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tocsin import __version__
from tocsin.server.dashboard import install_dashboard
from tocsin.server.domain.ping_urls import PING_PREFIX
from tocsin.server.engines import Engines
from tocsin.server.storage.database import Database
from tocsin.server.storage.projects import default_project
from tocsin.server.web import pings, readiness
from tocsin.server.web.api import api_router, install_error_handlers
from tocsin.server.web.metrics import CONTENT_TYPE, ServerMetrics
from tocsin.server.web.proxy_headers import TrustedProxyHeaders
from tocsin.server.web.state import ServerState
from tocsin.settings import Settings

logger = logging.getLogger(__name__)


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus exposition."""
    metrics: ServerMetrics = request.app.state.metrics
    state: ServerState = request.app.state.tocsin
    return Response(await metrics.render(state.database), media_type=CONTENT_TYPE)


def create_app(settings: Settings) -> TocsinApp:
    """Build the server's ASGI app for ``settings`` (migrations must already be applied)."""
    metrics = ServerMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url)
        async with database.read() as conn:
            project = await default_project(conn)
        engines = Engines(settings, database, metrics)
        app.state.tocsin = ServerState(
            settings, database, project, watch=engines.monitor_changed, engines=engines
        )
        app.state.metrics = metrics
        engines.start()
        logger.info(
            "tocsin server ready database=%s base_url=%s", database.dialect, settings.base_url
        )
        try:
            yield
        finally:
            await engines.stop()
            await database.dispose()

    # /docs and /redoc load Swagger UI and ReDoc from files the fastapi-offline package
    # ships, not from a CDN, so they work on a network without internet access.
    app = FastAPIOffline(
        title="tocsin",
        version=__version__,
        description="Heartbeat monitors, alerts and the REST API of a tocsin server.",
        docs_url="/docs",
        redoc_url="/redoc",
        static_url="/docs/static",
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.router.routes.append(Route("/metrics", metrics_endpoint, include_in_schema=False))
    app.router.routes.append(Route("/livez", readiness.livez, include_in_schema=False))
    app.router.routes.append(Route("/readyz", readiness.readyz, include_in_schema=False))
    install_error_handlers(app)
    app.include_router(api_router())
    install_dashboard(app)
    return TocsinApp(app, pings.PingApp(app.state), trust_proxy=settings.trust_proxy)


class TocsinApp:
    """Routes ``/ping/`` to the bare ping app and everything else to the FastAPI app."""

    def __init__(self, api: FastAPI, ping_app: pings.PingApp, *, trust_proxy: bool = False) -> None:
        self.api = api
        self.ping_app = ping_app
        self.state = api.state
        self._entry: ASGIApp = TrustedProxyHeaders(self._route) if trust_proxy else self._route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        await self._entry(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PING_PREFIX):
            await self.ping_app(scope, receive, send)
        else:
            await self.api(scope, receive, send)
