"""Check a parsed ``tocsin.yaml`` completely and turn it into monitor and channel specs.

Every item goes through the same ``monitor_spec`` / ``channel_spec`` as the REST API, so a
field is refused with the same words everywhere. Problems are collected, never raised one
at a time: ``validate`` returns them all, each as ``file:line: where: what``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tocsin.config.loader import Document, Path, format_path
from tocsin.errors import ValidationError
from tocsin.monitors.spec import ChannelSpec, MonitorSpec, channel_spec, monitor_spec

SECTIONS = ("channels", "monitors")

SpecT = TypeVar("SpecT", ChannelSpec, MonitorSpec)


@dataclass(frozen=True)
class DesiredState:
    """What the file asks for. ``paths`` maps ``("monitors", name)`` to the item's path."""

    channels: tuple[ChannelSpec, ...] = ()
    monitors: tuple[MonitorSpec, ...] = ()
    paths: dict[tuple[str, str], Path] = field(default_factory=dict)


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


def _section(
    document: Document,
    data: Mapping[str, Any],
    section: str,
    build: Callable[[Mapping[str, Any]], SpecT],
    paths: dict[tuple[str, str], Path],
) -> list[SpecT]:
    specs: list[SpecT] = []
    seen: dict[tuple[str, str], Path] = {}
    for index, item in enumerate(_items(document, data, section)):
        path: Path = (section, index)
        if not isinstance(item, Mapping):
            document.problems.append(
                item_problem(document, path, None, (), "must be a mapping (name: ..., kind: ...)")
            )
            continue
        raw_name = item.get("name")
        name = raw_name.strip() if isinstance(raw_name, str) else None
        try:
            spec = build(item)
        except ValidationError as exc:
            for key, problem in exc.fields.items():
                if (*path, key) in document.bad_paths:
                    continue  # its ${...} problem is already reported
                document.problems.append(item_problem(document, path, name, (key,), problem))
            continue
        unique = [("name", spec.name)]
        if isinstance(spec, MonitorSpec):
            unique.append(("slug", spec.slug))
        duplicate = False
        for key, value in unique:
            first = seen.get((key, value))
            if first is not None:
                line = document.line_of(first)
                document.problems.append(
                    item_problem(
                        document,
                        path,
                        name,
                        (key,) if key in item else (),
                        f"{key} {value!r} is used twice (first by {format_path(first)}, "
                        f"line {line})",
                    )
                )
                duplicate = True
                break  # a repeated name repeats the default slug too: say it once
            seen[(key, value)] = path
        if not duplicate:
            specs.append(spec)
            paths[(section, spec.name)] = path
    return specs


def validate(document: Document) -> tuple[DesiredState, list[str]]:
    """The specs the file describes and every problem found in it (loader's included)."""
    data = document.data
    paths: dict[tuple[str, str], Path] = {}
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
    channels = _section(document, data, "channels", channel_spec, paths)
    monitors = _section(document, data, "monitors", monitor_spec, paths)
    desired = DesiredState(channels=tuple(channels), monitors=tuple(monitors), paths=paths)
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
    in_file = {spec.name for spec in desired.channels}
    problems: list[str] = []
    for monitor in desired.monitors:
        path = desired.paths[("monitors", monitor.name)]
        for index, channel in enumerate(monitor.channels):
            if channel in in_file or (not prune and channel in server_channels):
                continue
            if prune and channel in server_channels:
                message = (
                    f"channel {channel!r} is not in this file, and --prune deletes channels "
                    "that are not in the file"
                )
            else:
                message = f"no channel named {channel!r} in this file or on the server"
            problems.append(
                item_problem(document, path, monitor.name, ("channels", index), message)
            )
    return problems
