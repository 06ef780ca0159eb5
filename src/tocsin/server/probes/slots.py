"""Where a monitor's checks fall in time: a stable phase per monitor, slots on its grid.

Each monitor runs on a grid of slots anchored to the Unix epoch: ``offset + k * interval``
where ``offset`` is a fixed fraction of the interval derived from the monitor's id. So
10,000 monitors at 60 s start spread over the minute instead of all at ``:00``, and a
restarted server puts every monitor back on the same phase. The fraction is the same
whatever the interval, so a monitor switching to its retry interval keeps its place
relative to the minute as far as the shorter grid allows.

Pure functions over epoch seconds (floats); no clock, no I/O.
"""

from __future__ import annotations

import hashlib
import math


def phase(monitor_id: int) -> float:
    """The monitor's fixed position within any interval, in ``[0, 1)``.

    A hash rather than ``id % n``: ids are consecutive, and consecutive ids must not land
    next to each other in a clump.
    """
    digest = hashlib.blake2b(str(monitor_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def next_slot(monitor_id: int, interval: float, not_before: float) -> float:
    """The first slot (epoch seconds) of ``monitor_id``'s grid at or after ``not_before``."""
    if interval <= 0:
        raise ValueError("interval must be positive")
    offset = phase(monitor_id) * interval
    return offset + math.ceil((not_before - offset) / interval) * interval


def catch_up(slot: float, now: float, interval: float) -> tuple[float, int]:
    """The latest slot of the grid through ``slot`` that is not after ``now``, and how
    many slots before it were passed over.

    A scheduler that fell behind (a blocked event loop, a suspended machine) runs the
    slot that just passed instead of every missed one: the missed slots are skipped, not
    piled up.
    """
    if now <= slot:
        return slot, 0
    missed = math.floor((now - slot) / interval)
    return slot + missed * interval, missed
