"""Validating tocsin.yaml: every problem listed with its line, in the API's words."""

from __future__ import annotations

from datetime import timedelta

from tocsin.server.config.loader import load_text
from tocsin.server.config.validate import DesiredState, check_channel_references, validate

EXAMPLE = """\
channels:
  - name: ops
    kind: webhook
    url: http://127.0.0.1:9999/hook
monitors:
  - name: nightly-backup
    kind: heartbeat
    period: 1d          # durations: 30s, 5m, 2h, 1d or plain seconds
    grace: 1h
    channels: [ops]
  - name: invoice-cron
    kind: heartbeat
    cron: "0 3 * * *"
    timezone: Europe/Berlin
    grace: 30m
    channels: [ops]
"""


def check(text: str, env: dict[str, str] | None = None) -> tuple[DesiredState, list[str]]:
    return validate(load_text(text, env or {}))


def test_the_issue_example_is_valid() -> None:
    desired, problems = check(EXAMPLE)
    assert problems == []
    assert [c.name for c in desired.channels] == ["ops"]
    backup, invoice = desired.monitors
    assert backup.schedule.period == timedelta(days=1)
    assert backup.schedule.grace == timedelta(hours=1)
    assert backup.channels == ("ops",)
    assert invoice.schedule.cron == "0 3 * * *"
    assert invoice.schedule.timezone == "Europe/Berlin"
    assert invoice.schedule.grace == timedelta(minutes=30)


def test_one_second_periods_and_graces_are_accepted() -> None:
    desired, problems = check("monitors:\n  - name: fast\n    period: 1s\n    grace: 1\n")
    assert problems == []
    assert desired.monitors[0].schedule.period == timedelta(seconds=1)
    assert desired.monitors[0].schedule.grace == timedelta(seconds=1)


def test_empty_file_describes_nothing() -> None:
    assert check("") == (DesiredState(), [])
    assert check("channels:\nmonitors:\n")[1] == []


BROKEN = """\
channels:
  - name: ops
    kind: pager
  - name: hook
    kind: webhook
    url: ${HOOK}
monitors:
  - name: backup
    period: 1 day
    grace: 0
  - name: invoice-cron
    cron: "61 3 * * *"
    timezone: Mars/Olympus
    colour: red
  - name: backup
    period: 1h
  - just a string
  - name: both
    period: 1h
    cron: "@daily"
  - name: zoned
    period: 1h
    timezone: UTC
servers: []
"""


def test_a_file_with_many_errors_lists_them_all_with_lines() -> None:
    _, problems = check(BROKEN)
    assert problems == [
        "tocsin.yaml:3: channels[0] (ops).kind: unknown kind 'pager'; "
        "supported: webhook, email, slack, discord, apprise",
        "tocsin.yaml:6: channels[1].url: environment variable HOOK is not set "
        "(set it, or write ${HOOK:-default})",
        "tocsin.yaml:9: monitors[0] (backup).period: '1 day' is not a duration; "
        "use seconds or 30s, 5m, 2h, 1d, 1w",
        "tocsin.yaml:10: monitors[0] (backup).grace: a duration must be longer than 0 seconds",
        "tocsin.yaml:12: monitors[1] (invoice-cron).cron: '61 3 * * *' is not a valid cron "
        "expression: Bad minute",
        "tocsin.yaml:13: monitors[1] (invoice-cron).timezone: 'Mars/Olympus' is not a known "
        "time zone (use a name like Europe/Berlin)",
        "tocsin.yaml:14: monitors[1] (invoice-cron).colour: unknown field; expected one of "
        "channels, cron, depends_on, desc, escalate, flapping, grace, kind, name, "
        "notify_on_recovery, paused, period, remind, slug, tags, timezone",
        "tocsin.yaml:15: monitors[2] (backup).name: name 'backup' is used twice "
        "(first by monitors[0], line 8)",
        "tocsin.yaml:17: monitors[3]: must be a mapping (name: ..., kind: ...)",
        "tocsin.yaml:19: monitors[4] (both).period: give either period or cron, not both",
        "tocsin.yaml:23: monitors[5] (zoned).timezone: only applies to cron schedules",
        "tocsin.yaml:24: servers: unknown top-level key; expected channels, monitors, "
        "defaults or maintenance",
    ]


def test_duplicate_names_and_slugs_point_at_the_first() -> None:
    text = (
        "channels:\n"
        "  - {name: ops, kind: webhook, url: 'http://a/'}\n"
        "  - {name: ops, kind: webhook, url: 'http://b/'}\n"
        "monitors:\n"
        "  - name: Backup Job\n"
        "  - name: backup job\n"
        "    slug: backup-job\n"
        "  - name: Backup Job\n"
    )
    desired, problems = check(text)
    assert problems == [
        "tocsin.yaml:3: channels[1] (ops).name: name 'ops' is used twice "
        "(first by channels[0], line 2)",
        "tocsin.yaml:7: monitors[1] (backup job).slug: slug 'backup-job' is used twice "
        "(first by monitors[0], line 5)",
        "tocsin.yaml:8: monitors[2] (Backup Job).name: name 'Backup Job' is used twice "
        "(first by monitors[0], line 5)",
    ]
    assert [m.name for m in desired.monitors] == ["Backup Job"]


