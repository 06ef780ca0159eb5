"""``${NAME}`` placeholders in text, replaced from an environment mapping.

``${NAME:-default}`` falls back to ``default`` when ``NAME`` is unset or empty, and
``$${`` stands for a literal ``${``. ``tocsin.yaml`` values are substituted when the file
is read; a probe monitor's headers and body keep their placeholders and are substituted
each time the probe runs, from the server's environment, so secrets are never stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_VARIABLE = re.compile(r"\$(\$)?\{([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def substitute(value: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in ``value``; return it and any problems."""
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(1):  # $${...} is a literal ${...}
            return match.group(0)[1:]
        inner = match.group(2)
        name, has_default, default = inner.partition(":-")
        if not _NAME.match(name):
            problems.append(f"${{{inner}}} is not a valid variable reference; use ${{NAME}}")
            return match.group(0)
        found = environ.get(name)
        if found is not None and (found != "" or not has_default):
            return found
        if has_default:
            return default
        problems.append(
            f"environment variable {name} is not set (set it, or write ${{{name}:-default}})"
        )
        return match.group(0)

    return _VARIABLE.sub(replace, value), problems


def placeholder_problems(value: str) -> list[str]:
    """What is wrong with the placeholders of ``value`` (not whether they are set)."""
    return [
        f"${{{match.group(2)}}} is not a valid variable reference; use ${{NAME}}"
        for match in _VARIABLE.finditer(value)
        if not match.group(1) and not _NAME.match(match.group(2).partition(":-")[0])
    ]
