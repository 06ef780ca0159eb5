"""Paging for every list: ``limit`` (at most ``MAX_LIMIT``) and an opaque keyset ``cursor``.

A page answers ``{"<items>": [...], "next": "<URL of the next page>" | null}`` and, when
there is a next page, ``Link: <URL>; rel="next"``. A cursor holds the sort key of the
last item shown (a name, a ping number, a flip id) and the list it belongs to, so pages
stay whole while items are added or deleted, and a cursor of one list is refused by
another.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Query, Request, Response

from tocsin.errors import ValidationError

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


def encode_cursor(listing: str, key: str | int) -> str:
    """An opaque cursor for ``listing`` that starts after the item with sort key ``key``."""
    raw = json.dumps([listing, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(listing: str, cursor: str | None, key_type: type[KeyT]) -> KeyT | None:
    """The sort key inside ``cursor``; ``ValidationError`` (422) if it is not one of ours."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (ValueError, binascii.Error):
        data = None
    if (
        not isinstance(data, list)
        or len(data) != 2
        or data[0] != listing
        or type(data[1]) is not key_type
    ):
        raise ValidationError("invalid request", {"cursor": _BAD_CURSOR})
    key: KeyT = data[1]
    return key


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
