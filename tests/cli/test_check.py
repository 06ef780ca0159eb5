"""`tocsin check` against the real local targets of the probe tests (HTTP, HTTPS, raw TCP).

The command runs its own event loop, so it is invoked in a worker thread while the
targets keep serving on the test's loop.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import trustme
from click.testing import CliRunner, Result

from tests.conftest import free_port
from tests.server.probes.targets import Targets, serve_targets
from tocsin.cli import cli


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A certificate authority the command does not trust (it uses the system's CAs)."""
    return trustme.CA()


@pytest.fixture
async def targets(ca: trustme.CA) -> AsyncIterator[Targets]:
    """The probe tests' local targets, running for one test."""
    async with serve_targets(ca) as running:
        yield running


async def check(
    *args: str, env: dict[str, str | None] | None = None, stdin: str | None = None
) -> Result:
    """Run ``tocsin check ARGS`` as a user would, without blocking the targets' loop."""
    return await asyncio.to_thread(CliRunner().invoke, cli, ["check", *args], env=env, input=stdin)


def lines(result: Result) -> list[str]:
    return result.stdout.splitlines()


async def test_a_passing_check_exits_0_and_shows_each_assertion_with_its_value(
    targets: Targets,
) -> None:
    result = await check(
        f"{targets.http_url}/json",
        "--assert",
        "status == 200",
        "--assert",
        'json $.version == "1.2.3"',
        "--assert",
        "response_time < 5s",
    )
    assert result.exit_code == 0, result.output
    head, *rest = lines(result)
    assert head.startswith(f"PASS GET {targets.http_url}/json → HTTP 200 · ")
    assert "total " in head
    assert rest[0] == "PASS status (200) == 200"
    assert rest[1] == 'PASS json $.version ("1.2.3") == "1.2.3"'
    assert rest[2].startswith("PASS response_time (") and rest[2].endswith("ms) < 5s")


async def test_a_failing_assertion_exits_1_with_the_resolved_value(targets: Targets) -> None:
    result = await check(
        f"{targets.http_url}/status/503",
        "--assert",
        "status == 200",
        "--assert",
        'body contains "503"',
    )
    assert result.exit_code == 1, result.output
    assert lines(result)[0].startswith("FAIL GET ")
    assert "→ HTTP 503 · " in lines(result)[0]
    assert lines(result)[1:] == [
        "FAIL status (503) == 200",
        'PASS body ("status 503") contains "503"',
    ]


async def test_without_assertions_an_http_check_asserts_a_2xx_status(targets: Targets) -> None:
    passing = await check(f"{targets.http_url}/status/204")
    failing = await check(f"{targets.http_url}/status/404")
    assert passing.exit_code == 0, passing.output
    assert lines(passing)[1] == "PASS status (204) == 2xx (the default without --assert)"
    assert failing.exit_code == 1, failing.output
    assert lines(failing)[1] == "FAIL status (404) == 2xx (the default without --assert)"


async def test_a_failing_warn_assertion_prints_warn_and_exits_0(targets: Targets) -> None:
    result = await check(f"{targets.http_url}/json", "--assert", "header etag exists [warn]")
    assert result.exit_code == 0, result.output
    assert lines(result)[0].startswith("WARN GET ")
    assert lines(result)[1] == "WARN header etag (missing) exists"


async def test_app_check_judges_each_component_as_the_report_changes(targets: Targets) -> None:
    url = f"{targets.http_url}/health"
    rule = ("--component", "rq:workers=fail:< 1")
    healthy = await check("--app", url, *rule)
    assert healthy.exit_code == 0, healthy.output
    assert lines(healthy)[1:] == ["PASS rq:workers[emails] = 2"]

    targets.health.status_code = 503
    targets.health.body = {
        "status": "fail",
        "checks": {
            "rq:workers": [{"componentId": "emails", "observedValue": 0, "status": "fail"}],
            "rq:queue_depth": [{"componentId": "emails", "observedValue": 600, "status": "pass"}],
        },
    }
    broken = await check(
        "--app", url, *rule, "--component", "rq:queue_depth=warn:> 500,fail:> 2000"
    )
    assert broken.exit_code == 1, broken.output
    assert "→ HTTP 503 · " in lines(broken)[0]
    assert lines(broken)[1:] == [
        "FAIL rq:workers[emails] = 0 (< 1)",
        "WARN rq:queue_depth[emails] = 600 (> 500)",
        "note: answered HTTP 503",
    ]


