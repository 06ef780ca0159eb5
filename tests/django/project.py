"""The minimal Django project the Django tests run in: settings and the root URLconf.

Databases are configured once per session (Django cannot swap ``DATABASES`` later):

- ``default``: an SQLite file;
- ``sqlite_readonly``: an SQLite file opened read-only (reads work, writes are refused);
- ``pg``: the session's PostgreSQL database;
- ``pg_readonly``: the same database with ``default_transaction_read_only=on``;
- ``pg_down``: PostgreSQL on a port nobody listens on.

``CACHES`` and ``TOCSIN_HEALTH`` are set per test with ``override_settings``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.urls import include, path

urlpatterns = [path("", include("tocsin.django.urls"))]


def _postgres(url: str, **extra: Any) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "postgres",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        **extra,
    }


def settings_for(folder: Path, postgres_url: str, closed_port: int) -> dict[str, Any]:
    """Keyword arguments for ``settings.configure``."""
    readonly = folder / "readonly.sqlite3"
    sqlite3.connect(readonly).close()
    return {
        "DEBUG": False,
        "SECRET_KEY": "tests-only",
        "ALLOWED_HOSTS": ["testserver"],
        "ROOT_URLCONF": __name__,
        "INSTALLED_APPS": ["tocsin.django"],
        "MIDDLEWARE": [
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        "USE_TZ": True,
        "DATABASES": {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(folder / "app.sqlite3"),
            },
            "sqlite_readonly": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": f"file:{readonly}?mode=ro",
                "OPTIONS": {"uri": True},
            },
            "pg": _postgres(postgres_url),
            "pg_readonly": _postgres(
                postgres_url, OPTIONS={"options": "-c default_transaction_read_only=on"}
            ),
            "pg_down": {
                **_postgres(postgres_url, OPTIONS={"connect_timeout": 2}),
                "PORT": str(closed_port),
            },
        },
        "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        "TOCSIN_HEALTH": {"checks": []},
    }
