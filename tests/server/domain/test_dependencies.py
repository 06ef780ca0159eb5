"""depends_on, table-driven: a dependency graph in, problems (unknown names, cycles) out."""

from __future__ import annotations

import pytest

from tocsin.server.domain.dependencies import (
    DependencyProblem,
    check_dependencies,
    dependents,
    down_parents,
)
from tocsin.server.domain.states import MonitorState


@pytest.mark.parametrize(
    ("graph", "problems"),
    [
        pytest.param({}, [], id="empty"),
        pytest.param(
            {"invoice-cron": ["shop-app"], "shop-app": [], "api": ["shop-app"]}, [], id="a-tree"
        ),
        pytest.param(
            {"a": ["b"], "b": ["c"], "c": [], "d": ["b", "c"]}, [], id="diamond-is-no-cycle"
        ),
        pytest.param(
            {"invoice-cron": ["shop-ap"]},
            [("invoice-cron", 0, "no monitor named 'shop-ap'")],
            id="unknown-parent",
        ),
        pytest.param({"a": ["a"]}, [("a", 0, "depends_on cycle: a -> a")], id="self"),
        pytest.param(
            {"b": ["a"], "a": ["c", "b"], "c": []},
            [("a", 1, "depends_on cycle: a -> b -> a")],
            id="two-cycle-reported-once",
        ),
        pytest.param(
            {"a": ["b"], "b": ["c"], "c": ["a"]},
            [("a", 0, "depends_on cycle: a -> b -> c -> a")],
            id="three-cycle",
        ),
        pytest.param(
            {"a": ["b", "c"], "b": ["c"], "c": ["a"]},
            [("a", 1, "depends_on cycle: a -> c -> a")],
            id="shortest-cycle-named",
        ),
        pytest.param(
            {"a": ["b"], "b": ["a"], "x": ["y", "nope"], "y": ["x"]},
            [
                ("a", 0, "depends_on cycle: a -> b -> a"),
                ("x", 0, "depends_on cycle: x -> y -> x"),
                ("x", 1, "no monitor named 'nope'"),
            ],
            id="every-problem-listed",
        ),
    ],
)
def test_check_dependencies(
    graph: dict[str, list[str]], problems: list[tuple[str, int, str]]
) -> None:
    assert check_dependencies(graph) == [DependencyProblem(*p) for p in problems]


def test_parents_may_be_monitors_outside_the_file() -> None:
    graph = {"invoice-cron": ["shop-app"]}
    assert check_dependencies(graph, known={"shop-app"}) == []
    assert check_dependencies(graph, known=set())[0].field == "depends_on[0]"


def test_a_long_chain_is_checked_without_recursion_limits() -> None:
    graph = {f"m{i}": [f"m{i + 1}"] for i in range(5000)} | {"m5000": ["m0"]}
    (problem,) = check_dependencies(graph)
    assert problem.monitor == "m0"
    assert problem.message.startswith("depends_on cycle: m0 -> m1 -> m2")
    assert problem.message.endswith("m5000 -> m0")


def test_down_parents_and_dependents() -> None:
    states = {"shop-app": MonitorState.DOWN, "db": MonitorState.UP, "cache": MonitorState.GRACE}
    assert down_parents(["shop-app", "db", "cache", "gone"], states) == ("shop-app",)
    graph = {"invoice-cron": ["shop-app"], "api": ["shop-app", "db"], "db": []}
    assert dependents(graph, "shop-app") == ("api", "invoice-cron")
    assert dependents(graph, "api") == ()