async def test_app_check_without_thresholds_uses_the_reports_own_statuses(
    targets: Targets,
) -> None:
    targets.health.body = {
        "status": "warn",
        "checks": {"rq:queue_depth": [{"observedValue": 9, "status": "warn", "output": "deep"}]},
    }
    result = await check("--app", f"{targets.http_url}/health")
    assert result.exit_code == 0, result.output
    assert lines(result)[1:] == ["WARN rq:queue_depth = 9 (reported warn: deep)"]


async def test_app_check_of_an_answer_that_is_not_a_report_fails_saying_why(
    targets: Targets,
) -> None:
    result = await check("--app", f"{targets.http_url}/status/200")
    assert result.exit_code == 1, result.output
    assert lines(result)[1] == (
        "FAIL not an application/health+json report: the body is not JSON (HTTP 200)"
    )
    assert "hint: --app expects an application/health+json report" in result.stderr


async def test_app_check_of_a_50_mb_answer_fails_as_too_large_without_reading_it(
    targets: Targets,
) -> None:
    started = time.monotonic()
    result = await check("--app", f"{targets.http_url}/big")
    assert result.exit_code == 1, result.output
    assert lines(result)[-1] == (
        "FAIL the answer is larger than the 1 MiB a probe reads, so it is not a whole report"
        " (HTTP 200)"
    )
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("assertion", "message", "caret_column"),
    [
        pytest.param("status = 200", "unknown operator '='", 8, id="operator"),
        pytest.param("stats == 200", "unknown subject 'stats'", 1, id="subject"),
        pytest.param("json $..x exists", "bad JSON path", 7, id="json-path"),
    ],
)
async def test_a_bad_assertion_exits_2_with_a_caret_under_the_column(
    targets: Targets, assertion: str, message: str, caret_column: int
) -> None:
    result = await check(f"{targets.http_url}/json", "--assert", assertion)
    assert result.exit_code == 2
    err = result.stderr.splitlines()
    [at] = [i for i, line in enumerate(err) if message in line]
    assert f"(column {caret_column})" in err[at]
    text_line, caret_line = err[at + 1], err[at + 2]
    assert text_line.strip() == assertion
    assert caret_line.index("^") == text_line.index(assertion) + caret_column - 1
    assert result.stdout == ""


