"""`tocsin run`: start ping, the command with its output teed, end ping with the tail."""

from __future__ import annotations

import subprocess
import sys
import time

from click.testing import CliRunner, Result

from tests.cli.conftest import Receiver
from tests.conftest import free_port
from tocsin.cli import cli

UUID = "0c6a1f5e-3d7b-4f0a-9a51-6e1f2f7b9c44"
CLEAN_ENV = {"TOCSIN_URL": None, "TOCSIN_API_KEY": None, "TOCSIN_BASE_URL": None}


def run(receiver_url: str, *command: str) -> Result:
    args = ["run", "--ping", f"{receiver_url}/ping/{UUID}", "--", *command]
    return CliRunner().invoke(cli, args, env=CLEAN_ENV)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_success_pings_start_then_zero_with_the_same_rid(receiver: Receiver) -> None:
    result = run(receiver.url, *python("print('backed up 3 files')"))
    assert result.exit_code == 0, result.output
    assert "backed up 3 files" in result.stdout
    start, end = receiver.requests
    assert (start.method, start.path) == ("GET", f"/ping/{UUID}/start")
    assert (end.method, end.path) == ("POST", f"/ping/{UUID}/0")
    assert start.query["rid"] == end.query["rid"]
    assert len(start.query["rid"][0]) == 36
    assert "exit status: 0\n" in end.body
    assert "duration: " in end.body
    assert end.body.endswith("--- output ---\nbacked up 3 files\n")


def test_failure_sends_the_exit_status_and_output_and_exits_with_it(receiver: Receiver) -> None:
    code = "import sys; print('step 1'); sys.stderr.write('disk full\\n'); sys.exit(3)"
    result = run(receiver.url, *python(code))
    assert result.exit_code == 3
    assert "step 1" in result.stdout
    assert "disk full" in result.stderr
    _, end = receiver.requests
    assert end.path == f"/ping/{UUID}/3"
    assert "exit status: 3\n" in end.body
    assert "step 1" in end.body and "disk full" in end.body


def test_only_the_tail_of_long_output_is_sent(receiver: Receiver) -> None:
    code = "for i in range(20000): print(f'line {i:05d}')"
    result = run(receiver.url, *python(code))
    assert result.exit_code == 0
    assert "line 00000" in result.stdout and "line 19999" in result.stdout
    _, end = receiver.requests
    assert "--- last 10 KB of output ---" in end.body
    assert end.body.endswith("line 19999\n")
    assert "line 00000" not in end.body
    assert len(end.body.encode()) < 10_300


def test_a_missing_command_exits_127_and_still_pings_fail(receiver: Receiver) -> None:
    result = run(receiver.url, "/nonexistent/backup.sh", "--full")
    assert result.exit_code == 127
    assert "error: command not found: /nonexistent/backup.sh" in result.stderr
    start, end = receiver.requests
    assert start.path.endswith("/start")
    assert end.path == f"/ping/{UUID}/127"
    assert "command not found" in end.body
    assert "--full" not in end.body  # arguments may hold secrets: only the program is named


def test_ping_failures_never_change_the_exit_status(receiver: Receiver) -> None:
    refused = run(f"{receiver.url}/refuse", *python("raise SystemExit(5)"))
    assert refused.exit_code == 5
    assert "start ping was not acknowledged" in refused.stderr
    assert "end ping was not acknowledged" in refused.stderr
    unreachable = run(f"http://127.0.0.1:{free_port()}", *python("pass"))
    assert unreachable.exit_code == 0
    assert "heartbeat failed" in unreachable.stderr


def test_a_real_process_inherits_stdin_and_signals_exit_status(receiver: Receiver) -> None:
    code = "import sys; data = sys.stdin.read(); print(data.upper()); sys.exit(len(data))"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tocsin",
            "run",
            "--ping",
            f"{receiver.url}/ping/{UUID}",
            "--",
            *python(code),
        ],
        input="abc",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 3
    assert out.stdout == "ABC\n"
    assert [r.path for r in receiver.requests] == [f"/ping/{UUID}/start", f"/ping/{UUID}/3"]


def test_run_needs_a_command() -> None:
    result = CliRunner().invoke(cli, ["run", "--ping", f"http://x/ping/{UUID}"], env=CLEAN_ENV)
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


def test_a_background_process_left_behind_does_not_hang_the_run(receiver: Receiver) -> None:
    started = time.monotonic()
    result = run(receiver.url, "sh", "-c", "sleep 4 & echo started")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 3.5
    assert "started" in receiver.requests[1].body
