"""The dashboard: server-rendered pages (Jinja2 + htmx) behind a login.

``install_dashboard(app)`` adds its routes; ``require_user(role)`` is the dependency every
page uses. See docs/dashboard.md.
"""

from __future__ import annotations

from tocsin.server.dashboard.auth import CurrentUser, require_user
from tocsin.server.dashboard.routes import install_dashboard

__all__ = ["CurrentUser", "install_dashboard", "require_user"]
