"""`tocsin ping` against a real local HTTP receiver."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from click.testing import CliRunner

from tests.cli.conftest import Receiver
from tests.conftest import free_port
from tocsin.cli import cli

UUID = "5d1f4f38-8a4c-4c5e-9a8e-2d7a1d2b6f10"
CLEAN_ENV = {"TOCSIN_URL": None, "TOCSIN_API_KEY": None, "TOCSIN_BASE_URL": None}


def invoke(*args: str, env: dict[str, str | None] | None = None, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), env=CLEAN_ENV | (env or {}), input=stdin)


@pytest.mark.parametrize(
    ("flags", "path"),
    [
        pytest.param([], f"/ping/{UUID}", id="success"),
        pytest.param(["--start"], f"/ping/{UUID}/start", id="start"),
        pytest.param(["--fail"], f"/ping/{UUID}/fail", id="fail"),
        pytest.param(["--log"], f"/ping/{UUID}/log", id="log"),
        pytest.param(["--exit", "0"], f"/ping/{UUID}/0", id="exit-0"),
        pytest.param(["--exit", "42"], f"/ping/{UUID}/42", id="exit-42"),
    ],
)
def test_ping_kinds(receiver: Receiver, flags: list[str], path: str) -> None:
    result = invoke("ping", f"{receiver.url}/ping/{UUID}", *flags)
    assert result.exit_code == 0, result.output
    [request] = receiver.requests
    assert (request.method, request.path) == ("GET", path)
    assert request.user_agent.startswith("tocsin/")


def test_bare_uuid_uses_the_base_url_and_sends_body_and_rid(receiver: Receiver) -> None:
    result = invoke(
        "ping", UUID, "--body", "all good", "--rid", "r-1", env={"TOCSIN_BASE_URL": receiver.url}
    )
    assert result.exit_code == 0, result.output
    [request] = receiver.requests
    assert (request.method, request.path, request.body) == ("POST", f"/ping/{UUID}", "all good")
    assert request.query == {"rid": ["r-1"]}


def test_body_from_stdin(receiver: Receiver) -> None:
    result = invoke("ping", f"{receiver.url}/ping/{UUID}", "--log", "--body", "-", stdin="line\n")
    assert result.exit_code == 0, result.output
    assert receiver.requests[0].body == "line\n"


def test_a_refused_ping_exits_1_with_one_error_line_giving_the_reason(
    receiver: Receiver,
) -> None:
    result = invoke("ping", f"{receiver.url}/refuse/{UUID}")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: the ping was not acknowledged: ")
    assert "status=404" in line


def test_an_unreachable_server_exits_1_with_one_error_line(receiver: Receiver) -> None:
    result = invoke("ping", f"http://127.0.0.1:{free_port()}/ping/{UUID}", "--timeout", "1")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: the ping was not acknowledged: ")
    assert "heartbeat failed after 3 attempts" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["ping", "not-a-uuid"], "neither a ping URL", id="bad-target"),
        pytest.param(["ping", UUID, "--start", "--exit", "1"], "cannot be combined", id="both"),
        pytest.param(["ping", UUID, "--fail", "--start"], "cannot be combined", id="fail-start"),
        pytest.param(["ping", UUID, "--start", "--log"], "cannot be combined", id="start-log"),
        pytest.param(["ping", UUID, "--exit", "256"], "256", id="exit-range"),
    ],
)
def test_usage_errors_exit_2_and_send_nothing(
    receiver: Receiver, args: list[str], message: str
) -> None:
    result = invoke(*args, env={"TOCSIN_BASE_URL": receiver.url})
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert receiver.requests == []


def test_ping_and_run_need_no_server_dependencies() -> None:
    code = (
        "import sys\n"
        "from tocsin.cli import cli\n"
        "try:\n"
        "    cli(['ping', '--help'], prog_name='tocsin')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'yaml', 'httpx', 'cronsim', 'alembic', 'starlette')"
        " or m.startswith('tocsin.server')]\n"
        "print('HEAVY', ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("HEAVY"), out.stdout


def test_uuid_is_lowercased_into_the_url(receiver: Receiver) -> None:
    upper = str(uuid.UUID(UUID)).upper()
    result = invoke("ping", upper, env={"TOCSIN_BASE_URL": receiver.url})
    assert result.exit_code == 0
    assert receiver.requests[0].path == f"/ping/{UUID}"
