"""Read a ``tocsin.yaml`` file into plain data, remembering the line of every key and item.

PyYAML composes the text into nodes (which carry their position); this module turns the
nodes into dicts, lists and scalars itself so that it can record, for each path such as
``("monitors", 1, "grace")``, the line it came from. ``${NAME}`` and ``${NAME:-default}``
in string values are replaced from the environment mapping the caller passes in;
``$${`` stands for a literal ``${``. A monitor's ``headers`` and ``body`` are left as
written: a probe monitor resolves them each time it probes.

Anchors and aliases are allowed, but checked while the text is composed, before any value
is built: an alias inside its own anchor (a loop) is refused, and so is a file whose
aliases would copy more than ``ALIAS_BUDGET`` values in all (the "billion laughs", where a
few hundred bytes expand to gigabytes), or that nests deeper than ``MAX_DEPTH``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from tocsin.errors import ConfigError
from tocsin.server.domain.placeholders import substitute

__all__ = ["Document", "Path", "PathPart", "format_path", "load_file", "load_text", "substitute"]

PathPart = str | int
Path = tuple[PathPart, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_INDEX = re.compile(r"\[([0-9]+)\]")

ALIAS_BUDGET = 100_000
"""Values (scalars, lists, mappings) that aliases may copy into one file, all told."""
MAX_DEPTH = 50
"""Lists and mappings nested deeper than this are refused (tocsin.yaml needs about 5)."""


@dataclass
class Document:
    """The parsed file: its data, where each piece came from, and problems found so far.

    ``bad_paths`` are values whose ``${...}`` substitution failed; the validator does not
    report them a second time.
    """

    source: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    bad_paths: set[Path] = field(default_factory=set)

    def line_of(self, path: Path) -> int:
        """The line of ``path``, or of its nearest recorded parent (1 for the whole file)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def field_path(self, path: Path, field: str) -> Path:
        """The path of what a validator's ``field`` name points at inside the value at
        ``path``, read against the data: ``assert[1]`` → ``(*path, "assert", 1)``,
        ``components.rq:workers[emails]`` → ``(*path, "components", "rq:workers[emails]")``.

        Validators join a mapping's key with ``.`` and a list's index as ``[i]``; keys may
        hold ``.``, ``:`` or ``[...]`` themselves, so each step matches the keys the
        mapping has (the longest first) rather than splitting the text. Where the rest
        matches nothing, the path stops at the deepest value it reached, so ``line_of``
        gives the nearest enclosing line; a field the data does not explain at all is
        kept whole, as ``(*path, field)``."""
        value: Any = self.data
        for part in path:
            value = _child(value, part)
        found, complete = _field_path(value, field)
        return (*path, *found) if complete or found else (*path, field)

    def problem(self, path: Path, message: str) -> str:
        """``"tocsin.yaml:12: monitors[1].grace: message"`` for ``path``."""
        where = format_path(path)
        prefix = f"{where}: " if where else ""
        return f"{self.source}:{self.line_of(path)}: {prefix}{message}"


def _child(value: Any, part: PathPart) -> Any:
    """The item or value at ``part`` (a recorded path's key, ``str(key)``), else ``None``."""
    if isinstance(part, int):
        return value[part] if isinstance(value, list) and 0 <= part < len(value) else None
    if not isinstance(value, Mapping):
        return None
    if part in value:
        return value[part]
    # A key YAML read as a number, a boolean or a date is recorded as its text.
    return next((item for key, item in value.items() if str(key) == part), None)


def _has_key(value: Mapping[Any, Any], key: str) -> bool:
    return key in value or any(not isinstance(k, str) and str(k) == key for k in value)


def _field_path(value: Any, field: str) -> tuple[Path, bool]:
    """``(path, complete)``: the path ``field`` names in ``value``; when incomplete, the
    longest part of it that exists."""
    if not field:
        return (), True
    if isinstance(value, list):
        match = _INDEX.match(field)
        if match is None or int(match.group(1)) >= len(value):
            return (), False
        index, rest = int(match.group(1)), field[match.end() :]
        found, complete = _field_path(value[index], rest.removeprefix("."))
        return (index, *found), complete
    best: tuple[Path, bool] = ((), False)
    if not isinstance(value, Mapping):
        return best
    # Where a key may end: the end of the text, or before a "." or "[" (longest first).
    ends = [len(field), *(i for i in range(len(field) - 1, 0, -1) if field[i] in ".[")]
    for end in ends:
        key = field[:end]
        if not _has_key(value, key):
            continue
        found, complete = _field_path(_child(value, key), field[end:].removeprefix("."))
        if complete:
            return (key, *found), True
        if len(found) + 1 > len(best[0]):
            best = ((key, *found), False)
    return best


