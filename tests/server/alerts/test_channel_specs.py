"""Channel descriptions of every kind, valid and not: each problem named by its field."""

from __future__ import annotations

from typing import Any

import pytest

from tocsin.errors import ValidationError
from tocsin.server.domain.spec import channel_spec

SECRET = "s" * 16


@pytest.mark.parametrize(
    ("data", "settings"),
    [
        (
            {"kind": "webhook", "url": "https://x.test/h", "secret": SECRET, "timeout": "5s"},
            {"url": "https://x.test/h", "secret": SECRET, "timeout": 5.0},
        ),
        (
            {"kind": "email", "to": ["ops@example.com", " ops@example.com", "a.b+c@d-e.f.org"]},
            {"to": ["ops@example.com", "a.b+c@d-e.f.org"]},
        ),
        ({"kind": "email", "to": ["root@localhost"]}, {"to": ["root@localhost"]}),
        ({"kind": "slack", "url": "https://hooks.slack.com/services/T/B/X"}, None),
        ({"kind": "discord", "url": "https://discord.com/api/webhooks/1/abc"}, None),
        ({"kind": "apprise", "url": "json://127.0.0.1:9000/"}, None),
        ({"kind": "apprise", "url": "pagerduty://KEY@ROUTING"}, None),
        ({"kind": "webhook", "url": "https://x.test/h", "to": None, "secret": None}, None),
    ],
    ids=[
        "webhook-signed",
        "email-deduplicated",
        "email-local",
        "slack",
        "discord",
        "apprise-json",
        "apprise-pagerduty",
        "null-is-absent",
    ],
)
def test_valid_channels(data: dict[str, Any], settings: dict[str, Any] | None) -> None:
    spec = channel_spec({"name": "c", **data})
    expected = settings or {k: v for k, v in data.items() if k != "kind" and v is not None}
    assert (spec.kind, spec.settings) == (data["kind"], expected)


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        (
            {"kind": "pigeon", "url": "https://x.test/"},
            {"kind": "unknown kind 'pigeon'; supported: webhook, email, slack, discord, apprise"},
        ),
        ({"kind": "email"}, {"to": "is required"}),
        (
            {"kind": "email", "to": ["ops@example.com", "not an address", "a@b@c", "x@-y.z"]},
            {"to": "not an email address: 'not an address', 'a@b@c', 'x@-y.z'"},
        ),
        (
            {"kind": "email", "to": ["Ops <ops@example.com>", "ops@example.com\nBcc: x@y.z"]},
            {"to": "not an email address: 'Ops <ops@example.com>', 'ops@example.com\\nBcc: x@y.z'"},
        ),
        ({"kind": "email", "to": "ops@example.com"}, {"to": "must be a list of email addresses"}),
        ({"kind": "email", "to": []}, {"to": "must name at least one address"}),
        (
            {"kind": "email", "to": ["a@b.c"], "url": "https://x.test/"},
            {"url": "is not used by email channels"},
        ),
        (
            {"kind": "slack", "url": "https://x.test/", "secret": SECRET, "headers": {}},
            {"secret": "is not used by slack channels", "headers": "is not used by slack channels"},
        ),
        ({"kind": "discord"}, {"url": "is required"}),
        (
            {"kind": "slack", "url": "hooks.slack.com/x"},
            {"url": "must be an http:// or https:// URL"},
        ),
        (
            {"kind": "apprise", "url": "nonsense://x"},
            {
                "url": "Apprise cannot read this URL (see your service's URL format at "
                "https://github.com/caronc/apprise/wiki)"
            },
        ),
        (
            {"kind": "webhook", "url": "https://x.test/", "secret": "short"},
            {"secret": "must be at least 16 characters (try: openssl rand -hex 32)"},
        ),
        (
            {"kind": "webhook", "url": "https://x.test/", "secret": 5, "timeout": "2m"},
            {"secret": "must be a string", "timeout": "must be at most 60 seconds"},
        ),
    ],
    ids=[
        "unknown-kind",
        "email-without-to",
        "bad-addresses",
        "display-name-and-header-injection",
        "to-not-a-list",
        "to-empty",
        "url-on-email",
        "webhook-only-fields-on-slack",
        "discord-without-url",
        "slack-url-without-scheme",
        "apprise-unreadable",
        "short-secret",
        "several-problems",
    ],
)
def test_invalid_channels(data: dict[str, Any], fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as caught:
        channel_spec({"name": "c", **data})
    assert caught.value.fields == fields
