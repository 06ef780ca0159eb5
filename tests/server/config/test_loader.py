"""Loading tocsin.yaml: line numbers, ${ENV} substitution, syntax errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.errors import ConfigError
from tocsin.server.config.loader import Path as YamlPath
from tocsin.server.config.loader import load_file, load_text, substitute

TEXT = """\
channels:
  - name: ops
    kind: webhook
    url: ${HOOK_URL}
monitors:
  - name: a
    period: 1d

  - name: b
    grace: 5m
"""


def test_every_key_and_item_keeps_its_line() -> None:
    document = load_text(TEXT, {"HOOK_URL": "http://h/"})
    assert document.problems == []
    assert document.data["channels"][0]["url"] == "http://h/"
    assert document.line_of(("channels",)) == 1
    assert document.line_of(("channels", 0)) == 2
    assert document.line_of(("channels", 0, "url")) == 4
    assert document.line_of(("monitors", 1)) == 9
    assert document.line_of(("monitors", 1, "grace")) == 10
    # A missing key falls back to its item.
    assert document.line_of(("monitors", 1, "period")) == 9


FIELDS = """\
monitors:
  - name: a
    assert:
      - status == 200
      - subject: json
        path: $.x
    components:
      "rq:workers": {fail: "< 1"}
      "rq:workers[emails]":
        fail: "> 1"
    headers:
      X.Dotted: "v"
    "a.b": 1
    a: {b: 2}
    404: gone
