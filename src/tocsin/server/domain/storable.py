"""Text every database can store: what a probed target sends ends up in stored results.

PostgreSQL refuses NUL characters in text and JSON, and no database takes a lone UTF-16
surrogate (Python's ``json`` happily decodes ``"\\ud800"`` into one) nor, in JSON, the
``NaN`` and ``Infinity`` that Python's ``json`` also accepts.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def is_storable(text: str) -> bool:
    """Whether ``text`` has no NUL and no lone surrogate."""
    return _UNSTORABLE.search(text) is None


def storable(value: Any) -> Any:
    """``value`` (a JSON-like tree) with NUL and lone surrogates in its strings, keys
    included, replaced by U+FFFD."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(REPLACEMENT, value)
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    return value


def load_json(data: bytes | str) -> Any:
    """Standard JSON (RFC 8259) from an answer, made ``storable``.

    Raise ``ValueError`` for anything else, including ``NaN``, ``Infinity`` and numbers
    too large for a float, and ``RecursionError`` for absurd nesting.
    """
    return storable(json.loads(data, parse_constant=_refuse, parse_float=_finite))


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} does not fit a float")
    return number
