"""Caching of public answers (status pages, badges): shared caches may keep them 30 s (and
serve them 30 s more while they fetch a new copy), a client that has the current version
gets 304 by its ETag, and ``HEAD`` gets the headers of ``GET`` without the body.

``PublicPages`` keeps each status page's computed view in the server's memory for
``FRESH_SECONDS`` (within the same minute), so a crowd of visitors costs one computation
every few seconds, however large it is.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from starlette.requests import Request
from starlette.responses import Response

PUBLIC_CACHE_CONTROL = "public, max-age=30, stale-while-revalidate=30"
FRESH_SECONDS = 10.0
MAX_PAGES = 1000  # pages kept; past that the cache starts over

T = TypeVar("T")


def etag_of(body: bytes) -> str:
    """A strong ETag of ``body``."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def cacheable(request: Request, response: Response, etag: str | None = None) -> Response:
    """``response`` with an ETag of its body (``etag`` if already known), or 304 if the
    client's copy matches; without a body for ``HEAD``."""
    etag = etag or etag_of(bytes(response.body))
    response.headers["Cache-Control"] = PUBLIC_CACHE_CONTROL
    response.headers["ETag"] = etag
    offered = {
        tag.strip().removeprefix("W/")
        for tag in request.headers.get("if-none-match", "").split(",")
    }
    if etag in offered or "*" in offered:
        headers = {key: value for key, value in response.headers.items() if key != "content-length"}
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        # The headers GET would send, Content-Length included, and no body.
        return Response(status_code=response.status_code, headers=dict(response.headers))
    return response


@dataclass
class Rendered(Generic[T]):
    """A page's view as of ``minute``, and the bodies made from it so far, by format."""

    view: T
    minute: datetime
    made_at: float  # time.monotonic()
    bodies: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # format: (body, etag)

    def body(self, format_name: str, make: Callable[[T], bytes]) -> tuple[bytes, str]:
        """The body in ``format_name`` (made by ``make`` the first time) and its ETag."""
        found = self.bodies.get(format_name)
        if found is None:
            body = make(self.view)
            found = self.bodies[format_name] = (body, etag_of(body))
        return found


class PublicPages(Generic[T]):
    """One process's status page views, by slug, each fresh for ``FRESH_SECONDS`` within
    its minute. Concurrent requests for a page that is not fresh share one computation;
    ``clear()`` (after any change to a page) drops every view, and any computation under
    way is not kept."""

    def __init__(self, fresh_seconds: float = FRESH_SECONDS) -> None:
        self.fresh_seconds = fresh_seconds
        self._views: dict[str, Rendered[T]] = {}
        self._computing: dict[str, asyncio.Task[T | None]] = {}
        self._generation = 0

    def clear(self) -> None:
        """Forget every view (a page changed)."""
        self._views.clear()
        self._computing.clear()
        self._generation += 1

    async def get(
        self, slug: str, minute: datetime, compute: Callable[[], Awaitable[T | None]]
    ) -> Rendered[T] | None:
        """The view of the page ``slug`` as of ``minute``; computed by ``compute`` (which
        answers ``None`` for no such page; that answer is not kept) unless fresh."""
        found = self._views.get(slug)
        if (
            found is not None
            and found.minute == minute
            and time.monotonic() - found.made_at < self.fresh_seconds
        ):
            return found
        task = self._computing.get(slug)
        if task is None:
            task = asyncio.ensure_future(compute())
            self._computing[slug] = task
            generation = self._generation
            task.add_done_callback(lambda done: self._done(slug, minute, generation, done))
        # Shielded: a visitor who leaves does not cancel the others' computation.
        view = await asyncio.shield(task)
        if view is None:
            return None
        kept = self._views.get(slug)
        if kept is not None and kept.minute == minute:
            return kept
        return Rendered(view, minute, time.monotonic())

    def _done(
        self, slug: str, minute: datetime, generation: int, task: asyncio.Task[T | None]
    ) -> None:
        if self._computing.get(slug) is task:
            del self._computing[slug]
        if generation != self._generation or task.cancelled() or task.exception() is not None:
            return
        view = task.result()
        if view is None:
            self._views.pop(slug, None)
            return
        if len(self._views) >= MAX_PAGES:
            self._views.clear()
        self._views[slug] = Rendered(view, minute, time.monotonic())


def public_pages(app: Any) -> PublicPages[Any]:
    """The app's cache of status page views (one per app, so per server process)."""
    pages: PublicPages[Any] | None = getattr(app.state, "status_page_cache", None)
    if pages is None:
        pages = app.state.status_page_cache = PublicPages()
    return pages


def forget_public_pages(app: Any) -> None:
    """A page, its address or its items changed: compute every page anew."""
    public_pages(app).clear()
