"""How a probe result is stored compactly, and read back exactly as it was written.

A result's outcomes (and an ``app`` monitor's components) repeat the same texts in every
result: assertion texts, severities, keys, thresholds, and messages that differ only by
the value they show. Each item is split into its *value* and its *shape*: the item without
the value, the message cut around where the value is shown (``["status (", "number",
") == 200"]``: the text before, how the value is rendered, the text after). The shapes of a
result form a *label*, stored once in ``result_labels`` under a hash of its content; the
result keeps the label's id and only the values (``[200, 84.2]``).

Every item is checked when it is encoded: it is stored compactly only if its label and value
give back exactly the item, otherwise the whole result keeps its full outcomes and
components (``labels`` is NULL). A changed assertion list is a new label, so old results
keep their own texts. Timings are REAL columns, shown rounded to 6 significant digits (what
REAL keeps); the scheduled time is kept as ``late_ms`` before the start.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.domain.assertion_eval import AssertionOutcome
from tocsin.server.domain.assertion_model import format_json, format_ms, format_number, is_number
from tocsin.server.domain.health_report import ComponentReading
from tocsin.server.storage.probe_rows import ResultRecord, status_of
from tocsin.server.storage.probe_sql import StoredResultRow
from tocsin.server.storage.tables import result_labels
from tocsin.server.storage.types import utc_from_db

TIMINGS = ("dns_ms", "connect_ms", "tls_ms", "first_byte_ms")
OUTCOME_VALUE = "resolved"
COMPONENT_VALUE = "value"
_CHUNK = 500

Item = dict[str, Any]
StoredRow = RowMapping | Mapping[str, Any]  # a probe_results row as selected
Label = dict[str, Any]  # {"outcomes": [shape, ...], "components": [shape, ...]}

_MS = timedelta(milliseconds=1)
# Items (as tuples of their fields) -> their label and its id; cleared when full.
_LABELLED: dict[Any, tuple[Label | None, int | None]] = {}
_LABELLED_MAX = 10_000

_RENDERERS: dict[str, Callable[[Any], str]] = {
    "number": format_number,
    "ms": format_ms,
    "json": format_json,
}


def encode_result(row: Mapping[str, Any]) -> tuple[StoredResultRow, Label | None]:
    """The ``probe_results`` row of a result given as ``ProbeResultRow._asdict()``, and
    its label (``None`` when it is stored in full); ``labels`` is the label's id."""
    timings = row["timings"] or {}
    cert = timings.get("cert_not_after")
    late = row["started_at"] - row["scheduled_at"]
    outcomes = list(row["outcomes"] or ())
    components = list(row["components"] or ())
    label, labels = _labelled(outcomes, components)
    if label is None:
        outcome_values, component_values = outcomes or None, components or None
    else:
        outcome_values = [o[OUTCOME_VALUE] for o in outcomes] or None
        component_values = [c[COMPONENT_VALUE] for c in components] or None
    stored = StoredResultRow(
        monitor_id=row["monitor_id"],
        started_at=row["started_at"],
        late_ms=round(late / _MS),
        verdict=row["verdict"],
        failure=row["failure"],
        error=row["error"],
        status_code=row["status_code"],
        total_ms=row["total_ms"],
        dns_ms=timings.get("dns_ms"),
        connect_ms=timings.get("connect_ms"),
        tls_ms=timings.get("tls_ms"),
        first_byte_ms=timings.get("first_byte_ms"),
        cert_not_after=datetime.fromisoformat(cert) if cert else None,
        labels=labels,
        outcomes=outcome_values,
        components=component_values,
    )
    return stored, label