"""


@pytest.mark.parametrize(
    ("field", "path", "line"),
    [
        pytest.param("assert", ("assert",), 3, id="key"),
        pytest.param("assert[1]", ("assert", 1), 5, id="item"),
        pytest.param("assert[1].path", ("assert", 1, "path"), 6, id="key-in-item"),
        pytest.param("components.rq:workers", ("components", "rq:workers"), 8, id="colon-key"),
        pytest.param(
            "components.rq:workers[emails]",
            ("components", "rq:workers[emails]"),
            9,
            id="bracket-key",
        ),
        pytest.param("headers.X.Dotted", ("headers", "X.Dotted"), 12, id="dotted-key"),
        pytest.param("a.b", ("a.b",), 13, id="longest-key-first"),
        pytest.param("404", ("404",), 15, id="number-key"),
        # What the data does not have stops at the deepest part that exists.
        pytest.param("assert[7]", ("assert",), 3, id="index-past-the-end"),
        pytest.param("components.rq:queue", ("components",), 7, id="missing-key"),
        pytest.param("headers.X.Dotted.more", ("headers", "X.Dotted"), 12, id="past-a-scalar"),
        pytest.param("slug", ("slug",), 2, id="missing-field"),
        pytest.param("headers[0]", ("headers",), 11, id="index-into-a-mapping"),
    ],
)
def test_a_validators_field_name_finds_its_line(field: str, path: YamlPath, line: int) -> None:
    document = load_text(FIELDS, {})
    assert document.problems == []
    item = ("monitors", 0)
    assert document.field_path(item, field) == (*item, *path)
    assert document.line_of(document.field_path(item, field)) == line


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        pytest.param("${A}", {"A": "x"}, "x", id="set"),
        pytest.param("pre-${A}-post", {"A": "x"}, "pre-x-post", id="inside-text"),
        pytest.param("${A:-dflt}", {}, "dflt", id="default-when-unset"),
        pytest.param("${A:-dflt}", {"A": ""}, "dflt", id="default-when-empty"),
        pytest.param("${A}", {"A": ""}, "", id="empty-without-default"),
        pytest.param("${A:-}", {}, "", id="empty-default"),
        pytest.param("$${A}", {"A": "x"}, "${A}", id="escaped"),
        pytest.param("${A}${B}", {"A": "1", "B": "2"}, "12", id="two"),
    ],
)
def test_substitution(value: str, env: dict[str, str], expected: str) -> None:
    assert substitute(value, env) == (expected, [])


def test_unset_variable_is_a_problem_with_its_line() -> None:
    document = load_text(TEXT, {})
    assert document.problems == [
        "tocsin.yaml:4: channels[0].url: environment variable HOOK_URL is not set "
        "(set it, or write ${HOOK_URL:-default})"
    ]
    assert ("channels", 0, "url") in document.bad_paths


def test_bad_reference_is_a_problem() -> None:
    _, problems = substitute("${not valid}", {})
    assert problems == ["${not valid} is not a valid variable reference; use ${NAME}"]


def test_syntax_error_names_its_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_text("monitors:\n  - name: a\n    period: [1d\n", {}, source="x.yaml")
    [problem] = info.value.problems
    assert problem.startswith("x.yaml:4: not valid YAML: ")
    assert "line 3" in problem


def test_key_given_twice_is_a_problem() -> None:
    document = load_text("monitors:\n  - name: a\n    grace: 1m\n    grace: 2m\n", {})
    assert document.problems == [
        "tocsin.yaml:4: monitors[0].grace: appears twice in the same mapping (first on line 3)"
    ]
    assert document.data["monitors"][0]["grace"] == "1m"


def test_anchors_and_merge_keys_work() -> None:
    text = (
        "defaults: &d\n  grace: 5m\n  channels: [ops]\n"
        "monitors:\n  - name: a\n    <<: *d\n    period: 1h\n"
    )
    document = load_text(text, {})
    assert document.data["monitors"][0] == {
        "name": "a",
        "grace": "5m",
        "channels": ["ops"],
        "period": "1h",
    }


def test_keys_given_next_to_a_merge_key_win() -> None:
    text = (
        "monitors:\n"
        "  - &hourly {name: sync-a, period: 1h, grace: 10m}\n"
        "  - {<<: *hourly, name: sync-b}\n"
    )
    document = load_text(text, {})
    assert document.problems == []
    assert document.data["monitors"][1] == {"name": "sync-b", "period": "1h", "grace": "10m"}
    assert document.line_of(("monitors", 1, "period")) == 2  # where the value is written


def test_empty_file_is_no_data() -> None:
    assert load_text("", {}).data is None
    assert load_text("# only a comment\n", {}).data is None


def test_load_file_reads_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tocsin.yaml"
    path.write_text("monitors: 3\n", encoding="utf-8")
    document = load_file(str(path), {})
    assert document.source == str(path)
    assert document.data == {"monitors": 3}


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_file(str(tmp_path / "nope.yaml"), {})


def _alias_bomb(levels: int, width: int = 9) -> str:
    """The "billion laughs": each level is a list of ``width`` aliases to the one above."""
    lines = ['monitors: &l0 ["lol"]']
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{aliases}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [6, 9], ids=["million", "billion"])
def test_alias_bomb_is_refused_naming_the_line(levels: int) -> None:
    text = _alias_bomb(levels)
    assert len(text) < 600  # a few hundred bytes
    with pytest.raises(ConfigError) as info:
        load_text(text, {}, source="bomb.yaml")
    # Level 5 (line 6) is the first whose aliases copy more than 100,000 values in all.
    assert info.value.problems == [
        "bomb.yaml:6: the alias *l4 takes the file past 100,000 values copied from aliases; "
        "use fewer aliases, or aliases of smaller parts"
    ]


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        load_text("monitors:\n  - &loop\n    name: a\n    again: *loop\n", {})
    assert info.value.problems == [
        "tocsin.yaml:4: the alias *loop is inside the value it names (a loop)"
    ]


def test_nesting_too_deep_is_refused_naming_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_text("monitors:\n  - " + "[" * 5000 + "]" * 5000 + "\n", {})
    assert info.value.problems == ["tocsin.yaml:2: nested more than 50 levels deep"]


def test_many_aliases_within_the_budget_load() -> None:
    anchor = "  - &base {name: m0, period: 1h, grace: 5m, channels: [ops], tags: [a, b]}\n"
    items = "".join(f"  - {{<<: *base, name: m{i}}}\n" for i in range(1, 2000))
    document = load_text("monitors:\n" + anchor + items, {})
    assert document.problems == []
    assert len(document.data["monitors"]) == 2000
    assert document.data["monitors"][1999]["tags"] == ["a", "b"]


def test_an_alias_of_an_item_with_a_merge_key_copies_it_as_written() -> None:
    text = "monitors:\n  - &a {<<: {grace: 5m, period: 1h}, name: x, grace: 1m}\n  - *a\n"
    document = load_text(text, {})
    assert document.problems == []
    assert document.data["monitors"][1] == {"name": "x", "grace": "1m", "period": "1h"}
