"""Check a parsed ``tocsin.yaml`` completely and turn it into monitor and channel specs.

Every item goes through the same ``monitor_spec`` / ``channel_spec`` as the REST API, so a
field is refused with the same words everywhere. Problems are collected, never raised one
at a time: ``validate`` returns them all, each as ``file:line: where: what``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tocsin.errors import ValidationError
from tocsin.server.config.loader import Document, Path, format_path
from tocsin.server.domain.spec import ChannelSpec, MonitorSpec, channel_spec, monitor_spec

SECTIONS = ("channels", "monitors")

SpecT = TypeVar("SpecT", ChannelSpec, MonitorSpec)


@dataclass(frozen=True)
class ChannelReference:
    """A monitor item's ``channels`` list, kept even when the item has other problems."""

    path: Path
    monitor: str | None
    channels: tuple[str, ...]


@dataclass(frozen=True)
class DesiredState:
    """What the file asks for.

    ``paths`` maps ``("monitors", name)`` to the item's path; ``channel_names`` are the
    channel names the file defines (valid or not) and ``references`` every monitor's
    channel list, so a reference can be checked even when an item has other problems.
    """

    channels: tuple[ChannelSpec, ...] = ()
    monitors: tuple[MonitorSpec, ...] = ()
    paths: dict[tuple[str, str], Path] = field(default_factory=dict)
    channel_names: frozenset[str] = frozenset()
    references: tuple[ChannelReference, ...] = ()


def _where(path: Path, name: str | None, rest: Path = ()) -> str:
    label = format_path(path)
    if name:
        label += f" ({name})"
    for part in rest:
        label += f"[{part}]" if isinstance(part, int) else f".{part}"
    return label


def item_problem(document: Document, path: Path, name: str | None, rest: Path, message: str) -> str:
    """``"tocsin.yaml:12: monitors[1] (invoice-cron).grace: message"``."""
    line = document.line_of((*path, *rest))
    return f"{document.source}:{line}: {_where(path, name, rest)}: {message}"


def _items(document: Document, data: Mapping[str, Any], section: str) -> list[Any]:
    value = data.get(section)
    if value is None:
        return []
    if not isinstance(value, list):
        document.problems.append(
            document.problem((section,), f"must be a list of {section} (each item starts with -)")
        )
        return []
    return value


def _name_of(item: Mapping[str, Any]) -> str | None:
    raw = item.get("name")
    return raw.strip() or None if isinstance(raw, str) else None


def _channel_list(item: Mapping[str, Any]) -> tuple[str, ...]:
    raw = item.get("channels")
    if not isinstance(raw, list):
        return ()
    return tuple(dict.fromkeys(v.strip() for v in raw if isinstance(v, str) and v.strip()))


class _Section:
    """Validates the items of one section, remembering names to find duplicates."""

    def __init__(self, document: Document, section: str) -> None:
        self.document = document
        self.section = section
        self.seen: dict[tuple[str, str], Path] = {}
        self.names: list[str] = []
        self.references: list[ChannelReference] = []
        self.paths: dict[tuple[str, str], Path] = {}

    def _first_use(self, path: Path, name: str | None, key: str, value: str) -> bool:
        """Record ``key=value`` for ``path``; report it and say ``False`` if already used."""
        first = self.seen.setdefault((key, value), path)
        if first == path:
            return True
        self.document.problems.append(
            item_problem(
                self.document,
                path,
                name,
                (key,),
                f"{key} {value!r} is used twice (first by {format_path(first)}, "
                f"line {self.document.line_of(first)})",
            )
        )
        return False

    def specs(self, items: list[Any], build: Callable[[Mapping[str, Any]], SpecT]) -> list[SpecT]:
        """The valid, unique specs among ``items``; problems go to the document."""
        specs: list[SpecT] = []
        for index, item in enumerate(items):
            path: Path = (self.section, index)
            if not isinstance(item, Mapping):
                self.document.problems.append(
                    item_problem(
                        self.document, path, None, (), "must be a mapping (name: ..., kind: ...)"
                    )
                )
                continue
            name = _name_of(item)
            unique = name is None or self._first_use(path, name, "name", name)
            if name is not None:
                self.names.append(name)
            if self.section == "monitors":
                self.references.append(ChannelReference(path, name, _channel_list(item)))
            try:
                spec = build(item)
            except ValidationError as exc:
                for key, problem in exc.fields.items():
                    if (*path, key) in self.document.bad_paths:
                        continue  # its ${...} problem is already reported
                    self.document.problems.append(
                        item_problem(self.document, path, name, (key,), problem)
                    )
                continue
            # A repeated name repeats the default slug too: say it only once.
            if unique and isinstance(spec, MonitorSpec):
                unique = self._first_use(path, name, "slug", spec.slug)
            if unique:
                specs.append(spec)
                self.paths[(self.section, spec.name)] = path
        return specs


def validate(document: Document) -> tuple[DesiredState, list[str]]:
    """The specs the file describes and every problem found in it (loader's included)."""
    data = document.data
    if data is None:
        return DesiredState(), list(document.problems)
    if not isinstance(data, Mapping):
        document.problems.append(
            document.problem((), "the file must be a mapping with `channels:` and `monitors:`")
        )
        return DesiredState(), list(document.problems)
    for key in data:
        if key not in SECTIONS:
            document.problems.append(
                document.problem(
                    (str(key),), f"unknown top-level key; expected {' or '.join(SECTIONS)}"
                )
            )
    channels = _Section(document, "channels")
    monitors = _Section(document, "monitors")
    desired = DesiredState(
        channels=tuple(channels.specs(_items(document, data, "channels"), channel_spec)),
        monitors=tuple(monitors.specs(_items(document, data, "monitors"), monitor_spec)),
        paths=channels.paths | monitors.paths,
        channel_names=frozenset(channels.names),
        references=tuple(monitors.references),
    )
    return desired, sort_problems(document, document.problems)


def sort_problems(document: Document, problems: list[str]) -> list[str]:
    """``problems`` in the order of their lines in the file (stable for one line)."""
    return sorted(problems, key=lambda text: _line_of(document.source, text))


def _line_of(source: str, problem: str) -> int:
    """The line number in ``"{source}:{line}: ..."`` (0 when there is none)."""
    number = problem[len(source) + 1 :].split(":", 1)[0]
    return int(number) if problem.startswith(f"{source}:") and number.isdigit() else 0


def check_channel_references(
    document: Document,
    desired: DesiredState,
    server_channels: Collection[str],
    *,
    prune: bool,
) -> list[str]:
    """Problems for monitors naming a channel that will not exist after the apply.

    A channel exists afterwards if the file defines it, or (without ``--prune``, which
    deletes every channel the file does not list) if the server already has it.
    """
    problems: list[str] = []
    for reference in desired.references:
        for index, channel in enumerate(reference.channels):
            if channel in desired.channel_names:
                continue
            if not prune and channel in server_channels:
                continue
            if prune and channel in server_channels:
                message = (
                    f"channel {channel!r} is not in this file, and --prune deletes channels "
                    "that are not in the file"
                )
            else:
                message = f"no channel named {channel!r} in this file or on the server"
            problems.append(
                item_problem(
                    document, reference.path, reference.monitor, ("channels", index), message
                )
            )
    return problems
