"""`tocsin ping` and `tocsin run`: the cron side of heartbeats.

Both use only the standard library (through ``tocsin.heartbeat``) and click, so they work
with the light ``pip install tocsin`` on any machine that runs jobs.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import IO, Any

import click

from tocsin.cli import friendly_errors
from tocsin.heartbeat import PingKind, ping

# Bytes of a command's output (stdout and stderr, interleaved) sent as the ping body.
TAIL_BYTES = 10_000
EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126
# How long to keep reading output after the command exited (see run_and_tee).
OUTPUT_DRAIN_SECONDS = 2.0


def resolve_ping_url(target: str) -> str:
    """A full ping URL as given, or ``{base_url}/ping/{uuid}`` for a bare uuid."""
    if target.startswith(("http://", "https://")):
        return target
    try:
        parsed = uuid.UUID(target)
    except ValueError:
        raise click.BadParameter(
            f"{target!r} is neither a ping URL (http://..., https://...) nor a monitor uuid",
            param_hint="'UUID_OR_URL'",
        ) from None
    from tocsin.server.domain.ping_urls import ping_url
    from tocsin.settings import Settings

    return ping_url(Settings.from_env().base_url, str(parsed))


@contextmanager
def heartbeat_warnings_to_stderr() -> Iterator[None]:
    """Show why a ping failed: ``tocsin.heartbeat`` logs it, this prints the log on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("tocsin: %(message)s"))
    with _heartbeat_log_to(handler):
        yield


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def heartbeat_warnings_collected() -> Iterator[list[str]]:
    """Why a ping failed, as the list of ``tocsin.heartbeat``'s log messages (not printed)."""
    handler = _Collect()
    with _heartbeat_log_to(handler):
        yield handler.messages


@contextmanager
def _heartbeat_log_to(handler: logging.Handler) -> Iterator[None]:
    logger = logging.getLogger("tocsin.heartbeat")
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


@click.command("ping")
@click.argument("target", metavar="UUID_OR_URL")
@click.option("--start", is_flag=True, help="The job started.")
@click.option("--fail", is_flag=True, help="The job failed.")
@click.option("--log", is_flag=True, help="Only record the body.")
@click.option(
    "--exit",
    "exit_status",
    type=click.IntRange(0, 255),
    metavar="N",
    help="The job ended with exit status N (0 = success).",
)
@click.option("--body", metavar="TEXT", help="Text to send with the ping; - reads stdin.")
@click.option("--rid", metavar="RID", help="Run id tying a start ping to its end ping.")
@click.option(
    "--timeout", type=click.FloatRange(min=0.1), default=10.0, help="Seconds per attempt."
)
@friendly_errors
def ping_command(
    target: str,
    start: bool,
    fail: bool,
    log: bool,
    exit_status: int | None,
    body: str | None,
    rid: str | None,
    timeout: float,
) -> None:
    """Send one heartbeat ping to UUID_OR_URL (success unless told otherwise).

    A bare uuid is sent to TOCSIN_BASE_URL/ping/<uuid>. Exits 0 when the server
    acknowledged the ping, 1 when it did not, 2 for a usage error.
    """
    flags = ((PingKind.START, start), (PingKind.FAIL, fail), (PingKind.LOG, log))
    chosen: list[tuple[str, PingKind | int]] = [(f"--{k.value}", k) for k, on in flags if on]
    if exit_status is not None:
        chosen.append(("--exit", exit_status))
    if len(chosen) > 1:
        names = [name for name, _ in chosen]
        raise click.UsageError(f"{', '.join(names[:-1])} and {names[-1]} cannot be combined")
    what = chosen[0][1] if chosen else PingKind.SUCCESS
    url = resolve_ping_url(target)
    if body == "-":
        body = sys.stdin.read()
    with heartbeat_warnings_collected() as reasons:
        acknowledged = ping(url, what, body=body, run_id=rid, timeout=timeout)
    if not acknowledged:
        reason = "; ".join(reasons) or "no reason given"
        click.echo(f"error: the ping was not acknowledged: {reason}", err=True)
        sys.exit(1)


