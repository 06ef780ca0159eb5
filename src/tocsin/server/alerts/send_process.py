"""Webhook, Slack and Discord alerts sent from a child process.

On SQLite the server is one process whose event loop and SQLite writer thread share one
core through the GIL; in a burst of alerts that core is the limit while the machine's
other core has room. Sending the HTTP alerts from a child process takes their requests,
JSON bodies and answers off that core: ``bench/alerts.py`` on SQLite, six interleaved
pairs, alert p99 median 0.98 -> 0.63 s (docs/performance-history.md). ``Engines`` uses
it on SQLite only: on PostgreSQL it gained nothing in a burst, and the pipe's round trip
slowed the alerts of a single channel (at most 20 in flight).

``SendProcess`` starts the child (``python -m tocsin.server.alerts.send_child``) with
the server (or, failing that, with the next alert), writes each send to its stdin as a
length-prefixed pickle (channel kind, settings, payload, idempotency key) and reads the
answers from its stdout: the receiver's status or the ``DeliveryError``'s fields. The
delivery worker keeps everything else (claims, order, slots, records): a
``ProcessChannel`` is just the channel sender it calls. When the child dies or stops
answering, the sends in flight fail as retryable (the delivery worker retries them; a
receiver that got one twice sees the same ``Idempotency-Key``) and the next send starts
a new child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import struct
import sys
from collections.abc import Mapping
from typing import Any

from tocsin.errors import DeliveryError
from tocsin.server.alerts.channels import Channel, senders
from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.channels.posting import DEFAULT_TIMEOUT_SECONDS
from tocsin.settings import SmtpSettings

logger = logging.getLogger(__name__)

# The kinds sent from the child: the ones that are plain HTTP. Email and Apprise run in
# threads already and need the server's SMTP settings.
PROCESS_KINDS = ("webhook", "slack", "discord")
# A send the child has not answered this long after the channel's own timeout has
# passed means the child is stuck: it is stopped and the send fails as retryable.
ANSWER_MARGIN_SECONDS = 5.0
STOP_SECONDS = 5.0
_LENGTH = struct.Struct("!I")
# What the child answers: request id, receiver's status, and the error's fields (message,
# permanent, retry_after) or None.
Answer = tuple[int, int | None, tuple[str, bool, float | None] | None]


def frame(message: object) -> bytes:
    """``message`` pickled, behind its length."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next message ``frame`` wrote (``asyncio.IncompleteReadError`` at the end)."""
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    return pickle.loads(await reader.readexactly(length))  # noqa: S301 (our own child)


class SendProcess:
    """The child process that sends HTTP alerts, started by ``start`` (with the server)
    or else by the first send."""

    def __init__(self, log_level: str = "INFO", log_format: str = "console") -> None:
        self._argv = [
            sys.executable,
            "-m",
            "tocsin.server.alerts.send_child",
            log_level,
            log_format,
        ]
        self._process: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Task[asyncio.subprocess.Process] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Answer]] = {}
        self._next_id = 0

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start the child now, in the background: the server's first alerts should not
        wait for it to load (about 0.15 s). ``send`` starts one itself if none runs."""
        if self._starting is None:
            self._starting = asyncio.create_task(self._start())
            self._starting.add_done_callback(_log_start_failure)

    async def send(
        self, kind: str, settings: dict[str, Any], payload: dict[str, Any], key: str
    ) -> int | None:
        """Send one alert through the child: the receiver's status, or ``DeliveryError``."""
        process = await self._running()
        request_id, self._next_id = self._next_id, self._next_id + 1
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        try:
            assert process.stdin is not None
            process.stdin.write(frame((request_id, kind, settings, payload, key)))
            timeout = float(settings.get("timeout") or DEFAULT_TIMEOUT_SECONDS)
            try:
                _, status, error = await asyncio.wait_for(
                    asyncio.shield(answer), timeout + ANSWER_MARGIN_SECONDS
                )
            except TimeoutError:
                logger.error("the alert sender process stopped answering; restarting it")
                self._end(process, "the alert sender process stopped answering")
                raise DeliveryError("the alert sender process stopped answering") from None
        finally:
            self._pending.pop(request_id, None)
        if error is not None:
            message, permanent, retry_after = error
            raise DeliveryError(
                message, permanent=permanent, http_status=status, retry_after=retry_after
            )
        return status

    async def close(self) -> None:
        """Stop the child: it finishes nothing new once its stdin closes."""
        if self._starting is not None:
            await asyncio.gather(self._starting, return_exceptions=True)
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        self._fail_pending("the alert sender process was stopped")

    async def _running(self) -> asyncio.subprocess.Process:
        if self._process is not None and self._process.returncode is None:
            return self._process
        if self._starting is None or self._starting.done():
            self._starting = asyncio.create_task(self._start())
        return await asyncio.shield(self._starting)

    async def _start(self) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            *self._argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**24,
            # Its own session: a Ctrl-C at the server's terminal is the server's to handle
            # (the child stops when its stdin closes), not a traceback from the child.
            start_new_session=True,
        )
        self._process = process
        self._reader = asyncio.create_task(self._read(process), name="tocsin-send-answers")
        return process

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        try:
            while True:
                answer: Answer = await read_frame(process.stdout)
                waiting = self._pending.get(answer[0])
                if waiting is not None and not waiting.done():
                    waiting.set_result(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the child exited
        except Exception:
            logger.exception("reading the alert sender process failed")
        if self._process is process:
            self._end(process, "the alert sender process exited before answering")

    def _end(self, process: asyncio.subprocess.Process, why: str) -> None:
        """Forget ``process`` (killed if still running) and fail the sends it held."""
        if self._process is process:
            self._process = None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
                process.kill()
        self._fail_pending(why)

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for waiting in pending.values():
            if not waiting.done():
                waiting.set_exception(DeliveryError(why))


def _log_start_failure(task: asyncio.Task[asyncio.subprocess.Process]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("starting the alert sender process failed: %s", task.exception())


class ProcessChannel:
    """The sender of one channel kind that hands its alerts to a ``SendProcess``."""

    def __init__(self, kind: str, process: SendProcess) -> None:
        self.kind = kind
        self.process = process

    async def send(
        self,
        client: HttpClient,
        settings: dict[str, Any],
        payload: dict[str, Any],
        idempotency_key: str,
    ) -> int | None:
        """Send through the child process (``client`` is the child's own, not this one)."""
        return await self.process.send(self.kind, settings, payload, idempotency_key)


def process_senders(
    process: SendProcess, smtp: SmtpSettings | None = None
) -> Mapping[str, Channel]:
    """``senders(smtp)`` with the HTTP kinds sent through ``process``."""
    channels: dict[str, Channel] = dict(senders(smtp))
    for kind in PROCESS_KINDS:
        channels[kind] = ProcessChannel(kind, process)
    return channels
