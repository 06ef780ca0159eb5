"""A small, documented subset of JSONPath (RFC 9535) for ``json`` assertions.

Supported: the root ``$``, member names ``.name`` and ``["name"]`` (or ``['name']``),
array indexes ``[0]`` and ``[-1]`` (from the end), and the wildcard ``.*`` / ``[*]``.
Within that subset a path selects exactly what RFC 9535 selects; filters, slices and
recursive descent are refused with the column of the problem. No dependency.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from tocsin.server.domain.storable import is_storable


class _Wildcard:
    """The ``*`` selector (a singleton): every member of an object or item of an array."""

    def __repr__(self) -> str:
        return "WILDCARD"


WILDCARD: Final = _Wildcard()

Segment = str | int | _Wildcard

_NAME = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*")
_INDEX = re.compile(r"-?(0|[1-9][0-9]*)")
_STRING = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")


class JsonPathError(ValueError):
    """A path is not in the supported subset; ``column`` is 1-based within the path."""

    def __init__(self, reason: str, column: int) -> None:
        self.reason = reason
        self.column = column
        super().__init__(f"{reason} at column {column}")


@dataclass(frozen=True)
class JsonPath:
    """A parsed path: its segments in order (``str`` member, ``int`` index, ``WILDCARD``)."""

    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        """The canonical spelling: ``$.queue.depth``, ``$["rq:workers"][0]``, ``$.tags[*]``."""
        parts = ["$"]
        for segment in self.segments:
            if isinstance(segment, _Wildcard):
                parts.append("[*]")
            elif isinstance(segment, int):
                parts.append(f"[{segment}]")
            elif _NAME.fullmatch(segment):
                parts.append(f".{segment}")
            else:
                parts.append(f"[{json.dumps(segment, ensure_ascii=False)}]")
        return "".join(parts)

    @property
    def has_wildcard(self) -> bool:
        """Whether the path can select several values (then it resolves to a list)."""
        return any(isinstance(s, _Wildcard) for s in self.segments)

    def resolve(self, document: Any) -> tuple[bool, Any]:
        """``(found, value)`` for ``document``; a wildcard path gives the list it selects.

        A path without a wildcard is found when every step exists (a JSON ``null`` there
        is found, with value ``None``). A wildcard path is found when it selects at least
        one value.
        """
        nodes = [document]
        for segment in self.segments:
            nodes = [child for node in nodes for child in _select(node, segment)]
            if not nodes:
                return False, None
        if self.has_wildcard:
            return True, nodes
        return True, nodes[0]


def _select(node: Any, segment: Segment) -> list[Any]:
    if isinstance(segment, _Wildcard):
        if isinstance(node, dict):
            return list(node.values())
        return list(node) if isinstance(node, list) else []
    if isinstance(segment, int):
        if isinstance(node, list) and -len(node) <= segment < len(node):
            return [node[segment]]
        return []
    if isinstance(node, dict) and segment in node:
        return [node[segment]]
    return []


def parse_json_path(text: str) -> JsonPath:
    """Parse ``text`` (``$.a["b"][0]``); raise ``JsonPathError`` naming the column."""
    if not text.startswith("$"):
        raise JsonPathError("a JSON path starts with $ (e.g. $.version)", 1)
    segments: list[Segment] = []
    pos = 1
    while pos < len(text):
        char = text[pos]
        if text.startswith("..", pos):
            raise JsonPathError("recursive descent (..) is not supported", pos + 1)
        if char == ".":
            if text.startswith("*", pos + 1):
                segments.append(WILDCARD)
                pos += 2
                continue
            match = _NAME.match(text, pos + 1)
            if match is None:
                raise JsonPathError(
                    'expected a member name after "." (use ["name"] for other characters)',
                    pos + 2,
                )
            segments.append(match.group())
            pos = match.end()
        elif char == "[":
            segment, pos = _bracket(text, pos)
            segments.append(segment)
        else:
            raise JsonPathError(f'unexpected {char!r}; expected ".name" or "[...]"', pos + 1)
    return JsonPath(tuple(segments))


def _bracket(text: str, start: int) -> tuple[Segment, int]:
    """The selector in the brackets opening at ``start`` and the position after them."""
    pos = start + 1
    segment: Segment
    if text.startswith("*", pos):
        segment, pos = WILDCARD, pos + 1
    elif (string := _STRING.match(text, pos)) is not None:
        segment, pos = _unquote(string.group(), pos), string.end()
    elif (index := _INDEX.match(text, pos)) is not None:
        if text.startswith(":", index.end()):
            raise JsonPathError("slices are not supported", index.end() + 1)
        segment, pos = int(index.group()), index.end()
    elif text.startswith("?", pos):
        raise JsonPathError("filter expressions are not supported", pos + 1)
    else:
        raise JsonPathError('expected "name", an index or * inside [ ]', pos + 1)
    if not text.startswith("]", pos):
        raise JsonPathError('expected "]"', pos + 1)
    return segment, pos + 1


def _unquote(literal: str, pos: int) -> str:
    body = literal[1:-1]
    if literal[0] == "'":
        body = body.replace("\\'", "'").replace('"', '\\"')
    try:
        value: str = json.loads(f'"{body}"')
    except json.JSONDecodeError as exc:
        raise JsonPathError(f"bad escape in name: {exc.msg}", pos + 2 + exc.pos - 1) from None
    if not is_storable(value):
        raise JsonPathError("names must not contain NUL or lone surrogates", pos + 1)
    return value
