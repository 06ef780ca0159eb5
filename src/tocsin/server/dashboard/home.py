"""The home page: every monitor of the project, a page at a time, with its state."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from tocsin.server.dashboard.auth import Viewer
from tocsin.server.dashboard.pages import render
from tocsin.server.storage.monitors import list_monitors
from tocsin.server.web.api.auth import server_state

PAGE_SIZE = 50

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request, current: Viewer, after: str | None = None) -> Response:
    """The monitor list; ``after`` (a monitor name) is the keyset cursor of the next page."""
    state = server_state(request)
    async with state.database.read() as conn:
        monitors = await list_monitors(conn, state.project.id, after=after, limit=PAGE_SIZE + 1)
    more = len(monitors) > PAGE_SIZE
    monitors = monitors[:PAGE_SIZE]
    return render(
        request,
        "home.html",
        current=current,
        monitors=monitors,
        next_after=monitors[-1].name if more else None,
        paged=after is not None,
    )
