"""``import tocsin.tasks`` stays light: no redis, rq, celery, flask, sqlalchemy or starlette."""

from __future__ import annotations

import subprocess
import sys


def test_tasks_core_imports_nothing_heavy() -> None:
    code = (
        "import sys, tocsin.tasks\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('redis', 'rq', 'celery', 'kombu', 'flask', 'werkzeug', 'sqlalchemy', 'starlette',"
        " 'fastapi', 'uvicorn', 'anyio')]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
