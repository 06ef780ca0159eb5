"""Reading HTML form posts (``application/x-www-form-urlencoded``), with a size cap."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

FORM_MAX_BYTES = 64 * 1024


class FormTooLarge(Exception):
    """The posted form is larger than any dashboard form can be."""


async def read_form(request: Request) -> dict[str, str]:
    """The posted fields (the last value wins); empty for other content types.

    Parsed once per request and kept on ``request.state``, so the CSRF check and the
    page handler read the same fields.
    """
    cached: dict[str, str] | None = getattr(request.state, "form", None)
    if cached is not None:
        return cached
    fields: dict[str, str] = {}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > FORM_MAX_BYTES:
                raise FormTooLarge
        fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    request.state.form = fields
    return fields
