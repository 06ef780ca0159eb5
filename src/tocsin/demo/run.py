"""``tocsin demo`` itself: start everything, print what to look at, act on ``--break`` and
``--fix`` signals, and stop every child on Ctrl-C or SIGTERM."""

from __future__ import annotations

import queue
import secrets
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from tocsin.demo import control
from tocsin.demo.children import Child, wait_until_answers
from tocsin.demo.receiver import Receiver
from tocsin.demo.seed import (
    ADMIN,
    APP_MONITOR,
    POOL_MONITOR,
    WEB_MONITOR,
    create_monitors,
    seed_database,
)
from tocsin.errors import TocsinError


class Stop(Exception):
    """Ctrl-C or SIGTERM: leave the main loop and stop the children."""


def redis_problem(redis_url: str) -> str | None:
    """Why Redis at ``redis_url`` cannot be used, or ``None``."""
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2).ping()
    except (redis.RedisError, ValueError) as exc:
        return (
            f"Redis is not reachable at {redis_url} ({exc}). Start one with "
            "`docker run --rm -p 6379:6379 redis` (or `redis-server`), or point the demo "
            "at yours with --redis-url / TOCSIN_DEMO_REDIS_URL."
        )
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Demo:
    """The server, the app and the worker as children, and the receiver in this process."""

    def __init__(self, port: int, redis_url: str, say: Callable[[str], None]) -> None:
        self.port = port
        self.say = say
        self.directory = Path(tempfile.mkdtemp(prefix="tocsin-demo-"))
        self.base_url = f"http://127.0.0.1:{port}"
        self.app_url = f"http://127.0.0.1:{_free_port()}"
        self.token = secrets.token_urlsafe(16)
        self.redis_url = redis_url
        self.receiver = Receiver(lambda summary: say(f"ALERT  {summary}"))
        self.requests: queue.Queue[signal.Signals] = queue.Queue()
        database_url = f"sqlite:///{self.directory / 'tocsin.db'}"
        self.database_url = database_url
        self.server = Child(
            "server",
            ["tocsin", "server"],
            {
                "TOCSIN_DATA_DIR": str(self.directory),
                "TOCSIN_DATABASE_URL": database_url,
                "TOCSIN_HOST": "127.0.0.1",
                "TOCSIN_PORT": str(port),
                "TOCSIN_BASE_URL": self.base_url,
                "TOCSIN_LOG_LEVEL": "WARNING",
                # New monitors are probed, and heartbeat deadlines seen, within a second.
                "TOCSIN_PROBE_RELOAD_SECONDS": "1",
                "TOCSIN_DEADLINE_RELOAD_SECONDS": "1",
                "HEALTH_TOKEN": self.token,
            },
            self.directory / "server.log",
        )
        self.app = Child(
            "app",
            ["tocsin.demo.app"],
            {
                "DEMO_REDIS_URL": redis_url,
                "DEMO_APP_PORT": self.app_url.rsplit(":", 1)[1],
                "DEMO_HEALTH_TOKEN": self.token,
            },
            self.directory / "app.log",
        )
        self.worker: Child | None = None

    def run(self) -> None:
        """Start, serve until stopped, then stop everything and remove the directory."""
        if _port_taken(self.port):
            raise TocsinError(f"port {self.port} is in use; choose another with --port")
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        signal.signal(signal.SIGTERM, _raise_stop)
        signal.signal(signal.SIGINT, _raise_stop)
        for sig in (control.BREAK, control.FIX):
            signal.signal(sig, lambda number, _frame: self.requests.put(signal.Signals(number)))
        try:
            self._start()
            self._serve()
        except Stop:
            self.say("stopping the demo...")
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            shutil.rmtree(self.directory, ignore_errors=True)
            self.say("demo stopped")

    def _start(self) -> None:
        password = secrets.token_urlsafe(12)
        credentials = seed_database(self.database_url, password)
        self.receiver.start()
        self.server.start()
        self.app.start()
        wait_until_answers(self.server, f"{self.base_url}/livez")
        wait_until_answers(self.app, f"{self.app_url}/")
        ping_url = create_monitors(
            self.base_url, credentials.api_key, self.app_url, self.receiver.url
        )
        self.worker = Child(
            "worker",
            ["tocsin.demo.worker"],
            {"DEMO_REDIS_URL": self.redis_url, "DEMO_HEARTBEAT_URL": ping_url},
            self.directory / "worker.log",
        )
        self.worker.start()
        control.write_pid(self.port)
        flag = "" if self.port == 8000 else f" --port {self.port}"
        for line in (
            f"dashboard  {self.base_url}/   log in as {ADMIN} / {credentials.admin_password}",
            f"app        {self.app_url}/   (/healthz takes 'Authorization: Bearer {self.token}')",
            f"API key    {credentials.api_key}",
            f"logs       {self.directory}",
            f"monitors   {APP_MONITOR} (app /healthz), {WEB_MONITOR} (http /), {POOL_MONITOR} "
            "(heartbeat); alerts print below",
            f"try        tocsin demo --break worker{flag}   then   tocsin demo --fix worker{flag}",
            "tocsin demo ready (Ctrl-C stops it)",
        ):
            self.say(line)

    def _serve(self) -> None:
        while True:
            for child in (self.server, self.app):
                if not child.running:
                    raise TocsinError(f"the demo's {child.name} exited:\n{child.log_tail()}")
            try:
                request = self.requests.get(timeout=0.5)
            except queue.Empty:
                continue
            self._act(request)

    def _act(self, request: signal.Signals) -> None:
        assert self.worker is not None
        if request == control.BREAK:
            pid = self.worker.pid
            if pid is None:
                self.say("the worker is already stopped; `tocsin demo --fix worker` restarts it")
                return
            self.worker.kill()
            self.say(f"BREAK  killed the worker (pid {pid}): {APP_MONITOR} goes DOWN in a few s")
        else:
            if self.worker.running:
                self.say("the worker is already running")
                return
            self.worker.start()
            self.say(f"FIX    restarted the worker (pid {self.worker.pid}): {APP_MONITOR} comes UP")

    def _stop_all(self) -> None:
        control.remove_pid(self.port)
        for child in (self.worker, self.app, self.server):
            if child is not None:
                child.stop()
        self.receiver.stop()


def _raise_stop(_signum: int, _frame: FrameType | None) -> None:
    raise Stop


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
