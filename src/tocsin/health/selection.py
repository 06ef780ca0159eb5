"""Which checks a request asks for: ``?checks=redis,rq:*`` and ``?tags=db``.

A pattern (``fnmatch`` style, case-sensitive) picks a whole check when it matches the
check's name (``rq/emails``) or component (``rq``), and single measurements when it
matches a report key (``rq:queue_depth``). A tag picks every check carrying it. A
pattern or tag that picks nothing is an error, so a typo cannot turn into an empty,
passing report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from tocsin.health.check import Check
from tocsin.health.model import Measurement

ALL = None
"""A pick of every measurement of a check."""


class UnknownSelection(ValueError):
    """Patterns or tags that match no check."""

    def __init__(self, patterns: Sequence[str], tags: Sequence[str], known: Sequence[str]) -> None:
        parts = []
        if patterns:
            parts.append("unknown check " + ", ".join(repr(p) for p in patterns))
        if tags:
            parts.append("unknown tag " + ", ".join(repr(t) for t in tags))
        shown = ", ".join(known[:30]) + (", ..." if len(known) > 30 else "")
        super().__init__(f"{'; '.join(parts)}; known checks: {shown}")


@dataclass(frozen=True, slots=True)
class Selection:
    """The checks to run, each with the report keys to keep (:data:`ALL` for all of them).

    It is hashable: equal selections share one cache entry, whatever patterns named them.
    """

    picks: tuple[tuple[int, frozenset[str] | None], ...]
    """``(index of the check in the checker's list, keys kept or ALL)``, by index."""

    def checks(self, checks: Sequence[Check]) -> list[Check]:
        """The selected checks out of ``checks`` (the list the selection was made from)."""
        return [checks[index] for index, _ in self.picks if index < len(checks)]

    def keep(self, check_index: int, measurements: Iterable[Measurement]) -> list[Measurement]:
        """The measurements of the check at ``check_index`` this selection reports."""
        for index, keys in self.picks:
            if index == check_index:
                return [m for m in measurements if keys is ALL or m.key in keys]
        return []


def declared_keys(check: Check) -> list[str]:
    """The report keys a check declares (``component:measurement``)."""
    return [f"{check.component}:{name}" for name in check.measurements]


def parse_list(values: Iterable[str]) -> list[str]:
    """Comma-separated query values as a list: ``["a,b", "c"]`` -> ``["a", "b", "c"]``."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def select(checks: Sequence[Check], patterns: Sequence[str], tags: Sequence[str]) -> Selection:
    """The checks ``patterns`` and ``tags`` pick; raises :class:`UnknownSelection`."""
    picks: list[tuple[int, frozenset[str] | None]] = []
    used_patterns: set[str] = set()
    used_tags: set[str] = set()
    for index, check in enumerate(checks):
        whole = [
            p for p in patterns if fnmatchcase(check.name, p) or fnmatchcase(check.component, p)
        ]
        tagged = [t for t in tags if t in check.tags]
        used_patterns.update(whole)
        used_tags.update(tagged)
        if whole or tagged:
            picks.append((index, ALL))
            continue
        keys = declared_keys(check)
        matched = {p: [k for k in keys if fnmatchcase(k, p)] for p in patterns}
        kept = frozenset(k for found in matched.values() for k in found)
        used_patterns.update(p for p, found in matched.items() if found)
        if kept:
            picks.append((index, ALL if kept == frozenset(keys) else kept))
    unknown_patterns = [p for p in patterns if p not in used_patterns]
    unknown_tags = [t for t in tags if t not in used_tags]
    if unknown_patterns or unknown_tags:
        known = sorted({name for check in checks for name in (check.name, *declared_keys(check))})
        raise UnknownSelection(unknown_patterns, unknown_tags, known)
    return Selection(tuple(picks))
