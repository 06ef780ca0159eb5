"""Rendering dashboard pages: one Jinja2 environment, the shared context and headers."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from tocsin import __version__
from tocsin.server.dashboard.auth import CSRF_FIELD, CurrentUser, PageError

STATIC_PREFIX = "/ui/static"

_environment = Environment(
    loader=PackageLoader("tocsin.server.dashboard", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# Scripts and styles come only from our own static files: no inline script runs, and no
# page can be framed by another site.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def render(
    request: Request,
    template: str,
    *,
    current: CurrentUser | None = None,
    csrf_token: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page ``template`` filled with ``context`` plus what every page needs."""
    html = _environment.get_template(template).render(
        request_path=request.url.path,
        current=current,
        csrf_token=current.csrf_token if current is not None else csrf_token,
        csrf_field=CSRF_FIELD,
        static=STATIC_PREFIX,
        version=__version__,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def error_page(request: Request, error: PageError) -> HTMLResponse:
    """The page for a refused request."""
    current = getattr(request.state, "current_user", None)
    return render(
        request,
        "error.html",
        current=current,
        status=error.status,
        headers=error.headers,
        title=error.title,
        message=error.message,
    )


def see_other(location: str) -> RedirectResponse:
    """Redirect after a form post (303: the browser follows with GET)."""
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirects)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"
