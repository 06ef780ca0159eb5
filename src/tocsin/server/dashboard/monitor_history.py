"""Paging the monitor page's history lists (checks, pings, state changes) by keyset cursor.

Each list is a *section* with its own cursor in the query string (``?results=``,
``?pings=``, ``?flips=``); no cursor is the newest page. A cursor is opaque (the API's
encoding, see ``web.api.paging``) and says which way it points: *older* pages start
before a row, *newer* pages just after one. A newer page that would reach the newest
row is the newest page itself, so *Newer* always ends on the live first page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.errors import ValidationError
from tocsin.server.dashboard.auth import PageError
from tocsin.server.storage.history_pages import TimeKey, flips_page, pings_page, results_page
from tocsin.server.web.api.paging import MAX_ID, decode_cursor, encode_cursor, parse_time_key

PAGE_SIZE = 20
ItemT = TypeVar("ItemT")


class Section(StrEnum):
    """A paged list of the monitor page; its value is the list's query parameter."""

    RESULTS = "results"
    PINGS = "pings"
    FLIPS = "flips"


class Way(StrEnum):
    """Which way a cursor points from its row."""

    OLDER = "older"
    NEWER = "newer"


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: ``way`` from the row with sort key ``key``."""

    way: Way
    key: Any  # TimeKey for results and flips, a ping number for pings


@dataclass(frozen=True)
class HistoryPage(Generic[ItemT]):
    """One page of a section, newest first, with the cursors of its neighbours: ``older``
    is ``None`` on the oldest page; ``newer`` is ``None`` on the newest page and ``""``
    when the newer page is the newest one."""

    section: Section
    items: Sequence[ItemT]
    cursor: str  # this page's own ("": the newest page)
    older: str | None
    newer: str | None


def _key_text(section: Section, key: Any) -> str | int:
    if section is Section.PINGS:
        return int(key)
    at, row_id = key
    return f"{at.isoformat()}/{row_id}"


def encode(section: Section, cursor: Cursor) -> str:
    """The opaque text of ``cursor`` in ``section``."""
    return encode_cursor(f"{section.value}.{cursor.way.value}", _key_text(section, cursor.key))


def decode(section: Section, text: str | None) -> Cursor | None:
    """The cursor ``text`` holds (``None`` for none or blank); a 400 page when it is not
    a cursor of this section."""
    if not text:
        return None
    key_type: type[Any] = int if section is Section.PINGS else str
    for way in Way:
        try:
            key = decode_cursor(f"{section.value}.{way.value}", text, key_type)
        except ValidationError:
            continue
        if isinstance(key, int):
            if 0 <= key <= MAX_ID:
                return Cursor(way, key)
            break
        found = parse_time_key(key) if isinstance(key, str) else None
        if found is None:
            break
        return Cursor(way, found)
    raise PageError(
        400, "Bad link", f"That link to a page of {section.value} is broken: open the newest page."
    )


def _sort_key(section: Section) -> Callable[[Any], Any]:
    if section is Section.PINGS:
        return lambda ping: ping.n
    if section is Section.RESULTS:
        return lambda result: (result.started_at, result.id)
    return lambda flip: (flip.created_at, flip.id)


async def _fetch(
    conn: AsyncConnection,
    section: Section,
    monitor_id: int,
    limit: int,
    cursor: Cursor | None,
) -> list[Any]:
    before = cursor.key if cursor is not None and cursor.way is Way.OLDER else None
    after = cursor.key if cursor is not None and cursor.way is Way.NEWER else None
    if section is Section.PINGS:
        return list(await pings_page(conn, monitor_id, limit, before=before, after=after))
    fetch = results_page if section is Section.RESULTS else flips_page
    time_before: TimeKey | None = before
    time_after: TimeKey | None = after
    return list(await fetch(conn, monitor_id, limit, before=time_before, after=time_after))


def newest_page(
    section: Section, found: Sequence[ItemT], size: int = PAGE_SIZE
) -> HistoryPage[ItemT]:
    """The newest page from ``found``: the newest rows, at least ``size + 1`` of them
    when there are more (the extra one says an older page exists)."""
    items = found[:size]
    older = None
    if len(found) > size:
        older = encode(section, Cursor(Way.OLDER, _sort_key(section)(items[-1])))
    return HistoryPage(section, items, "", older, None)


async def read_page(
    conn: AsyncConnection,
    section: Section,
    monitor_id: int,
    text: str | None,
    size: int = PAGE_SIZE,
) -> HistoryPage[Any]:
    """The page of ``section`` that the cursor ``text`` names (the newest for none)."""
    cursor = decode(section, text)
    found = await _fetch(conn, section, monitor_id, size + 1, cursor)
    if cursor is None or (cursor.way is Way.NEWER and len(found) <= size):
        if cursor is not None:  # fewer than a page is newer: that is the newest page
            found = await _fetch(conn, section, monitor_id, size + 1, None)
        return newest_page(section, found, size)
    key = _sort_key(section)
    older: str | None
    newer: str | None
    if cursor.way is Way.NEWER:
        items = found[1:]  # newest first; the extra row is the newest, past this page
        older = encode(section, Cursor(Way.OLDER, key(items[-1])))
        newer = encode(section, Cursor(Way.NEWER, key(items[0])))
    else:
        items = found[:size]
        has_older = len(found) > size
        older = encode(section, Cursor(Way.OLDER, key(items[-1]))) if has_older else None
        newer = encode(section, Cursor(Way.NEWER, key(items[0]))) if items else ""
    return HistoryPage(section, items, text or "", older, newer)
