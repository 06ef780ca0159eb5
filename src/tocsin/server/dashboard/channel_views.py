"""What the channel pages show of a channel, and how their form maps onto a channel.

Nothing here shows a credential: every page masks targets, error texts and test answers
the way the API masks them for read-only keys (``shapes.mask_url`` and ``mask_error``),
whoever is looking, admins included, since a page's HTML ends up in browser caches,
screenshots and bug reports. The form is read into the same description the API and
``tocsin.yaml`` take, so ``channel_spec`` alone decides what is valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tocsin.server.alerts.channel_trial import TrialResult
from tocsin.server.domain.channel_spec import CHANNEL_KINDS, KIND_SETTINGS
from tocsin.server.storage.delivery_log import DeliveryRecord
from tocsin.server.storage.last_attempts import LastAttempt
from tocsin.server.storage.rows import ChannelRecord
from tocsin.server.storage.shapes import mask_error, mask_url

# The form's fields, and those a page with errors fills in again: the URL, header values
# and secret are never sent back to the browser (a URL may hold a token).
FORM_FIELDS = ("name", "kind", "url", "to", "headers", "secret", "timeout")
ECHOED_FIELDS = ("name", "kind", "to", "timeout")
DEFAULT_KIND = CHANNEL_KINDS[0]


def target(channel: ChannelRecord) -> str:
    """Where the channel's alerts go, masked: email addresses, or the URL's scheme and host."""
    addresses = channel.settings.get("to")
    if isinstance(addresses, list):
        return ", ".join(str(address) for address in addresses)
    url = channel.settings.get("url")
    return mask_url(channel.kind, url) if isinstance(url, str) else "-"


def masked_error(kind: str, settings: Mapping[str, Any], text: str | None) -> str | None:
    """An error text of a ``kind`` channel with its URLs, secret and header values masked."""
    return mask_error(kind, dict(settings), text) if text else None


def answer_label(kind: str, status: int | None) -> str:
    """``HTTP 200``, ``SMTP 250``, or ``no answer``."""
    if status is None:
        return "no answer"
    return f"{'SMTP' if kind == 'email' else 'HTTP'} {status}"


@dataclass(frozen=True)
class ChannelRow:
    """One channel of the list: masked target and its newest delivery attempt."""

    channel: ChannelRecord
    target: str
    last: LastAttempt | None
    last_error: str | None

    @property
    def failing(self) -> bool:
        """Whether its newest attempt did not deliver."""
        return self.last is not None and self.last.outcome != "delivered"


def channel_row(channel: ChannelRecord, last: LastAttempt | None) -> ChannelRow:
    """The list's view of ``channel``."""
    error = masked_error(channel.kind, channel.settings, last.error) if last else None
    return ChannelRow(channel, target(channel), last, error)


@dataclass(frozen=True)
class LogRow:
    """One delivery attempt as the log shows it (error masked)."""

    record: DeliveryRecord
    error: str | None
    answer: str


def log_row(record: DeliveryRecord) -> LogRow:
    """The log's view of ``record``."""
    error = masked_error(record.channel_kind, record.channel_settings, record.error)
    return LogRow(record, error, answer_label(record.channel_kind, record.http_status))


@dataclass(frozen=True)
class TestAnswer:
    """The receiver's answer to a test alert, as the page shows it (error masked)."""

    result: TrialResult
    answer: str
    error: str | None


def test_answer(result: TrialResult) -> TestAnswer:
    """The page's view of a test's ``result``."""
    channel = result.channel
    return TestAnswer(
        result,
        answer_label(channel.kind, result.status),
        masked_error(channel.kind, channel.settings, result.error),
    )


def blank_form() -> dict[str, str]:
    """The new-channel form's starting values."""
    return dict.fromkeys(FORM_FIELDS, "") | {"kind": DEFAULT_KIND}


def echoed(form: Mapping[str, str]) -> dict[str, str]:
    """What a form with errors shows again: everything typed but possible credentials."""
    return blank_form() | {key: form.get(key, "") for key in ECHOED_FIELDS}


def _items(text: str) -> list[str]:
    return [item.strip() for line in text.splitlines() for item in line.split(",") if item.strip()]


def _headers(text: str, problems: dict[str, str]) -> dict[str, str] | None:
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            problems["headers"] = f"line {number}: write one header a line as 'Name: value'"
            return None
        headers[name.strip()] = value.strip()
    return headers or None


def description(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The channel description a posted form gives, and the problems of the form itself
    (a header line without a colon). Only the fields the chosen kind takes are read: the
    form shows every kind's fields at once. Blank fields are left out."""
    kind = form.get("kind", "").strip()
    data: dict[str, Any] = {"name": form.get("name", ""), "kind": kind}
    problems: dict[str, str] = {}
    for key in sorted(KIND_SETTINGS.get(kind, frozenset())):
        raw = form.get(key, "")
        value: Any
        if key == "to":
            value = _items(raw) or None
        elif key == "headers":
            value = _headers(raw, problems)
        elif key == "secret":
            value = raw or None  # used exactly as typed: the receiver must agree
        else:
            value = raw.strip() or None
        if value is not None:
            data[key] = value
    return data, problems
