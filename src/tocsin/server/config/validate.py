"""Check a parsed ``tocsin.yaml`` completely and turn it into monitor and channel specs.

Every item goes through the same ``monitor_spec`` / ``channel_spec`` as the REST API, so a
field is refused with the same words everywhere. Problems are collected, never raised one
at a time: ``validate`` returns them all, each as ``file:line: where: what``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from tocsin.errors import ValidationError
from tocsin.server.config.loader import Document, Path, format_path
from tocsin.server.domain.alert_policy import (
    POLICY_FIELDS,
    AlertPolicy,
    alert_policy,
    policy_defaults,
)
from tocsin.server.domain.dependencies import check_dependencies
from tocsin.server.domain.maintenance import ALL_MONITORS, MaintenanceWindow, maintenance_window
from tocsin.server.domain.spec import ChannelSpec, MonitorSpec, channel_spec, monitor_spec

SECTIONS = ("channels", "monitors", "defaults", "maintenance")

SpecT = TypeVar("SpecT", ChannelSpec, MaintenanceWindow, MonitorSpec)


@dataclass(frozen=True)
class ChannelReference:
    """A monitor item's ``channels`` list, kept even when the item has other problems."""

    path: Path
    monitor: str | None
    channels: tuple[str, ...]
    # The escalation's channels (``escalate.channels``).
    escalate: tuple[str, ...] = ()


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
    maintenance: tuple[MaintenanceWindow, ...] = ()


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


def field_problems(
    document: Document, path: Path, name: str | None, fields: Mapping[str, str]
) -> list[str]:
    """``item_problem`` for each field a spec builder refused, at the line of the value the
    field names (``assert[1]``: that item; ``components.rq:workers``: that key), except
    values whose ``${...}`` problem is already reported."""
    problems = []
    for key, problem in fields.items():
        at = document.field_path(path, key)
        if at in document.bad_paths:
            continue
        line = document.line_of(at)
        problems.append(f"{document.source}:{line}: {_where(path, name, (key,))}: {problem}")
    return problems


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


def _channel_list(item: Any) -> tuple[str, ...]:
    raw = item.get("channels") if isinstance(item, Mapping) else None
    if not isinstance(raw, list):
        return ()
    return tuple(dict.fromkeys(v.strip() for v in raw if isinstance(v, str) and v.strip()))


def _reference(
    path: Path, name: str | None, item: Mapping[str, Any], defaults: AlertPolicy
) -> ChannelReference:
    channels = _channel_list(item) if "channels" in item else defaults.channels
    escalate = item.get("escalate")
    if "escalate" not in item and defaults.escalate is not None:
        escalated = defaults.escalate.channels
    else:
        escalated = _channel_list(escalate)
    return ChannelReference(path, name, channels, escalated)


def with_defaults(spec: MonitorSpec, item: Mapping[str, Any], defaults: AlertPolicy) -> MonitorSpec:
    """``spec`` with the project's ``defaults:`` under the policy keys the item leaves out
    (``channels`` included)."""
    given = {key: item[key] for key in POLICY_FIELDS if item.get(key) is not None}
    policy = alert_policy(given, defaults)
    return replace(spec, channels=policy.channels, policy=policy)


class _Section:
    """Validates the items of one section, remembering names to find duplicates."""

    def __init__(
        self, document: Document, section: str, defaults: AlertPolicy | None = None
    ) -> None:
        self.document = document
        self.section = section
        self.defaults = defaults or AlertPolicy()
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
                self.references.append(_reference(path, name, item, self.defaults))
            try:
                spec = build(item)
            except ValidationError as exc:
                self.document.problems.extend(field_problems(self.document, path, name, exc.fields))
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
                    (str(key),),
                    f"unknown top-level key; expected {', '.join(SECTIONS[:-1])} or {SECTIONS[-1]}",
                )
            )
    channels = _Section(document, "channels")
    monitors = _Section(document, "monitors", _defaults(document, data.get("defaults")))
    windows = _Section(document, "maintenance")
    channel_specs = channels.specs(_items(document, data, "channels"), channel_spec)
    monitor_specs = monitors.specs(
        _items(document, data, "monitors"),
        lambda item: with_defaults(monitor_spec(item), item, monitors.defaults),
    )
    window_specs = windows.specs(_items(document, data, "maintenance"), maintenance_window)
    desired = DesiredState(
        channels=tuple(channel_specs),
        monitors=tuple(monitor_specs),
        paths=channels.paths | monitors.paths | windows.paths,
        channel_names=frozenset(channels.names),
        references=tuple(monitors.references),
        maintenance=tuple(window_specs),
    )
    return desired, sort_problems(document, document.problems)


def _defaults(document: Document, value: Any) -> AlertPolicy:
    """The ``defaults:`` section; its problems go to the document (then: no defaults)."""
    try:
        return policy_defaults(value)
    except ValidationError as exc:
        fields = dict(exc.fields)
        whole = fields.pop("defaults", None)  # not a mapping
        if whole is not None:
            document.problems.append(item_problem(document, ("defaults",), None, (), whole))
        document.problems.extend(field_problems(document, ("defaults",), None, fields))
        return AlertPolicy()


def check_monitor_names(
    document: Document,
    desired: DesiredState,
    server_monitors: Sequence[Mapping[str, Any]],
    *,
    prune: bool,
) -> list[str]:
    """Problems for ``depends_on`` and maintenance ``monitors`` naming a monitor that will
    not exist after the apply, and ``depends_on`` cycles (named ``a -> b -> a``), over the
    file's monitors and (without ``--prune``) the server's."""
    graph: dict[str, Sequence[str]] = {}
    if not prune:
        for have in server_monitors:
            policy = have.get("alert_policy") or {}
            graph[str(have["name"])] = [str(p) for p in policy.get("depends_on") or ()]
    for spec in desired.monitors:
        graph[spec.name] = spec.policy.depends_on if spec.policy else ()
    problems: list[str] = []
    for found in check_dependencies(graph):
        path = desired.paths.get(("monitors", found.monitor))
        if path is not None:
            rest: Path = ("depends_on", found.index)
            problems.append(item_problem(document, path, found.monitor, rest, found.message))
        else:
            problems.append(f"{document.source}: monitor {found.monitor}: {found.message}")
    for window in desired.maintenance:
        path = desired.paths[("maintenance", window.name)]
        for index, name in enumerate(window.monitors):
            if name != ALL_MONITORS and name not in graph:
                message = f"no monitor named {name!r} in this file or on the server"
                problems.append(
                    item_problem(document, path, window.name, ("monitors", index), message)
                )
    return problems


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
        lists: list[tuple[Path, tuple[str, ...]]] = [
            (("channels",), reference.channels),
            (("escalate", "channels"), reference.escalate),
        ]
        for rest, index, channel in (
            (rest, index, channel) for rest, names in lists for index, channel in enumerate(names)
        ):
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
                item_problem(document, reference.path, reference.monitor, (*rest, index), message)
            )
    return problems
