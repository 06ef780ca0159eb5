"""Admission: the global and per-host caps, and the order runs waiting for them start in."""

from __future__ import annotations

import pytest

from tocsin.server.probes.admission import Admission, Ticket


class Named(Ticket):
    __slots__ = ("name",)

    def __init__(self, name: str, host: str) -> None:
        super().__init__(host)
        self.name = name


def names(tickets: list[Named]) -> list[str]:
    return [t.name for t in tickets]


def test_the_global_cap_lines_runs_up_first_in_first_out() -> None:
    admission: Admission[Named] = Admission(2, None)
    a, b, c, d = (Named(n, f"host-{n}") for n in "abcd")
    assert [admission.offer(t) for t in (a, b, c, d)] == [True, True, False, False]
    assert (admission.active, admission.waiting) == (2, 2)
    assert names(admission.release(a)) == ["c"]
    assert names(admission.release(b)) == ["d"]
    assert admission.release(c) == []
    assert (admission.active, admission.waiting) == (1, 0)


def test_a_run_waiting_for_its_host_holds_no_global_place() -> None:
    admission: Admission[Named] = Admission(2, 1)
    slow1, slow2, fast = Named("slow1", "slow"), Named("slow2", "slow"), Named("fast", "fast")
    assert admission.offer(slow1) is True
    assert admission.offer(slow2) is False  # its host is full
    assert admission.offer(fast) is True  # the second global place is still free
    assert admission.release(fast) == []
    assert names(admission.release(slow1)) == ["slow2"]  # the host place passes on
    assert admission.release(slow2) == []
    assert (admission.active, admission.waiting) == (0, 0)


def test_a_host_place_passed_on_still_waits_for_a_global_place() -> None:
    admission: Admission[Named] = Admission(1, 1)
    a1, a2, b1 = Named("a1", "a"), Named("a2", "a"), Named("b1", "b")
    assert admission.offer(a1) is True
    assert admission.offer(b1) is False  # global line
    assert admission.offer(a2) is False  # host line
    assert names(admission.release(a1)) == ["b1"]  # a2 got a's place, queued behind b1
    assert names(admission.release(b1)) == ["a2"]


@pytest.mark.parametrize("line", ["global", "host"])
def test_a_cancelled_waiting_run_never_starts(line: str) -> None:
    admission: Admission[Named] = Admission(1 if line == "global" else 5, 1)
    first = Named("first", "h")
    waiting = Named("waiting", "other" if line == "global" else "h")
    after = Named("after", "other" if line == "global" else "h")
    admission.offer(first)
    admission.offer(waiting)
    admission.offer(after)
    admission.cancel(waiting)
    admission.cancel(waiting)  # twice is harmless
    assert admission.waiting == 1
    assert names(admission.release(first)) == ["after"]
    assert admission.release(after) == []
    assert (admission.active, admission.waiting) == (0, 0)


def test_caps_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Admission(0, None)
    with pytest.raises(ValueError, match="at least 1"):
        Admission(1, 0)
