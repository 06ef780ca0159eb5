"""Caching of public answers (status pages, badges): shared caches may keep them 30 s,
and a client that has the current version gets 304 by its ETag."""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

PUBLIC_CACHE_CONTROL = "public, max-age=30"


def cacheable(request: Request, response: Response) -> Response:
    """``response`` with an ETag of its body, or 304 if the client's copy matches."""
    etag = '"' + hashlib.sha256(bytes(response.body)).hexdigest()[:32] + '"'
    response.headers["Cache-Control"] = PUBLIC_CACHE_CONTROL
    response.headers["ETag"] = etag
    offered = {
        tag.strip().removeprefix("W/")
        for tag in request.headers.get("if-none-match", "").split(",")
    }
    if etag in offered or "*" in offered:
        headers = {key: value for key, value in response.headers.items() if key != "content-length"}
        return Response(status_code=304, headers=headers)
    return response