class _Tail:
    """The last ``size`` bytes written to it, from several threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data = bytearray()
        self.truncated = False
        self.lock = threading.Lock()

    def add(self, chunk: bytes) -> None:
        with self.lock:
            self.data += chunk
            if len(self.data) > self.size:
                del self.data[: len(self.data) - self.size]
                self.truncated = True

    def text(self) -> str:
        with self.lock:
            return bytes(self.data).decode("utf-8", "replace")


def _tee(source: IO[bytes], sink: Any, tail: _Tail) -> None:
    binary = getattr(sink, "buffer", None)
    while True:
        chunk = source.read1(65536) if hasattr(source, "read1") else source.read(65536)
        if not chunk:
            break
        tail.add(chunk)
        try:
            if binary is not None:
                binary.write(chunk)
                binary.flush()
            else:
                sink.write(chunk.decode("utf-8", "replace"))
                sink.flush()
        except (OSError, ValueError):
            pass  # the terminal went away; keep collecting the tail and let the job finish
    source.close()


@dataclass(frozen=True)
class RunOutcome:
    """How a wrapped command ended."""

    exit_status: int
    duration: float
    output: str
    truncated: bool
    error: str | None = None


@contextmanager
def _forward_signals(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """Pass SIGTERM/SIGHUP on to the command; wait out Ctrl-C (the terminal sends the
    command its own SIGINT)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def forward(signum: int, _frame: FrameType | None) -> None:
        process.send_signal(signum)

    def ignore(_signum: int, _frame: FrameType | None) -> None:
        return None

    wanted = {signal.SIGTERM: forward, signal.SIGINT: ignore}
    if hasattr(signal, "SIGHUP"):
        wanted[signal.SIGHUP] = forward
    previous = {sig: signal.signal(sig, handler) for sig, handler in wanted.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_and_tee(argv: Sequence[str], tail_bytes: int = TAIL_BYTES) -> RunOutcome:
    """Run ``argv`` with inherited stdin, copying its output to ours and keeping a tail."""
    started = time.monotonic()
    try:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        message = f"command not found: {argv[0]}"
        return RunOutcome(EXIT_NOT_FOUND, time.monotonic() - started, "", False, message)
    except OSError as exc:
        message = f"cannot run {argv[0]}: {exc.strerror or exc}"
        return RunOutcome(EXIT_NOT_EXECUTABLE, time.monotonic() - started, "", False, message)
    tail = _Tail(tail_bytes)
    assert process.stdout is not None and process.stderr is not None
    threads = [
        threading.Thread(target=_tee, args=(process.stdout, sys.stdout, tail), daemon=True),
        threading.Thread(target=_tee, args=(process.stderr, sys.stderr, tail), daemon=True),
    ]
    for thread in threads:
        thread.start()
    with _forward_signals(process):
        status = process.wait()
    # A job that leaves a background process behind (`daemon &`) passes it our pipes, and
    # they never reach EOF: wait a moment for the last output, then report anyway.
    drained_by = time.monotonic() + OUTPUT_DRAIN_SECONDS
    for thread in threads:
        thread.join(timeout=max(0.0, drained_by - time.monotonic()))
    duration = time.monotonic() - started
    if status < 0:  # killed by a signal: report it the way shells do
        status = 128 - status
    return RunOutcome(status, duration, tail.text(), tail.truncated)


def ping_body(argv: Sequence[str], outcome: RunOutcome) -> str:
    """The end ping's body: program, exit status, duration and the output's tail.

    Only the program's name is sent, not its arguments, which may hold secrets.
    """
    lines = [
        f"command: {os.path.basename(argv[0])}",
        f"exit status: {outcome.exit_status}",
        f"duration: {outcome.duration:.3f} s",
    ]
    if outcome.error:
        lines.append(f"error: {outcome.error}")
    heading = f"last {TAIL_BYTES // 1000} KB of output" if outcome.truncated else "output"
    lines.append(f"--- {heading} ---")
    return "\n".join(lines) + "\n" + outcome.output


@click.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--ping", "target", required=True, metavar="UUID_OR_URL", help="Where to ping.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    help="Seconds to wait for each ping attempt.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@friendly_errors
def run_command(target: str, timeout: float, command: tuple[str, ...]) -> None:
    """Run COMMAND, pinging start before and success or failure after.

    The end ping carries the exit status, the duration and the last 10 KB of output.
    Exits with COMMAND's exit status (127 if it cannot be found); a ping that fails is
    reported on stderr and never changes the exit status.

    Example: tocsin run --ping https://tocsin.example.com/ping/<uuid> -- backup.sh --full
    """
    url = resolve_ping_url(target)
    run_id = str(uuid.uuid4())
    with heartbeat_warnings_to_stderr():
        if not ping(url, PingKind.START, run_id=run_id, timeout=timeout):
            click.echo("tocsin: the start ping was not acknowledged; running anyway", err=True)
        outcome = run_and_tee(command)
        if outcome.error:
            click.echo(f"error: {outcome.error}", err=True)
        status = outcome.exit_status
        kind: PingKind | int = status if 0 <= status <= 255 else PingKind.FAIL
        body = ping_body(command, outcome)
        if not ping(url, kind, body=body, run_id=run_id, timeout=timeout):
            click.echo("tocsin: the end ping was not acknowledged", err=True)
    sys.exit(status)


COMMANDS: list[click.Command] = [ping_command, run_command]
