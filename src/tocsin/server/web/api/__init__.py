"""The REST API, version 1: monitors and channels over JSON, behind API keys.

``api_router()`` is mounted by the main application, which also calls
``install_error_handlers(app)`` so every error answers in one JSON shape. See docs/api.md.
"""

from __future__ import annotations

from fastapi import APIRouter, Security

from tocsin.server.web.api.auth import bearer_scheme, header_scheme
from tocsin.server.web.api.channel_test import router as channel_test_router
from tocsin.server.web.api.channels import router as channels_router
from tocsin.server.web.api.deliveries import router as deliveries_router
from tocsin.server.web.api.errors import install_error_handlers
from tocsin.server.web.api.holds import router as holds_router
from tocsin.server.web.api.incidents import router as incidents_router
from tocsin.server.web.api.info import router as info_router
from tocsin.server.web.api.maintenance import router as maintenance_router
from tocsin.server.web.api.monitors import router as monitors_router
from tocsin.server.web.api.project import router as project_router
from tocsin.server.web.api.results import router as results_router
from tocsin.server.web.api.schemas import AUTH_RESPONSES
from tocsin.server.web.api.status_pages import router as status_pages_router

__all__ = ["API_PREFIX", "api_router", "install_error_handlers"]

API_PREFIX = "/api/v1"


def api_router() -> APIRouter:
    """Every API route under ``/api/v1``; each one requires an API key."""
    router = APIRouter(
        prefix=API_PREFIX,
        # For the OpenAPI document: the schemes a client may use (checked by each route).
        dependencies=[Security(bearer_scheme), Security(header_scheme)],
        responses=AUTH_RESPONSES,
    )
    router.include_router(monitors_router)
    router.include_router(results_router)
    router.include_router(channels_router)
    router.include_router(channel_test_router)
    router.include_router(deliveries_router)
    router.include_router(incidents_router)
    router.include_router(holds_router)
    router.include_router(maintenance_router)
    router.include_router(project_router)
    router.include_router(status_pages_router)
    router.include_router(info_router)  # the one route that needs no key
    return router
