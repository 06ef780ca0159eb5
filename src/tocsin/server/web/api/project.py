"""``GET /api/v1/project``: the project's ping key and its slug ping URL pattern.

Any valid key may read it, read-only ones included: the ping key only lets one send pings
(and, with ``?create=1``, add heartbeat monitors up to the limit), and whoever watches a
project needs it to set up slug pings. It is not shown without a key.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from tocsin.server.storage.shapes import ProjectOut
from tocsin.server.web.api.auth import AuthenticatedRoute, server_state

router = APIRouter(prefix="/project", tags=["project"], route_class=AuthenticatedRoute)


@router.get("", response_model=ProjectOut, summary="The project's ping key for slug ping URLs")
async def get_project(request: Request) -> ProjectOut:
    """The project's name, its ping key, and the slug ping URL with ``{slug}`` standing
    for a monitor's slug (``/ping/<ping-key>/<slug>``, see docs/heartbeats.md)."""
    state = server_state(request)
    return ProjectOut.of(state.project, state.settings.base_url)
