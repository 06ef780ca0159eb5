"""`tocsin check`: run one probe once and explain the outcome, for CI and for writing
assertions before they go into tocsin.yaml.

This module holds the command's options and turns them into a probe plan; probing,
judging and printing live in ``tocsin.cli.check_report``, imported only when the command
runs, so registering the command keeps ``tocsin ping`` light.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from tocsin.cli import friendly_errors

if TYPE_CHECKING:
    from tocsin.cli.check_report import CheckPlan
    from tocsin.server.domain.assertions import Assertion
    from tocsin.server.domain.component_thresholds import ComponentRule

EXIT_PASS = 0
EXIT_FAIL = 1
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 header name / method
_LEVELS = ("warn", "fail")


def _bad(message: str, option: str) -> click.BadParameter:
    return click.BadParameter(message, param_hint=f"'{option}'")


def parse_assertion_options(texts: Sequence[str]) -> list[Assertion]:
    """Every ``--assert``, parsed; all bad ones reported at once, each with a caret under
    the column the parser blames."""
    from tocsin.server.domain.assertions import AssertionSyntaxError, parse_assertion

    parsed: list[Assertion] = []
    problems: list[str] = []
    for text in texts:
        try:
            parsed.append(parse_assertion(text))
        except AssertionSyntaxError as exc:
            problems.append(_with_caret(text, exc.reason, exc.column))
    if problems:
        raise _bad("\n".join(problems), "--assert")
    return parsed


def _with_caret(text: str, reason: str, column: int | None) -> str:
    if column is None:
        return f"{reason}\n    {text}"
    return f"{reason} (column {column})\n    {text}\n    {' ' * (column - 1)}^"


def parse_component_options(texts: Sequence[str]) -> dict[str, ComponentRule]:
    """``--component 'rq:workers=fail:< 1'`` (also ``KEY=< 1`` for fail, and
    ``KEY=warn:> 500,fail:> 2000``) into the rules an ``app`` monitor's config gives."""
    from tocsin.errors import ValidationError
    from tocsin.server.domain.component_thresholds import parse_thresholds

    config: dict[str, dict[str, str]] = {}
    for text in texts:
        key, equals, spec = text.partition("=")
        key = key.strip()
        if not equals or not key or not spec.strip():
            raise _bad(
                f"{text!r} is not KEY=THRESHOLD; write e.g. 'rq:workers=fail:< 1' "
                "or 'rq:queue_depth=warn:> 500,fail:> 2000'",
                "--component",
            )
        levels = config.setdefault(key, {})
        for part in spec.split(","):
            level, colon, threshold = part.partition(":")
            if not colon or level.strip() not in _LEVELS:
                level, threshold = "fail", part  # no level given: a fail threshold
            level = level.strip()
            if level in levels:
                raise _bad(f"{key}: {level} is given twice", "--component")
            levels[level] = threshold.strip()
    try:
        return parse_thresholds(config, field="")
    except ValidationError as exc:
        problems = [f"{where.lstrip('.')}: {why}" for where, why in exc.fields.items()]
        raise _bad("\n".join(problems), "--component") from None


def parse_header_options(texts: Sequence[str], environ: dict[str, str]) -> dict[str, str]:
    """``--header 'Name: value'`` into a dict, ``${ENV}`` in values expanded as in
    tocsin.yaml. Messages name the header, never show its value."""
    from tocsin.server.config.loader import substitute

    headers: dict[str, str] = {}
    for number, text in enumerate(texts, start=1):
        name, colon, value = text.partition(":")
        name = name.strip()
        if not colon or not _TOKEN.fullmatch(name):
            raise _bad(
                f"header #{number} is not 'Name: value' (its text is not shown: it may be "
                "a secret); write e.g. --header 'Authorization: Bearer ${API_TOKEN}'",
                "--header",
            )
        expanded, problems = substitute(value.strip(), environ)
        if problems:
            raise _bad(f"{name}: {'; '.join(problems)}", "--header")
        headers[name] = expanded
    return headers


