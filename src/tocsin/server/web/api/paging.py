"""Paging for every list: ``limit`` (at most ``MAX_LIMIT``) and an opaque keyset ``cursor``.

A page answers ``{"<items>": [...], "next": "<URL of the next page>" | null}`` and, when
there is a next page, ``Link: <URL>; rel="next"``. A cursor holds the sort key of the
last item shown (a name, a ping number, or a time and id: see ``time_key``) and the list
it belongs to, so pages stay whole while items are added or deleted, and a cursor of one
list is refused by another.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Request, Response

from tocsin.errors import ValidationError
from tocsin.server.storage.history_pages import TimeKey

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT}"),
]
Cursor = Annotated[
    str | None,
    Query(
        description="where the page starts: the `cursor` of the previous page's `next` URL",
        pattern="^[A-Za-z0-9_-]{1,2000}$",
    ),
]

KeyT = TypeVar("KeyT", str, int)
ItemT = TypeVar("ItemT")

_BAD_CURSOR = "is not a cursor of this list: take it from the previous page's next URL"
# Flip cursors held a flip id until flips were paged by time (on their monitor's index).
_OLD_CURSOR = (
    "is not a cursor of this list: it may come from an older version of tocsin;"
    " start again from the first page"
)
MAX_ID = 2**63 - 1  # the largest id either database stores


def encode_cursor(listing: str, key: str | int) -> str:
    """An opaque cursor for ``listing`` that starts after the item with sort key ``key``."""
    raw = json.dumps([listing, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _refused(message: str = _BAD_CURSOR) -> ValidationError:
    return ValidationError("invalid request", {"cursor": message})


def _raw_key(listing: str, cursor: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (ValueError, binascii.Error):
        data = None
    if not isinstance(data, list) or len(data) != 2 or data[0] != listing:
        raise _refused()
    return data[1]


def decode_cursor(listing: str, cursor: str | None, key_type: type[KeyT]) -> KeyT | None:
    """The sort key inside ``cursor``; ``ValidationError`` (422) if it is not one of ours."""
    if cursor is None:
        return None
    key = _raw_key(listing, cursor)
    if type(key) is not key_type:
        raise _refused()
    found: KeyT = key
    return found


def time_key(at: datetime, row_id: int) -> str:
    """The cursor key of an item of a list ordered by time: ``<ISO time>/<id>``."""
    return f"{at.isoformat()}/{row_id}"


def parse_time_key(text: str) -> TimeKey | None:
    """The ``(time, id)`` a ``time_key`` wrote, in UTC; ``None`` for anything else,
    including what the database could not take (a naive time, which would be read as
    local time; an id past 64 bits; a time that leaves the calendar in UTC)."""
    at_text, _, id_text = text.rpartition("/")
    if not (id_text.isascii() and id_text.isdigit() and len(id_text) <= len(str(MAX_ID))):
        return None
    try:
        written = datetime.fromisoformat(at_text)
        at = written.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    row_id = int(id_text)
    if written.tzinfo is None or not 0 < row_id <= MAX_ID:
        return None
    return at, row_id


def decode_time_cursor(listing: str, cursor: str | None) -> TimeKey | None:
    """The ``(time, id)`` inside a cursor of a list ordered by time (see ``time_key``);
    ``ValidationError`` (422) if it is not one of ours, with its own words for a cursor
    that holds a bare id, as flip cursors did before."""
    if cursor is None:
        return None
    key = _raw_key(listing, cursor)
    if type(key) is int:
        raise _refused(_OLD_CURSOR)
    found = parse_time_key(key) if isinstance(key, str) else None
    if found is None:
        raise _refused()
    return found


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    """The items of one page, and the cursor of the next page (``None`` on the last)."""

    items: Sequence[ItemT]
    next_cursor: str | None


def cut(
    listing: str, found: Sequence[ItemT], limit: int, key: Callable[[ItemT], str | int]
) -> Page[ItemT]:
    """The page from ``found``, which the query fetched with ``limit + 1`` rows: an extra
    row means there is a next page, which starts after the last item shown."""
    if len(found) <= limit:
        return Page(found, None)
    shown = found[:limit]
    return Page(shown, encode_cursor(listing, key(shown[-1])))


def next_url(request: Request, response: Response, next_cursor: str | None) -> str | None:
    """The next page's URL (path and query: this one's with the new cursor), also sent
    as a ``Link`` header; ``None`` on the last page."""
    if next_cursor is None:
        return None
    url = request.url.include_query_params(cursor=next_cursor)
    link = f"{url.path}?{url.query}"
    response.headers["Link"] = f'<{link}>; rel="next"'
    return link
