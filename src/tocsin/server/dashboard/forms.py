"""Reading HTML form posts (``application/x-www-form-urlencoded``), with a size cap."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

FORM_MAX_BYTES = 64 * 1024


class FormTooLarge(Exception):
    """The posted form is larger than any dashboard form can be."""


async def _read_pairs(request: Request) -> list[tuple[str, str]]:
    """Every posted ``(name, value)`` in order, parsed once per request and kept on
    ``request.state``, so the CSRF check and the page handler read the same fields."""
    cached: list[tuple[str, str]] | None = getattr(request.state, "form_pairs", None)
    if cached is not None:
        return cached
    pairs: list[tuple[str, str]] = []
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > FORM_MAX_BYTES:
                raise FormTooLarge
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    request.state.form_pairs = pairs
    return pairs


async def read_form(request: Request) -> dict[str, str]:
    """The posted fields (the last value wins); empty for other content types."""
    return dict(await _read_pairs(request))


async def read_form_lists(request: Request) -> dict[str, list[str]]:
    """Every value posted under each name, in order: for a group of checkboxes with one
    name, or a hidden field that stands in for an unchecked checkbox before it."""
    fields: dict[str, list[str]] = {}
    for name, value in await _read_pairs(request):
        fields.setdefault(name, []).append(value)
    return fields
