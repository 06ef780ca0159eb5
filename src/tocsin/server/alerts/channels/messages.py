"""The words of an alert, read once from its JSON payload for every channel kind.

Email, Slack, Discord and Apprise each lay out the same ``Message``: a title (what
broke), a summary (why), labelled lines (the evidence), a time and a link. When the
payload gains fields, this is the one place that turns them into words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Tone(StrEnum):
    """How bad the news is: picks colours and icons."""

    BAD = "bad"
    GOOD = "good"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class Message:
    """An alert in words, ready for any channel's layout."""

    title: str
    summary: str
    lines: tuple[tuple[str, str], ...]
    tone: Tone
    at: datetime | None
    link: str | None
    sent_by: str

    @property
    def text(self) -> str:
        """The whole message as plain text (email's text part, Slack's fallback, Apprise)."""
        parts = [self.summary, ""]
        parts += [f"{label}: {value}" for label, value in self.lines]
        if self.at is not None:
            parts.append(f"At: {self.at.isoformat()}")
        if self.link:
            parts.append(f"Details: {self.link}")
        return "\n".join(parts)


def shorten(text: str, most: int) -> str:
    """``text`` cut to ``most`` characters, the last one an ellipsis when cut (services
    refuse a message whose parts pass their limits)."""
    return text if len(text) <= most else text[: most - 1] + "…"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any, default: str = "") -> str:
    return str(value) if value not in (None, "") else default


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def message_of(payload: Mapping[str, Any]) -> Message:
    """Read ``payload`` (the JSON document of ``outbox.alert_payload``); missing fields are
    left out rather than failing, so an older or newer payload still reads."""
    if payload.get("event") == "test":
        return _test_message(payload)
    monitor = _mapping(payload.get("monitor"))
    flip = _mapping(payload.get("flip"))
    name = _text(monitor.get("name"), "a monitor")
    state = _text(flip.get("new_state") or monitor.get("state"), "unknown")
    event = _text(payload.get("event"))
    tone = (
        Tone.BAD
        if state == "down" or event == "down"
        else Tone.GOOD
        if state == "up" or event == "up"
        else Tone.NEUTRAL
    )
    lines: list[tuple[str, str]] = [
        ("Monitor", f"{name} ({_text(monitor.get('kind'), 'monitor')})"),
    ]
    if flip.get("old_state"):
        lines.append(("State", f"{flip['old_state']} → {state}"))
    if "last_ping_at" in monitor:
        lines.append(("Last ping", _text(monitor.get("last_ping_at"), "never")))
    tags = monitor.get("tags")
    if isinstance(tags, list) and tags:
        lines.append(("Tags", ", ".join(str(tag) for tag in tags)))
    # Monitors depending on this one that went down while it was down: held, not paged.
    children = _mapping(payload.get("incident")).get("children")
    if isinstance(children, list) and children:
        lines.append(("Also affected", ", ".join(str(child) for child in children)))
    cause = _text(flip.get("cause"))
    return Message(
        title=f"{name} is {state.upper()}",
        summary=cause or _text(payload.get("summary"), f"{name} is {state.upper()}"),
        lines=tuple(lines),
        tone=tone,
        at=_when(flip.get("at")),
        link=_text(monitor.get("url")) or None,
        sent_by=_text(payload.get("sent_by"), "tocsin"),
    )


def _test_message(payload: Mapping[str, Any]) -> Message:
    """A test alert (``tocsin channel test``): no monitor, just the channel it tests."""
    channel = _mapping(payload.get("channel"))
    name = _text(channel.get("name"), "this channel")
    return Message(
        title="Test alert from tocsin",
        summary=_text(payload.get("summary"), f"Test alert to {name}: nothing is down."),
        lines=(("Channel", f"{name} ({_text(channel.get('kind'), 'channel')})"),),
        tone=Tone.NEUTRAL,
        at=_when(payload.get("at")),
        link=None,
        sent_by=_text(payload.get("sent_by"), "tocsin"),
    )
