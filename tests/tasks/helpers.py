"""Real servers and a small SSE client for the task-status HTTP tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port, venv_bin, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def running(cmd: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[None]:
    """Run ``cmd`` (listening on 127.0.0.1:``port``) until the block ends."""
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        try:
            wait_for_port(port, timeout=30)
        except TimeoutError:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise RuntimeError(f"{cmd[0]} did not start: {err.decode()[-2000:]}") from None
        yield
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[Any]) -> None:
    """Stop the process group ``proc`` leads: TERM, then KILL after 10 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    if proc.stderr is not None:
        proc.stderr.close()


@contextmanager
def serve(
    kind: str, store_url: str, keepalive: float = 0.5, rq_hooks: bool = False
) -> Iterator[str]:
    """Serve the test app with gunicorn gthread (``flask``) or uvicorn (``asgi``)."""
    port = free_port()
    if kind == "flask":
        cmd = [
            venv_bin("gunicorn"),
            "--no-control-socket",
            "-k",
            "gthread",
            "-w",
            "1",
            "--threads",
            "16",
            "-b",
            f"127.0.0.1:{port}",
            f"tests.tasks.apps:create_flask_app({store_url!r}, {keepalive}, {rq_hooks})",
        ]
    else:
        code = (
            "import uvicorn\n"
            "from tests.tasks.apps import create_asgi_app\n"
            f"uvicorn.run(create_asgi_app({store_url!r}, {keepalive}), host='127.0.0.1',"
            f" port={port}, log_level='warning')\n"
        )
        cmd = [sys.executable, "-c", code]
    with running(cmd, port):
        yield f"http://127.0.0.1:{port}"


@dataclass
class SseMessage:
    """One parsed SSE block: either an event or a comment (keep-alive)."""

    id: str | None = None
    event: str | None = None
    data: str = ""
    comment: str | None = None
    retry: int | None = None
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.data)


def iter_sse(response: httpx.Response) -> Iterator[SseMessage]:
    """Parse ``response``'s body as SSE blocks, as they arrive."""
    message = SseMessage()
    touched = False
    for line in response.iter_lines():
        if line == "":
            if touched:
                yield message
            message, touched = SseMessage(), False
            continue
        touched = True
        if line.startswith(":"):
            message.comment = line[1:].strip()
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            message.id = value
        elif name == "event":
            message.event = value
        elif name == "data":
            message.data = f"{message.data}\n{value}" if message.data else value
        elif name == "retry":
            message.retry = int(value)
    if touched:
        yield message