async def test_every_bad_assertion_is_listed(targets: Targets) -> None:
    result = await check(
        f"{targets.http_url}/json", "--assert", "status = 200", "--assert", "body == ok"
    )
    assert result.exit_code == 2
    assert "unknown operator '='" in result.stderr
    assert 'quote text values: "ok"' in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["example.com/health"], "write http://example.com/health", id="no-scheme"),
        pytest.param(["ftp://example.com/"], "unsupported scheme 'ftp'", id="scheme"),
        pytest.param(["http://127.0.0.1:99999/"], "bad port", id="port"),
        pytest.param(["tcp://127.0.0.1"], "needs a port: tcp://HOST:PORT", id="tcp-port"),
        pytest.param(
            ["http://x.invalid/", "--timeout", "soon"], "'soon' is not a duration", id="timeout"
        ),
        pytest.param(["tcp://127.0.0.1:1", "--app"], "--app: only for http://", id="tcp-app"),
        pytest.param(
            ["tcp://127.0.0.1:1", "--assert", "status == 200"],
            "response_time and cert_days",
            id="tcp-status",
        ),
        pytest.param(
            ["http://x.invalid/", "--component", "rq:workers=< 1"],
            "--component needs --app",
            id="component-without-app",
        ),
        pytest.param(
            ["http://x.invalid/", "--app", "--component", "workers=fail:< 1"],
            'keys are "component:measurement"',
            id="component-key",
        ),
        pytest.param(
            ["http://x.invalid/", "--app", "--component", "rq:workers=fail:lots"],
            "is not a threshold",
            id="threshold",
        ),
        pytest.param(["http://x.invalid/", "--tls"], "--tls is for tcp:// URLs", id="tls-on-http"),
        pytest.param(["http://[::1/"], "is not a URL", id="broken-ipv6"),
        pytest.param(
            ["http://x.invalid/", "--method", "GE T"], "is not an HTTP method", id="method"
        ),
        pytest.param(
            ["http://x.invalid/", "--no-follow", "--max-redirects", "3"],
            "cannot be combined",
            id="no-follow-and-max",
        ),
    ],
)
def test_usage_errors_exit_2_and_say_what_to_write(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["check", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


async def test_a_refused_port_fails_with_its_classification(targets: Targets) -> None:
    port = free_port()
    result = await check(f"http://127.0.0.1:{port}/")
    assert result.exit_code == 1, result.output
    assert lines(result)[0].startswith(
        f"FAIL GET http://127.0.0.1:{port}/ → refused: connection refused · "
    )
    assert lines(result)[1] == (
        "FAIL status (no answer: refused) == 2xx (the default without --assert)"
    )


async def test_a_slow_answer_fails_as_a_timeout_within_the_given_timeout(
    targets: Targets,
) -> None:
    result = await check(f"{targets.http_url}/slow?seconds=5", "--timeout", "0.3")
    assert result.exit_code == 1, result.output
    assert "→ timeout: no complete answer within 0.3 s" in lines(result)[0]


async def test_https_with_an_untrusted_certificate_fails_as_tls_and_hints_insecure(
    targets: Targets,
) -> None:
    result = await check(f"{targets.https_url}/json")
    assert result.exit_code == 1, result.output
    assert "→ tls: certificate verification failed" in lines(result)[0]
    assert "hint: --insecure accepts any certificate" in result.stderr


async def test_https_insecure_shows_the_certificate_days_left(targets: Targets) -> None:
    result = await check(f"{targets.https_url}/json", "--insecure", "--assert", "cert_days > 14")
    assert result.exit_code == 0, result.output
    head = lines(result)[0]
    assert head.startswith(f"PASS GET {targets.https_url}/json → HTTP 200 · ")
    assert " days left" in head
    assert lines(result)[1].startswith("PASS cert_days (")


async def test_method_body_and_headers_are_sent_with_env_expanded(targets: Targets) -> None:
    result = await check(
        f"{targets.http_url}/echo",
        "--method",
        "post",
        "--body",
        "hello",
        "--header",
        "Authorization: Bearer ${CHECK_TOKEN}",
        "--assert",
        'json $.headers.Authorization == "Bearer from-env"',
        "--assert",
        'json $.method == "POST"',
        "--assert",
        'json $.body == "hello"',
        env={"CHECK_TOKEN": "from-env"},
    )
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in lines(result)] == ["PASS"] * 4


async def test_body_dash_reads_stdin(targets: Targets) -> None:
    result = await check(
        f"{targets.http_url}/echo",
        "--method",
        "PUT",
        "--body",
        "-",
        "--assert",
        'json $.body == "from stdin\\n"',
        stdin="from stdin\n",
    )
    assert result.exit_code == 0, result.output
    assert lines(result)[1] == 'PASS json $.body ("from stdin\\n") == "from stdin\\n"'


@pytest.mark.parametrize("output", [[], ["--json"]], ids=["text", "json"])
async def test_header_values_are_never_printed(targets: Targets, output: list[str]) -> None:
    secret = "s3cr3t-token-value"
    result = await check(
        f"{targets.http_url}/status/401",
        "--header",
        "Authorization: Bearer ${CHECK_TOKEN}",
        "--header",
        f"X-Api-Key: {secret}",
        *output,
        env={"CHECK_TOKEN": secret},
    )
    assert result.exit_code == 1, result.output
    assert secret not in result.stdout + result.stderr
    if output:
        assert json.loads(result.stdout)["request"]["headers"] == ["Authorization", "X-Api-Key"]


async def test_an_unset_variable_in_a_header_is_a_usage_error_naming_it(
    targets: Targets,
) -> None:
    result = await check(
        f"{targets.http_url}/echo",
        "--header",
        "Authorization: Bearer ${CHECK_MISSING_TOKEN}",
        env={"CHECK_MISSING_TOKEN": None},
    )
    assert result.exit_code == 2
    assert "Authorization: environment variable CHECK_MISSING_TOKEN is not set" in result.stderr


def test_a_malformed_header_is_refused_without_echoing_it() -> None:
    result = CliRunner().invoke(cli, ["check", "http://x.invalid/", "--header", "Bearer hunter2"])
    assert result.exit_code == 2
    assert "header #1 is not 'Name: value'" in result.stderr
    assert "hunter2" not in result.output


async def test_no_follow_makes_the_redirect_the_answer(targets: Targets) -> None:
    followed = await check(f"{targets.http_url}/redirect")
    kept = await check(f"{targets.http_url}/redirect", "--no-follow")
    assert followed.exit_code == 0, followed.output
    assert kept.exit_code == 1, kept.output
    assert lines(kept)[1].startswith("FAIL status (302) == 2xx")
    assert "hint: the answer redirects to /status/200" in kept.stderr


async def test_max_redirects_turns_a_long_chain_into_a_redirects_failure(
    targets: Targets,
) -> None:
    result = await check(f"{targets.http_url}/chain/3", "--max-redirects", "2")
    assert result.exit_code == 1, result.output
    assert "→ redirects: more than 2 redirects" in lines(result)[0]


@pytest.fixture
def listening() -> Iterator[int]:
    """A plain TCP socket listening on 127.0.0.1 (accepts are left to the backlog)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield int(server.getsockname()[1])


def test_tcp_check_passes_on_a_listening_socket(listening: int) -> None:
    result = CliRunner().invoke(
        cli, ["check", f"tcp://127.0.0.1:{listening}", "--assert", "response_time < 5s"]
    )
    assert result.exit_code == 0, result.output
    head, assertion = result.stdout.splitlines()
    assert head.startswith(f"PASS tcp://127.0.0.1:{listening} → connected · connect ")
    assert assertion.startswith("PASS response_time (")


def test_tcp_check_of_a_refused_port_fails_as_refused() -> None:
    port = free_port()
    result = CliRunner().invoke(cli, ["check", f"tcp://127.0.0.1:{port}"])
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith(f"FAIL tcp://127.0.0.1:{port} → refused: connection refused")


async def test_tcp_tls_check_reads_the_certificate(targets: Targets) -> None:
    result = await check(f"tcp://localhost:{targets.https_port}", "--tls", "--insecure")
    assert result.exit_code == 0, result.output
    head = lines(result)[0]
    assert head.startswith(f"PASS tcp://localhost:{targets.https_port} → connected with TLS · ")
    assert " tls " in head and " days left" in head


async def test_json_output_is_one_parseable_document(targets: Targets) -> None:
    targets.health.body = {
        "status": "pass",
        "checks": {"rq:workers": [{"componentId": "emails", "observedValue": 0}]},
    }
    result = await check(
        "--app",
        f"{targets.http_url}/health",
        "--component",
        "rq:workers=< 1",
        "--assert",
        "status == 200",
        "--json",
    )
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["verdict"] == "fail"
    assert document["kind"] == "app"
    assert document["observation"]["status"] == 200
    assert "body" not in document["observation"]
    assert document["observation"]["headers"]["content-type"] == "application/health+json"
    assert document["assertions"][0]["message"] == "status (200) == 200"
    [component] = document["components"]
    assert (component["key"], component["status"], component["value"]) == (
        "rq:workers[emails]",
        "fail",
        0,
    )
    assert component["message"] == "rq:workers[emails] = 0 (< 1)"
    assert document["report"]["summary"] == "rq:workers[emails] = 0 (< 1)"


async def test_json_output_hides_cookie_values(targets: Targets) -> None:
    result = await check(f"{targets.http_url}/cookie", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["observation"]["headers"]["set-cookie"] == "***"
    assert "secret-session" not in result.stdout


async def test_a_401_hints_at_sending_credentials(targets: Targets) -> None:
    bare = await check(f"{targets.http_url}/status/401")
    sent = await check(f"{targets.http_url}/status/401", "--header", "Authorization: Bearer wrong")
    assert bare.exit_code == sent.exit_code == 1
    assert "hint: send credentials with --header 'Authorization: Bearer ${TOKEN}'" in bare.stderr
    assert "hint: the target refused the Authorization header sent" in sent.stderr
