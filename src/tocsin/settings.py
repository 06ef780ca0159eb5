"""Server settings: the only place that reads ``TOCSIN_*`` environment variables.

``Settings.from_env()`` takes a plain mapping so tests pass a dict instead of patching
``os.environ``. Every problem is collected and raised together as one ``ConfigError``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tocsin.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/tocsin``, else ``~/.local/share/tocsin``."""
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tocsin"


class SmtpSecurity(StrEnum):
    """How the connection to the SMTP server is protected."""

    STARTTLS = "starttls"  # smtp://, upgraded with STARTTLS (required unless starttls=false)
    TLS = "tls"  # smtps://, TLS from the first byte
    NONE = "none"  # smtp://...?starttls=false: plain text, for a relay on the same host


@dataclass(frozen=True)
class SmtpSettings:
    """Where email alerts are handed over, read from ``TOCSIN_SMTP_URL``."""

    host: str
    port: int
    security: SmtpSecurity
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def smtp_settings(url: str) -> SmtpSettings:
    """Read ``smtp://user:pass@host:587?from=alerts@example.com`` (STARTTLS),
    ``smtps://...:465`` (TLS) or ``smtp://host:25?starttls=false`` (plain); raise
    ``ValueError`` saying what is wrong. The sender is ``from``, else the user name if it
    is an address."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("names no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    # Not parse_qs: it reads "+" as a space, and "+" is common in addresses.
    pairs = (pair.partition("=") for pair in parts.query.split("&") if pair)
    query = {unquote(key): unquote(value) for key, _, value in pairs}
    unknown = sorted(set(query) - {"from", "starttls"})
    if unknown:
        raise ValueError(f"has unknown parameters {', '.join(unknown)}; known: from, starttls")
    starttls = query.get("starttls", "true").lower()
    if starttls not in ("true", "false"):
        raise ValueError("starttls must be true or false")
    if parts.scheme == "smtps":
        if "starttls" in query:
            raise ValueError("starttls does not apply to smtps:// (TLS from the start)")
        security = SmtpSecurity.TLS
    else:
        security = SmtpSecurity.STARTTLS if starttls == "true" else SmtpSecurity.NONE
    username = unquote(parts.username) if parts.username else None
    sender = query.get("from") or (username if username and "@" in username else "")
    if not sender:
        raise ValueError("needs a sender: add ?from=alerts@example.com")
    return SmtpSettings(
        host=parts.hostname,
        port=port or (465 if security is SmtpSecurity.TLS else 587),
        security=security,
        sender=sender,
        username=username,
        password=unquote(parts.password) if parts.password is not None else None,
    )


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
    # Raw probe results kept this long (hourly aggregates are kept 400 days).
    result_retention: timedelta = timedelta(days=7)
    # Group-commit writer: the most pings in one transaction.
    writer_batch_max: int = 500
    # PostgreSQL only: batch transactions in flight at once (SQLite has one writer).
    writer_concurrency: int = 2
    # How often the deadline watch re-reads upcoming deadlines from the database.
    deadline_reload_seconds: float = 5.0
    # Reminders while a monitor is down: at most this many per incident, never more often
    # than this (a monitor's `remind:` is checked against both).
    remind_max: int = 10
    remind_min_interval: timedelta = timedelta(minutes=5)
    # How long a process's claim on an alert lasts: a server killed mid-send has its
    # alerts sent again by another (or the restarted) server once their claims expire.
    alert_claim_seconds: float = 60.0
    # Probes: at most this many at once, and at most probe_per_host per target host.
    probe_concurrency: int = 200
    probe_per_host: int = 20
    # How often the probe engine re-reads its monitors (another process's `tocsin apply`)
    # and, on PostgreSQL, marks its process seen, which keeps its leases; the leases of a
    # process unseen for probe_lease_seconds lapse and are taken over.
    probe_reload_seconds: float = 5.0
    probe_lease_seconds: float = 30.0
    # HTTP: a request's headers must arrive within this many seconds of the connection
    # opening (or of the previous response), or the connection is closed.
    http_header_timeout_seconds: float = 10.0
    # HTTP: a keep-alive connection idle this long after a response is closed.
    http_idle_timeout_seconds: int = 5
    # HTTP: past this many open connections, requests are answered 503.
    http_max_connections: int = 10_000
    # Monitors a project may have; `?create=1` pings and the API create no more.
    max_monitors: int = 1000
    log_level: str = "INFO"
    log_format: str = "console"
    # Remote server for `apply`/`status --url`; the key is read here so the CLI never reads env.
    api_url: str | None = None
    api_key: str | None = None
    # Where email channels send from (TOCSIN_SMTP_URL); None: email channels cannot send.
    smtp: SmtpSettings | None = None
    # Dashboard: believe X-Forwarded-Proto / X-Forwarded-For (TOCSIN_TRUST_PROXY), only
    # when a reverse proxy you run sets them and clients cannot reach the server directly.
    trust_proxy: bool = False

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

        def duration(name: str, default: timedelta) -> timedelta:
            from tocsin.durations import parse_duration

            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                return parse_duration(raw)
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
                return default

        data_dir = Path(env.get("TOCSIN_DATA_DIR") or default_data_dir(env)).expanduser()
        database_url = env.get("TOCSIN_DATABASE_URL") or f"sqlite:///{data_dir / 'tocsin.db'}"
        host = env.get("TOCSIN_HOST") or DEFAULT_HOST
        port = integer("TOCSIN_PORT", DEFAULT_PORT, minimum=1)
        if port > 65535:
            problems.append(f"TOCSIN_PORT={port} must be at most 65535")
        log_format = env.get("TOCSIN_LOG_FORMAT", "console")
        if log_format not in ("console", "json"):
            problems.append(f"TOCSIN_LOG_FORMAT={log_format!r} must be 'console' or 'json'")
        smtp = None
        if env.get("TOCSIN_SMTP_URL"):
            try:
                smtp = smtp_settings(env["TOCSIN_SMTP_URL"])
            except ValueError as exc:  # the URL holds a password: never repeat it
                problems.append(f"TOCSIN_SMTP_URL {exc}")
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
            result_retention=duration("TOCSIN_RESULT_RETENTION", timedelta(days=7)),
            writer_batch_max=integer("TOCSIN_WRITER_BATCH_MAX", 500, minimum=1),
            writer_concurrency=integer("TOCSIN_WRITER_CONCURRENCY", 2, minimum=1),
            deadline_reload_seconds=number("TOCSIN_DEADLINE_RELOAD_SECONDS", 5.0),
            remind_max=integer("TOCSIN_REMIND_MAX", 10, minimum=1),
            remind_min_interval=duration("TOCSIN_REMIND_MIN_INTERVAL", timedelta(minutes=5)),
            alert_claim_seconds=number("TOCSIN_ALERT_CLAIM_SECONDS", 60.0),
            probe_concurrency=integer("TOCSIN_PROBE_CONCURRENCY", 200, minimum=1),
            probe_per_host=integer("TOCSIN_PROBE_PER_HOST", 20, minimum=1),
            probe_reload_seconds=number("TOCSIN_PROBE_RELOAD_SECONDS", 5.0),
            probe_lease_seconds=number("TOCSIN_PROBE_LEASE_SECONDS", 30.0),
            http_header_timeout_seconds=number("TOCSIN_HTTP_HEADER_TIMEOUT_SECONDS", 10.0),
            http_idle_timeout_seconds=integer("TOCSIN_HTTP_IDLE_TIMEOUT_SECONDS", 5, minimum=1),
            http_max_connections=integer("TOCSIN_HTTP_MAX_CONNECTIONS", 10_000, minimum=1),
            max_monitors=integer("TOCSIN_MAX_MONITORS", 1000),
            log_level=(env.get("TOCSIN_LOG_LEVEL") or "INFO").upper(),
            log_format=log_format,
            api_url=(env.get("TOCSIN_URL") or None),
            api_key=(env.get("TOCSIN_API_KEY") or None),
            smtp=smtp,
            trust_proxy=(env.get("TOCSIN_TRUST_PROXY") or "").lower() in ("1", "true", "yes", "on"),
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
