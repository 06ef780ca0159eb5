"""The package's shape: the app library stays light and the CLI answers."""

from __future__ import annotations

import subprocess
import sys


def test_app_library_imports_no_server_code() -> None:
    code = (
        "import sys, tocsin, tocsin.heartbeat\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'starlette', 'fastapi', 'uvicorn', 'aiohttp', 'alembic')"
        " or m.startswith('tocsin.server')]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cli_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tocsin", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("tocsin, version ")


def test_health_library_imports_no_heavy_dependency() -> None:
    code = (
        "import sys, tocsin.health, tocsin.heartbeat, tocsin.health.checks, tocsin.workers\n"
        "import tocsin.health.asgi, tocsin.health.wsgi, tocsin.health.prometheus\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'starlette', 'fastapi', 'uvicorn', 'aiohttp', 'alembic',"
        " 'redis', 'rq', 'celery', 'kombu', 'flask')"
        " or m.startswith('tocsin.server')]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