def split_target(url: str) -> tuple[str, str, int | None]:
    """The scheme, host and port of ``url``; a usage error saying how to write it."""
    if "://" not in url:
        raise _bad(
            f"{url!r} has no scheme; write http://{url}, https://{url} or tcp://HOST:PORT",
            "URL",
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed [IPv6 address
        raise _bad(f"{url!r} is not a URL: {exc}", "URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "tcp"):
        raise _bad(f"unsupported scheme {parts.scheme!r}: use http, https or tcp", "URL")
    try:
        port = parts.port
    except ValueError:
        raise _bad(f"{url!r} has a bad port (1 to 65535)", "URL") from None
    if not parts.hostname:
        raise _bad(f"{url!r} has no host name", "URL")
    if scheme == "tcp" and (port is None or port == 0):
        raise _bad(f"{url!r} needs a port: tcp://HOST:PORT", "URL")
    if scheme == "tcp" and parts.path not in ("", "/"):
        raise _bad(f"{url!r}: a tcp:// target has no path", "URL")
    return scheme, parts.hostname, port


def _parse_timeout(text: str) -> Any:
    from tocsin.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise _bad(str(exc), "--timeout") from None


def build_plan(options: dict[str, Any], environ: dict[str, str]) -> CheckPlan:
    """Validate every option and turn them into what to probe and how to judge it."""
    from tocsin.cli.check_report import CheckPlan, Kind
    from tocsin.server.probes import DEFAULT_MAX_REDIRECTS, HttpTarget, TcpTarget, app_target

    url: str = options["url"]
    scheme, host, port = split_target(url)
    timeout = _parse_timeout(options["timeout"])
    assertions = parse_assertion_options(options["assertions"])
    if scheme == "tcp":
        given = [name for name, on in _http_only(options).items() if on]
        if given:
            raise click.UsageError(f"{', '.join(given)}: only for http:// and https:// URLs")
        _refuse_http_subjects(assertions)
        assert port is not None
        tcp = TcpTarget(host, port, timeout, tls=options["tls"], verify_tls=not options["insecure"])
        return CheckPlan(Kind.TCP, tcp, assertions)
    if options["tls"]:
        raise click.UsageError("--tls is for tcp:// URLs; https:// URLs always use TLS")
    if options["components"] and not options["app"]:
        raise click.UsageError("--component needs --app (thresholds apply to a health report)")
    if options["no_follow"] and options["max_redirects"] is not None:
        raise click.UsageError("--max-redirects and --no-follow cannot be combined")
    method: str = options["method"].upper()
    if not _TOKEN.fullmatch(method):
        raise _bad(f"{method!r} is not an HTTP method", "--method")
    body: str | None = options["body"]
    if body == "-":
        body = sys.stdin.read()
    http = HttpTarget(
        url,
        method=method,
        headers=parse_header_options(options["headers"], environ),
        body=None if body is None else body.encode(),
        timeout=timeout,
        follow_redirects=not options["no_follow"],
        max_redirects=options["max_redirects"] or DEFAULT_MAX_REDIRECTS,
        verify_tls=not options["insecure"],
    )
    if options["app"]:
        rules = parse_component_options(options["components"])
        return CheckPlan(Kind.APP, app_target(http), assertions, rules)
    return CheckPlan(Kind.HTTP, http, assertions)


def _refuse_http_subjects(assertions: Sequence[Assertion]) -> None:
    from tocsin.server.domain.assertions import Subject

    tcp_subjects = (Subject.RESPONSE_TIME, Subject.CERT_DAYS)
    wrong = [a.text for a in assertions if a.subject not in tcp_subjects]
    if wrong:
        raise _bad(
            f"a tcp:// check has no HTTP answer; it can assert response_time and cert_days, "
            f"not: {'; '.join(wrong)}",
            "--assert",
        )


def _http_only(options: dict[str, Any]) -> dict[str, bool]:
    """Which options that only an HTTP check takes were given."""
    return {
        "--app": options["app"],
        "--component": bool(options["components"]),
        "--header": bool(options["headers"]),
        "--method": options["method"].upper() != "GET",
        "--body": options["body"] is not None,
        "--no-follow": options["no_follow"],
        "--max-redirects": options["max_redirects"] is not None,
    }


@click.command("check", short_help="Probe a URL once and explain the outcome (exit 1 on fail).")
@click.argument("url")
@click.option(
    "--assert",
    "assertions",
    multiple=True,
    metavar="ASSERTION",
    help='An assertion like "status == 200" (repeatable; see docs/assertions.md).',
)
@click.option("--app", is_flag=True, help="Read the answer as an application/health+json report.")
@click.option(
    "--component",
    "components",
    multiple=True,
    metavar="KEY=LEVEL:THRESHOLD",
    help="With --app, a threshold like 'rq:workers=fail:< 1' (repeatable).",
)
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="A request header (repeatable); ${ENV} in the value is expanded.",
)
@click.option("--method", default="GET", show_default=True, metavar="METHOD", help="HTTP method.")
@click.option("--body", metavar="TEXT", help="A request body; - reads stdin.")
@click.option(
    "--timeout",
    default="10s",
    show_default=True,
    metavar="DURATION",
    help="For the whole exchange: 10s, 1m or seconds (2.5).",
)
@click.option("--no-follow", is_flag=True, help="Do not follow redirects: a 3xx is the answer.")
@click.option(
    "--max-redirects",
    type=click.IntRange(min=1),
    metavar="N",
    help="Follow at most N redirects (default 10).",
)
@click.option("--insecure", is_flag=True, help="Accept any TLS certificate (still encrypted).")
@click.option("--tls", is_flag=True, help="For tcp:// URLs: complete a TLS handshake too.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@friendly_errors
def check_command(**options: Any) -> None:
    """Probe URL once (http://, https:// or tcp://HOST:PORT) and explain the outcome.

    Prints the verdict with the status and timings, then each assertion and (with --app)
    each component with the value it saw. Without --assert an http check asserts
    "status == 2xx", an --app check uses the report's own statuses, and a tcp check
    passes when the connection opens.

    Exit status: 0 pass (also warn), 1 fail, 2 usage error.

    \b
    Examples:
      tocsin check https://api.example.com/ping --assert "status == 200" \\
        --assert 'json $.version exists' --header 'Authorization: Bearer ${API_TOKEN}'
      tocsin check --app http://127.0.0.1:5000/healthz --component 'rq:workers=fail:< 1'
      tocsin check tcp://127.0.0.1:6379
    """
    from tocsin.cli.check_report import print_result, run_check

    plan = build_plan(options, dict(os.environ))
    result = run_check(plan)
    print_result(result, as_json=options["as_json"])
    sys.exit(EXIT_FAIL if result.failed else EXIT_PASS)


COMMANDS: list[click.Command] = [check_command]
