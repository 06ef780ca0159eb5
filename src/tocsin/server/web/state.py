"""What every request handler can reach: ``request.app.state.tocsin`` is a ``ServerState``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from tocsin.server.storage.database import Database
from tocsin.server.storage.projects import Project
from tocsin.settings import Settings

if TYPE_CHECKING:
    from tocsin.server.engines import Engines


def _ignore(_monitor_id: int, _deadline: datetime | None) -> None:
    return None


@dataclass
class ServerState:
    """Shared server objects, set up by the application's lifespan."""

    settings: Settings
    database: Database
    project: Project
    # Tell the deadline watch that a monitor's next deadline changed (API edits, pause).
    watch: Callable[[int, datetime | None], None] = field(default=_ignore)
    # The running server's engines (``None`` where the API is served alone, as in tests).
    engines: Engines | None = None
