"""The tocsin exception tree: every error tocsin raises on purpose is a ``TocsinError``."""

from __future__ import annotations

from collections.abc import Iterable


class TocsinError(Exception):
    """Base class of every error tocsin raises deliberately."""


class ConfigError(TocsinError):
    """Settings or a config file are wrong; ``problems`` lists every one, each with its fix."""

    def __init__(self, problems: str | Iterable[str]) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class NotFoundError(TocsinError):
    """The named object (monitor, channel, key, ...) does not exist."""


class ConflictError(TocsinError):
    """The change would break a uniqueness rule (a name or slug already in use)."""


class MonitorLimitError(ConflictError):
    """A new monitor would take the project past its limit (``TOCSIN_MAX_MONITORS``)."""


class ValidationError(TocsinError):
    """Input was refused; ``fields`` maps a field name to what is wrong with it."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})
        super().__init__(message)


class DeliveryError(TocsinError):
    """A notification could not be delivered; ``permanent`` says whether retrying can help,
    ``http_status`` is the receiver's answer (an SMTP reply code for email), if there was
    one, and ``retry_after`` the seconds the receiver asked us to wait (``Retry-After``)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.permanent = permanent
        self.http_status = http_status
        self.retry_after = retry_after
        super().__init__(message)
