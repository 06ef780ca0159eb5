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


class ValidationError(TocsinError):
    """Input was refused; ``fields`` maps a field name to what is wrong with it."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})
        super().__init__(message)


class DeliveryError(TocsinError):
    """A notification could not be delivered; ``permanent`` says whether retrying can help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        self.permanent = permanent
        super().__init__(message)
