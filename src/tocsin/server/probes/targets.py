"""What an HTTP probe sends: the settings of one request, independent of any scheduler."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

DEFAULT_TIMEOUT = timedelta(seconds=10)
DEFAULT_BODY_LIMIT = 1024 * 1024  # 1 MiB: enough for any health report or page prefix
DEFAULT_MAX_REDIRECTS = 10
HEALTH_JSON_ACCEPT = "application/health+json, application/json;q=0.9"


@dataclass(frozen=True)
class HttpTarget:
    """One HTTP request a probe makes (``http`` and ``app`` monitors).

    ``timeout`` bounds the whole exchange, body included. With ``follow_redirects`` the
    probe follows at most ``max_redirects`` hops; otherwise a 3xx answer is the result.
    At most ``body_limit`` bytes of the body are kept; the rest is never read.
    ``headers`` may carry secrets (``Authorization``): they are sent, never logged.
    """

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    timeout: timedelta = DEFAULT_TIMEOUT
    follow_redirects: bool = True
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    verify_tls: bool = True
    body_limit: int = DEFAULT_BODY_LIMIT

    def __post_init__(self) -> None:
        if self.timeout <= timedelta(0):
            raise ValueError("timeout must be positive")
        if self.max_redirects < 1:
            raise ValueError("max_redirects must be at least 1 (use follow_redirects=False)")
        if self.body_limit < 0:
            raise ValueError("body_limit must not be negative")

    def __repr__(self) -> str:
        # Header values and the body may hold secrets; a repr ends up in logs and tracebacks.
        return (
            f"HttpTarget(method={self.method!r}, url={self.url!r}, "
            f"headers=[{', '.join(self.headers)}], timeout={self.timeout!r})"
        )


def app_target(target: HttpTarget) -> HttpTarget:
    """The same target asking for ``application/health+json`` (an ``app`` monitor).

    A user-supplied ``Accept`` header wins.
    """
    if any(name.lower() == "accept" for name in target.headers):
        return target
    return replace(target, headers={**target.headers, "Accept": HEALTH_JSON_ACCEPT})
