"""The app library's shape: ``import tocsin.tasks`` stays light, and no import cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tocsin

SRC = Path(tocsin.__file__).resolve().parent.parent
#: The app library: what runs inside the user's app and workers.
APP_LIBRARY = (
    "tocsin.tasks",
    "tocsin.health",
    "tocsin.workers",
    "tocsin.flask",
    "tocsin.heartbeat",
)


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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the app-library modules it imports, at module level or inside functions."""
    modules = {
        _module_name(path): path
        for path in (SRC / "tocsin").rglob("*.py")
        if _module_name(path).startswith(APP_LIBRARY)
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    targets.add(submodule if submodule in modules else node.module)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, path)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def test_app_library_has_no_import_cycles() -> None:
    graph = _import_graph()
    assert "tocsin.tasks.rq" in graph  # the walk found the modules
    assert [" -> ".join(cycle) for cycle in _cycles(graph)] == []
