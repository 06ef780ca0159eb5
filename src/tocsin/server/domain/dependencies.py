"""Monitor dependencies (``depends_on``): checked for unknown names and cycles, and asked
which parents of a monitor are down and which monitors a parent's incident lists."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from tocsin.server.domain.states import MonitorState


@dataclass(frozen=True)
class DependencyProblem:
    """What is wrong with ``monitor``'s ``depends_on[index]``."""

    monitor: str
    index: int
    message: str

    @property
    def field(self) -> str:
        """The field it is about, as ``ValidationError.fields`` names it."""
        return f"depends_on[{self.index}]"


def check_dependencies(
    depends_on: Mapping[str, Sequence[str]], known: Collection[str] | None = None
) -> list[DependencyProblem]:
    """Every problem in the dependency graph ``{monitor: [parent, ...]}``: parents that are
    not in ``known`` (default: the graph's own monitors), and each cycle once, named
    ``a -> b -> a`` and reported on the first of its monitors in name order."""
    names = set(depends_on) if known is None else set(known) | set(depends_on)
    problems = [
        DependencyProblem(monitor, index, f"no monitor named {parent!r}")
        for monitor, parents in depends_on.items()
        for index, parent in enumerate(parents)
        if parent not in names
    ]
    graph = {m: [p for p in parents if p in depends_on] for m, parents in depends_on.items()}
    for group in _cycles(graph):
        cycle = _shortest_cycle(graph, min(group), group)
        index = list(depends_on[cycle[0]]).index(cycle[1])
        problems.append(
            DependencyProblem(cycle[0], index, f"depends_on cycle: {' -> '.join(cycle)}")
        )
    return sorted(problems, key=lambda p: (p.monitor, p.index))


def down_parents(depends_on: Sequence[str], states: Mapping[str, MonitorState]) -> tuple[str, ...]:
    """The parents in ``depends_on`` whose state is ``down`` (unknown names are ignored)."""
    return tuple(parent for parent in depends_on if states.get(parent) is MonitorState.DOWN)


def dependents(depends_on: Mapping[str, Sequence[str]], parent: str) -> tuple[str, ...]:
    """The monitors that depend directly on ``parent``, in name order: those its incident
    lists while it is down."""
    return tuple(sorted(m for m, parents in depends_on.items() if parent in parents))


def _cycles(graph: Mapping[str, Sequence[str]]) -> list[set[str]]:
    """Strongly connected groups that contain a cycle (Tarjan's algorithm, iterative)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in sorted(graph):
        if root in order:
            continue
        work = [(root, iter(graph[root]))]
        order[root] = low[root] = len(order)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in order:
                    order[child] = low[child] = len(order)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], order[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == order[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1 or node in graph[node]:
                    groups.append(group)
    return groups


def _shortest_cycle(graph: Mapping[str, Sequence[str]], start: str, group: set[str]) -> list[str]:
    """The shortest path ``start -> ... -> start`` inside ``group`` (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in graph[node]:
                if child not in group:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError("a cycle group always has a cycle through each member")