def format_path(path: Path) -> str:
    """``("monitors", 1, "grace")`` → ``monitors[1].grace``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


class _GuardedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing alias loops, alias bombs and deep nesting while it
    composes nodes (which share an aliased node rather than copy it, so this stays small).
    """

    def __init__(self, text: str, source: str) -> None:
        super().__init__(text)
        self.source = source
        self.depth = 0
        self.copied = 0
        # id(node) → how many values the node stands for once every alias in it is copied.
        self.sizes: dict[int, int] = {}

    def refuse(self, mark: yaml.Mark, message: str) -> ConfigError:
        return ConfigError([f"{self.source}:{mark.line + 1}: {message}"])

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """Compose one node, counting what aliases copy and how deep the nesting goes."""
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            target = self.anchors.get(event.anchor)
            if target is not None:  # an unknown alias is PyYAML's own error
                size = self.sizes.get(id(target))
                if size is None:
                    raise self.refuse(
                        event.start_mark,
                        f"the alias *{event.anchor} is inside the value it names (a loop)",
                    )
                self.copied += size
                if self.copied > ALIAS_BUDGET:
                    raise self.refuse(
                        event.start_mark,
                        f"the alias *{event.anchor} takes the file past {ALIAS_BUDGET:,} "
                        "values copied from aliases; use fewer aliases, or aliases of "
                        "smaller parts",
                    )
            return super().compose_node(parent, index)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise self.refuse(mark, f"nested more than {MAX_DEPTH} levels deep")
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        if node is not None:
            self.sizes[id(node)] = 1 + sum(self.sizes[id(child)] for child in _children(node))
        return node


def _deferred(path: Path) -> bool:
    """Whether ``path`` is a probe monitor's header value or body: those keep their
    ``${NAME}`` placeholders, substituted at each probe, so secrets are never stored."""
    return len(path) >= 3 and path[0] == "monitors" and path[2] in ("headers", "body")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


class _Builder:
    """Turns composed YAML nodes into plain data, recording lines and problems."""

    def __init__(self, loader: _GuardedLoader, document: Document, environ: Mapping[str, str]):
        self.loader = loader
        self.document = document
        self.environ = environ
        # id(mapping node) → how many of its pairs came from merge keys (flattening, which
        # changes the node in place, must happen once however often the node is aliased).
        self.merged_count: dict[int, int] = {}

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.document.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, str) and "${" in value and not _deferred(path):
            value, problems = substitute(value, self.environ)
            for message in problems:
                self.document.problems.append(self.document.problem(path, message))
            if problems:
                self.document.bad_paths.add(path)
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        split = self.merged_count.get(id(node))
        if split is None:  # not seen before: an alias of a node is the node itself
            own_count = sum(1 for key, _ in node.value if key.tag != _MERGE_TAG)
            self.loader.flatten_mapping(node)  # resolve `<<: *anchor`: merged pairs come first
            split = self.merged_count[id(node)] = len(node.value) - own_count
        merged, own = node.value[:split], node.value[split:]
        result: dict[Any, Any] = {}
        for index, (key_node, value_node) in enumerate(own + merged):
            from_merge = index >= len(own)
            key = self.loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                line = key_node.start_mark.line + 1
                self.document.problems.append(
                    f"{self.document.source}:{line}: {format_path(path) or 'file'}: "
                    "a key must be a plain value"
                )
                continue
            child = (*path, str(key))
            if key in result and from_merge:
                continue  # a key given in the mapping itself wins over a merged one
            if key in result:
                self.document.problems.append(
                    f"{self.document.source}:{key_node.start_mark.line + 1}: "
                    f"{format_path(child)}: appears twice in the same mapping "
                    f"(first on line {self.document.lines[child]})"
                )
                continue
            self.document.lines[child] = key_node.start_mark.line + 1
            # The key's line (recorded first) is the one users look for, not the value's.
            result[key] = self.build(value_node, child)
        return result


def load_text(text: str, environ: Mapping[str, str], source: str = "tocsin.yaml") -> Document:
    """Parse YAML ``text``; raise ``ConfigError`` on a syntax error or an alias bomb
    (with its line).

    Substitution problems are collected in ``Document.problems`` rather than raised, so the
    validator can add its own and report them all at once.
    """
    document = Document(source=source, data=None)
    loader = _GuardedLoader(text, source)
    try:
        node = loader.get_single_node()
        if node is not None:
            document.data = _Builder(loader, document, environ).build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = exc.problem or exc.context or "not valid YAML"
        if exc.problem and exc.context and exc.context_mark is not None:
            reason += f" ({exc.context} on line {exc.context_mark.line + 1})"
        raise ConfigError([f"{source}:{line}: not valid YAML: {reason}"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}:1: not valid YAML: {exc}"]) from exc
    finally:
        loader.dispose()
    return document


def load_file(path: str, environ: Mapping[str, str]) -> Document:
    """Read and parse the file at ``path`` (``-`` is not special); ``ConfigError`` if unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the file: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text ({exc.reason})"]) from exc
    return load_text(text, environ, source=path)
