"""``GET /api/v1/info``: which tocsin this is and which database it uses; no key needed.

``tocsin apply`` and ``tocsin status`` on the server's machine compare it with the database
they open, and warn when a server on the configured port uses another one. It shows only
the database's kind and a fingerprint that reveals nothing (never its URL), so it needs no
key.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tocsin import __version__
from tocsin.server.web.api.auth import server_state

router = APIRouter(tags=["info"])


class DatabaseInfo(BaseModel):
    """The database a server uses, without saying where it is."""

    kind: Literal["sqlite", "postgresql"]
    fingerprint: str = Field(
        description="equal for every server and command using the same database"
    )


class ServerInfo(BaseModel):
    """What ``GET /api/v1/info`` answers."""

    version: str
    database: DatabaseInfo


@router.get(
    "/info",
    response_model=ServerInfo,
    summary="The server's version and database kind (no API key needed)",
    openapi_extra={"security": []},
)
async def get_info(request: Request) -> ServerInfo:
    """The version of tocsin and the kind and fingerprint of the database it uses."""
    state = server_state(request)
    database = DatabaseInfo(
        kind="sqlite" if state.database.is_sqlite else "postgresql",
        fingerprint=state.project.fingerprint,
    )
    return ServerInfo(version=__version__, database=database)
