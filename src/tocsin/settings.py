"""Server settings: the only place that reads ``TOCSIN_*`` environment variables.

``Settings.from_env()`` takes a plain mapping so tests pass a dict instead of patching
``os.environ``. Every problem is collected and raised together as one ``ConfigError``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tocsin.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/tocsin``, else ``~/.local/share/tocsin``."""
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tocsin"


@dataclass(frozen=True)
class Settings:
    """Everything the server and the local CLI commands need to know."""

    data_dir: Path
    database_url: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # Public base URL used to build ping URLs shown to users.
    base_url: str = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    # Bytes of a ping body that are stored; the rest is dropped (see docs/heartbeats.md).
    ping_body_limit: int = 100_000
    # A ping body larger than this is refused with 413 instead of being read.
    ping_body_max: int = 10_000_000
    # Pings kept per monitor; older ones are pruned in the background.
    ping_history: int = 100
    # Group-commit writer: the most pings in one transaction.
    writer_batch_max: int = 500
    # PostgreSQL only: batch transactions in flight at once (SQLite has one writer).
    writer_concurrency: int = 2
    # How often the deadline watch re-reads upcoming deadlines from the database.
    deadline_reload_seconds: float = 5.0
    log_level: str = "INFO"
    log_format: str = "console"
    # Remote server for `apply`/`status --url`; the key is read here so the CLI never reads env.
    api_url: str | None = None
    api_key: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``TOCSIN_*`` variables (``os.environ`` when none is given)."""
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def integer(name: str, default: int, minimum: int = 0) -> int:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = int(raw)
            except ValueError:
                problems.append(f"{name}={raw!r} is not a whole number")
                return default
            if value < minimum:
                problems.append(f"{name}={raw!r} must be at least {minimum}")
                return default
            return value

        def number(name: str, default: float) -> float:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = float(raw)
            except ValueError:
                problems.append(f"{name}={raw!r} is not a number")
                return default
            if value <= 0:
                problems.append(f"{name}={raw!r} must be greater than 0")
                return default
            return value

        data_dir = Path(env.get("TOCSIN_DATA_DIR") or default_data_dir(env)).expanduser()
        database_url = env.get("TOCSIN_DATABASE_URL") or f"sqlite:///{data_dir / 'tocsin.db'}"
        host = env.get("TOCSIN_HOST") or DEFAULT_HOST
        port = integer("TOCSIN_PORT", DEFAULT_PORT, minimum=1)
        if port > 65535:
            problems.append(f"TOCSIN_PORT={port} must be at most 65535")
        log_format = env.get("TOCSIN_LOG_FORMAT", "console")
        if log_format not in ("console", "json"):
            problems.append(f"TOCSIN_LOG_FORMAT={log_format!r} must be 'console' or 'json'")
        settings = cls(
            data_dir=data_dir,
            database_url=database_url,
            host=host,
            port=port,
            base_url=(env.get("TOCSIN_BASE_URL") or "").rstrip("/")
            or f"http://{_url_host(host)}:{port}",
            ping_body_limit=integer("TOCSIN_PING_BODY_LIMIT", 100_000),
            ping_body_max=integer("TOCSIN_PING_BODY_MAX", 10_000_000, minimum=1),
            ping_history=integer("TOCSIN_PING_HISTORY", 100, minimum=1),
            writer_batch_max=integer("TOCSIN_WRITER_BATCH_MAX", 500, minimum=1),
            writer_concurrency=integer("TOCSIN_WRITER_CONCURRENCY", 2, minimum=1),
            deadline_reload_seconds=number("TOCSIN_DEADLINE_RELOAD_SECONDS", 5.0),
            log_level=(env.get("TOCSIN_LOG_LEVEL") or "INFO").upper(),
            log_format=log_format,
            api_url=(env.get("TOCSIN_URL") or None),
            api_key=(env.get("TOCSIN_API_KEY") or None),
        )
        if problems:
            raise ConfigError(problems)
        return settings

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (CLI flags win over the environment)."""
        clean = {key: value for key, value in changes.items() if value is not None}
        if ("host" in clean or "port" in clean) and "base_url" not in clean:
            default_base = f"http://{_url_host(self.host)}:{self.port}"
            if self.base_url == default_base:
                host = clean.get("host", self.host)
                port = clean.get("port", self.port)
                clean["base_url"] = f"http://{_url_host(host)}:{port}"
        return replace(self, **clean)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host