def label_id(label: Label) -> int:
    """The id a label is stored under: 64 bits of the hash of its content."""
    text = json.dumps(label, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def decode_items(row: StoredRow, labels: Mapping[int, Label]) -> tuple[list[Item], list[Item]]:
    """The outcomes and components of a stored result, as they were written."""
    outcomes = list(row["outcomes"] or ())
    components = list(row["components"] or ())
    if row["labels"] is None:
        return outcomes, components
    label = labels[row["labels"]]
    return (
        [_fill(s, v, OUTCOME_VALUE) for s, v in zip(label["outcomes"], outcomes, strict=True)],
        [
            _fill(s, v, COMPONENT_VALUE)
            for s, v in zip(label["components"], components, strict=True)
        ],
    )


def decode_result(row: StoredRow, labels: Mapping[int, Label]) -> ResultRecord:
    """The record of a stored ``probe_results`` row; ``labels`` holds its label."""
    outcomes, components = decode_items(row, labels)
    started_at = row["started_at"]
    cert = utc_from_db(row["cert_not_after"])
    return ResultRecord(
        id=row["id"],
        monitor_id=row["monitor_id"],
        scheduled_at=started_at - timedelta(milliseconds=row["late_ms"]),
        started_at=started_at,
        verdict=status_of(row["verdict"]),
        failure=row["failure"],
        error=row["error"],
        status_code=row["status_code"],
        total_ms=shown_real(row["total_ms"]),
        timings={
            **{name: shown_real(row[name]) for name in TIMINGS},
            "cert_not_after": cert.isoformat() if cert else None,
        },
        outcomes=tuple(AssertionOutcome.from_json(o) for o in outcomes),
        components=tuple(ComponentReading.from_json(c) for c in components),
    )


def shown_real(value: float | None) -> float | None:
    """A REAL as written (``84.2``, not ``84.19999694824219``): 6 significant digits."""
    return None if value is None else float(f"{value:.6g}")


async def fetch_labels(conn: AsyncConnection, rows: Sequence[StoredRow]) -> dict[int, Label]:
    """The labels the stored ``rows`` refer to, by id."""
    ids = sorted({row["labels"] for row in rows if row["labels"] is not None})
    found: dict[int, Label] = {}
    for start in range(0, len(ids), _CHUNK):
        query = select(result_labels.c.id, result_labels.c.body).where(
            result_labels.c.id.in_(ids[start : start + _CHUNK])
        )
        found.update((key, body) for key, body in await conn.execute(query))
    return found


def _labelled(outcomes: list[Item], components: list[Item]) -> tuple[Label | None, int | None]:
    """The label of these items and its id (``None, None``: stored in full), remembered
    for items seen before: most results repeat their monitor's previous ones exactly."""
    try:
        # Types are part of the key: ``1``, ``1.0`` and ``True`` are equal but render
        # differently.
        key = (
            len(outcomes),
            *(
                tuple((name, type(value), value) for name, value in item.items())
                for item in (*outcomes, *components)
            ),
        )
        known = _LABELLED.get(key)
    except TypeError:  # a list or object among the values: not remembered
        key, known = None, None
    if known is not None:
        return known
    label = _label(outcomes, components)
    found = (label, None if label is None else label_id(label))
    if key is not None:
        if len(_LABELLED) >= _LABELLED_MAX:
            _LABELLED.clear()
        _LABELLED[key] = found
    return found


def _label(outcomes: list[Item], components: list[Item]) -> Label | None:
    label: Label = {"outcomes": [], "components": []}
    for part, items, value_key in (
        ("outcomes", outcomes, OUTCOME_VALUE),
        ("components", components, COMPONENT_VALUE),
    ):
        for item in items:
            shape = _shape(item, value_key)
            if shape is None:
                return None
            label[part].append(shape)
    return label


def _shape(item: Item, value_key: str) -> Item | None:
    """``item`` without its value, the message cut where the value shows; ``None`` when
    that does not give back the item exactly."""
    if value_key not in item or not isinstance(item.get("message"), str):
        return None
    value, message = item[value_key], item["message"]
    rest = {key: field for key, field in item.items() if key not in (value_key, "message")}
    candidates = [
        {**rest, "message": [message[:at], name, message[at + len(shown) :]]}
        for name, shown, at in _holes(message, value)
    ]
    if value is None:  # nothing to show: the message is the same for every such result
        candidates.append({**rest, "message": [message]})
    return next((c for c in candidates if _fill(c, value, value_key) == item), None)


def _holes(message: str, value: Any) -> Iterator[tuple[str, str, int]]:
    """Where ``value`` may show in ``message``: renderer, rendering, position. A spot
    after ``(`` or ``= `` (how assertion and component messages show values) comes first."""
    if value is None:
        return
    for name, render in _RENDERERS.items():
        if name != "json" and not is_number(value):
            continue
        shown = render(value)
        spots = [at for at in range(len(message)) if message.startswith(shown, at)]
        preferred = [at for at in spots if message[:at].endswith(("(", "= "))]
        for at in preferred + spots:
            yield name, shown, at


def _fill(shape: Item, value: Any, value_key: str) -> Item:
    parts = shape["message"]
    message = parts[0] if len(parts) == 1 else parts[0] + _RENDERERS[parts[1]](value) + parts[2]
    return {**shape, value_key: value, "message": message}