def test_sections_must_be_lists_and_the_file_a_mapping() -> None:
    assert check("monitors: {name: a}\n")[1] == [
        "tocsin.yaml:1: monitors: must be a list of monitors (each item starts with -)"
    ]
    assert check("- a\n- b\n")[1] == [
        "tocsin.yaml:1: the file must be a mapping with `channels:` and `monitors:`"
    ]


def test_missing_name_is_reported_at_the_item() -> None:
    assert check("monitors:\n  - period: 1h\n")[1] == [
        "tocsin.yaml:2: monitors[0].name: is required"
    ]


def test_substituted_values_are_validated() -> None:
    text = "monitors:\n  - name: a\n    period: ${PERIOD:-5m}\n    grace: ${GRACE}\n"
    desired, problems = check(text, {"GRACE": "90"})
    assert problems == []
    assert desired.monitors[0].schedule.period == timedelta(minutes=5)
    assert desired.monitors[0].schedule.grace == timedelta(seconds=90)
    _, problems = check(text, {"GRACE": "soon"})
    assert problems == [
        "tocsin.yaml:4: monitors[0] (a).grace: 'soon' is not a duration; "
        "use seconds or 30s, 5m, 2h, 1d, 1w"
    ]


REFS = """\
channels:
  - {name: ops, kind: webhook, url: "http://a/"}
monitors:
  - name: a
    channels: [ops, pager, team]
"""


def test_items_with_problems_still_have_names_and_channels_checked() -> None:
    text = (
        "channels:\n"
        "  - {name: ops, kind: webhook}\n"
        "monitors:\n"
        "  - {name: a, period: soon, channels: [ops, pager]}\n"
        "  - {name: a, grace: later}\n"
    )
    document = load_text(text, {})
    desired, problems = validate(document)
    problems += check_channel_references(document, desired, set(), prune=False)
    assert problems == [
        "tocsin.yaml:2: channels[0] (ops).url: is required",
        "tocsin.yaml:4: monitors[0] (a).period: 'soon' is not a duration; "
        "use seconds or 30s, 5m, 2h, 1d, 1w",
        "tocsin.yaml:5: monitors[1] (a).name: name 'a' is used twice (first by monitors[0], "
        "line 4)",
        "tocsin.yaml:5: monitors[1] (a).grace: 'later' is not a duration; "
        "use seconds or 30s, 5m, 2h, 1d, 1w",
        "tocsin.yaml:4: monitors[0] (a).channels[1]: no channel named 'pager' in this file "
        "or on the server",
    ]


def test_unknown_channels_are_problems_unless_on_the_server() -> None:
    document = load_text(REFS, {})
    desired, problems = validate(document)
    assert problems == []
    assert check_channel_references(document, desired, {"team"}, prune=False) == [
        "tocsin.yaml:5: monitors[0] (a).channels[1]: no channel named 'pager' in this file "
        "or on the server"
    ]


def test_with_prune_every_channel_must_be_in_the_file() -> None:
    document = load_text(REFS, {})
    desired, _ = validate(document)
    assert check_channel_references(document, desired, {"team", "pager"}, prune=True) == [
        "tocsin.yaml:5: monitors[0] (a).channels[1]: channel 'pager' is not in this file, "
        "and --prune deletes channels that are not in the file",
        "tocsin.yaml:5: monitors[0] (a).channels[2]: channel 'team' is not in this file, "
        "and --prune deletes channels that are not in the file",
    ]


def test_nested_problems_in_defaults_and_items_name_their_own_lines() -> None:
    _, problems = check(
        "defaults:\n"  # 1
        "  remind:\n"  # 2
        "    every: 1m\n"  # 3
        "  escalate: {channels: [ops],\n"  # 4
        '             after: "${LATER}"}\n'  # 5
        "monitors:\n"  # 6
        "  - name: a\n"  # 7
        "    kind: http\n"  # 8
        "    url: http://127.0.0.1:1/\n"  # 9
        "    interval: 500ms\n"  # 10
        "    confirm:\n"  # 11
        "      retry: 500ms\n"  # 12
    )
    assert problems == [
        "tocsin.yaml:3: defaults.remind.every: must be at least 5m (the server's "
        "TOCSIN_REMIND_MIN_INTERVAL)",
        # Its ${...} problem is said once, not again as a bad duration.
        "tocsin.yaml:5: defaults.escalate.after: environment variable LATER is not set "
        "(set it, or write ${LATER:-default})",
        "tocsin.yaml:10: monitors[0] (a).interval: must be from 1s to 1d",
        "tocsin.yaml:12: monitors[0] (a).confirm.retry: must be at least 1s",
    ]
