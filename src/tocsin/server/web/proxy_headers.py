"""Believe a reverse proxy's ``X-Forwarded-For`` / ``X-Forwarded-Proto``, one way for the
whole server (pings, API, dashboard), and only with ``TOCSIN_TRUST_PROXY``.

uvicorn's own proxy support, told to trust every peer, takes the *first* ``X-Forwarded-For``
entry: the one the client wrote, so any client could record a ping from any address. A proxy
appends the address it saw, so the *last* entry is the only one our proxy vouches for; the
same goes for ``X-Forwarded-Proto``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

_FOR = b"x-forwarded-for"
_PROTO = b"x-forwarded-proto"
_SCHEMES = {"http": "https", "ws": "wss"}


def _last_entry(scope: Scope, name: bytes) -> str:
    """The last comma-separated entry of header ``name`` over all its lines, or ''."""
    last = ""
    for key, value in scope["headers"]:
        if key == name:
            entries = [part.strip() for part in value.decode("latin-1").split(",")]
            last = next((part for part in reversed(entries) if part), last)
    return last


class TrustedProxyHeaders:
    """ASGI middleware: the client address and scheme are the ones our proxy reports."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite ``client`` and ``scheme`` from the proxy's headers, then pass on."""
        if scope["type"] in ("http", "websocket"):
            address = _last_entry(scope, _FOR)
            proto = _last_entry(scope, _PROTO).lower()
            if address or proto:
                scope = dict(scope)
                if address:
                    scope["client"] = (address, 0)
                if proto == "https":
                    scope["scheme"] = _SCHEMES.get(scope["scheme"], scope["scheme"])
                elif proto == "http":
                    scope["scheme"] = "ws" if scope["type"] == "websocket" else "http"
        await self.app(scope, receive, send)
