"""The server application: ping routes, the REST API, ``/metrics``, and the engines.

``create_app(settings)`` builds the ASGI app. ``/ping/...`` goes straight to a raw ASGI
handler (the hot path: no FastAPI middleware, router or request objects); everything
else goes to the FastAPI app with the REST API and OpenAPI docs. The FastAPI app's
lifespan opens the database and starts the three background engines: the group-commit
ping writer, the deadline watch and the alert delivery worker.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tocsin import __version__
from tocsin.server.alerts.delivery import DeliveryWorker
from tocsin.server.background import cancel_and_wait
from tocsin.server.ingest.pruning import prune_forever
from tocsin.server.ingest.requests import PingRequest
from tocsin.server.ingest.writer import BatchResult, PingWriter
from tocsin.server.storage.database import Database
from tocsin.server.storage.projects import default_project
from tocsin.server.watch.deadlines import DeadlineResult, DeadlineWatch
from tocsin.server.web import pings
from tocsin.server.web.api import api_router, install_error_handlers
from tocsin.server.web.metrics import CONTENT_TYPE, ServerMetrics
from tocsin.server.web.state import ServerState
from tocsin.settings import Settings

logger = logging.getLogger(__name__)


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus exposition."""
    metrics: ServerMetrics = request.app.state.metrics
    state: ServerState = request.app.state.tocsin
    return Response(await metrics.render(state.database), media_type=CONTENT_TYPE)


async def health_endpoint(request: Request) -> Response:
    """The server's own liveness: answers when the process serves requests."""
    return JSONResponse({"status": "pass", "version": __version__})


def create_app(settings: Settings) -> TocsinApp:
    """Build the server's ASGI app for ``settings`` (migrations must already be applied)."""
    metrics = ServerMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url)
        async with database.read() as conn:
            project = await default_project(conn)
        delivery = DeliveryWorker(database, on_result=metrics.delivery)
        watch = DeadlineWatch(
            database,
            base_url=settings.base_url,
            reload_seconds=settings.deadline_reload_seconds,
            on_fired=lambda result: _after_deadlines(result, metrics, delivery),
        )

        def after_batch(result: BatchResult, batch: list[PingRequest]) -> None:
            for monitor_id, deadline in result.deadlines.items():
                watch.watch(monitor_id, deadline)
            delivery.send(result.alerts)
            metrics.ping_batch(result, batch)

        writer = PingWriter(
            database,
            base_url=settings.base_url,
            batch_max=settings.writer_batch_max,
            concurrency=1 if database.is_sqlite else settings.writer_concurrency,
            on_commit=after_batch,
        )
        app.state.tocsin = ServerState(settings, database, project, watch=watch.watch)
        app.state.writer = writer
        app.state.metrics = metrics
        writer.start()
        watch.start()
        delivery.start()
        pruner = prune_forever(database, settings.ping_history)
        logger.info(
            "tocsin server ready database=%s base_url=%s", database.dialect, settings.base_url
        )
        try:
            yield
        finally:
            await cancel_and_wait(pruner)
            await writer.stop()
            await watch.stop()
            await delivery.stop()
            await database.dispose()

    app = FastAPI(
        title="tocsin",
        version=__version__,
        description="Heartbeat monitors, alerts and the REST API of a tocsin server.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.router.routes.append(Route("/metrics", metrics_endpoint, include_in_schema=False))
    app.router.routes.append(Route("/livez", health_endpoint, include_in_schema=False))
    install_error_handlers(app)
    app.include_router(api_router())
    return TocsinApp(app, pings.PingApp(app.state))


class TocsinApp:
    """Routes ``/ping/`` to the bare ping app and everything else to the FastAPI app."""

    def __init__(self, api: FastAPI, ping_app: pings.PingApp) -> None:
        self.api = api
        self.ping_app = ping_app
        self.state = api.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "http" and scope["path"].startswith(pings.PREFIX):
            await self.ping_app(scope, receive, send)
        else:
            await self.api(scope, receive, send)


def _after_deadlines(
    result: DeadlineResult, metrics: ServerMetrics, delivery: DeliveryWorker
) -> None:
    metrics.deadlines_fired(result)
    delivery.send(result.alerts)
