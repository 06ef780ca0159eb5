"""Read a ``tocsin.yaml`` file into plain data, remembering the line of every key and item.

PyYAML composes the text into nodes (which carry their position); this module turns the
nodes into dicts, lists and scalars itself so that it can record, for each path such as
``("monitors", 1, "grace")``, the line it came from. ``${NAME}`` and ``${NAME:-default}``
in string values are replaced from the environment mapping the caller passes in;
``$${`` stands for a literal ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from tocsin.errors import ConfigError

PathPart = str | int
Path = tuple[PathPart, ...]

_VARIABLE = re.compile(r"\$(\$)?\{([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MERGE_TAG = "tag:yaml.org,2002:merge"


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

    def problem(self, path: Path, message: str) -> str:
        """``"tocsin.yaml:12: monitors[1].grace: message"`` for ``path``."""
        where = format_path(path)
        prefix = f"{where}: " if where else ""
        return f"{self.source}:{self.line_of(path)}: {prefix}{message}"


def format_path(path: Path) -> str:
    """``("monitors", 1, "grace")`` → ``monitors[1].grace``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


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


class _Builder:
    """Turns composed YAML nodes into plain data, recording lines and problems."""

    def __init__(self, loader: yaml.SafeLoader, document: Document, environ: Mapping[str, str]):
        self.loader = loader
        self.document = document
        self.environ = environ

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.document.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, str) and "${" in value:
            value, problems = substitute(value, self.environ)
            for message in problems:
                self.document.problems.append(self.document.problem(path, message))
            if problems:
                self.document.bad_paths.add(path)
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        own_count = sum(1 for key, _ in node.value if key.tag != _MERGE_TAG)
        self.loader.flatten_mapping(node)  # resolve `<<: *anchor`: merged pairs come first
        split = len(node.value) - own_count
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
    """Parse YAML ``text``; raise ``ConfigError`` on a syntax error (with its line).

    Substitution problems are collected in ``Document.problems`` rather than raised, so the
    validator can add its own and report them all at once.
    """
    document = Document(source=source, data=None)
    loader = yaml.SafeLoader(text)
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
