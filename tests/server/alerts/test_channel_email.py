"""The email channel against a real local SMTP server (aiosmtpd): plain, STARTTLS with
a trustme certificate, implicit TLS, authentication, and SMTP's permanent and transient
refusals; and ``TOCSIN_SMTP_URL`` itself."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from tests.conftest import free_port
from tocsin.errors import ConfigError, DeliveryError
from tocsin.server.alerts.channels.email import EmailChannel
from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.settings import Settings, SmtpSecurity, SmtpSettings

PAYLOAD: dict[str, Any] = {
    "event": "down",
    "summary": "nightly <backup> is DOWN: no ping since 03:00",
    "monitor": {
        "name": "nightly <backup>",
        "kind": "heartbeat",
        "tags": ["db"],
        "last_ping_at": "2026-12-01T03:00:00+00:00",
        "url": "https://tocsin.example/monitors/abc",
    },
    "flip": {
        "old_state": "grace",
        "new_state": "down",
        "cause": "no ping since 2026-12-01T03:00:00+00:00 & grace 1h ran out",
        "at": "2026-12-02T04:00:00+00:00",
    },
    "sent_by": "tocsin/test",
}
SETTINGS = {"to": ["ops@example.com", "oncall+db@example.org"]}


@dataclass
class Recorder:
    """An aiosmtpd handler keeping every message; ``refuse`` answers RCPT with a reply."""

    refuse: str | None = None
    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        return "250 Message accepted"


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    good = auth_data.login == b"alerts" and auth_data.password == b"pa:ss/word"
    return AuthResult(success=good, handled=False)  # failure: aiosmtpd answers 535


@contextmanager
def smtp_server(recorder: Recorder, **options: Any) -> Iterator[int]:
    """Run aiosmtpd on 127.0.0.1 with ``options``; yield its port."""
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A private certificate authority, like a company's own."""
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    """The SMTP server's TLS: a certificate for 127.0.0.1 from ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    """What the channel verifies the server against: ``ca``, and nothing else."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def _send(channel: EmailChannel, settings: dict[str, Any] = SETTINGS) -> int:
    async with HttpClient() as client:
        return await channel.send(client, settings, PAYLOAD, "key-123")


def _smtp(port: int, security: SmtpSecurity, **changes: Any) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1", port=port, security=security, sender="tocsin@example.com", **changes
    )


async def test_a_plain_relay_gets_text_and_html_alternatives() -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        status = await _send(EmailChannel(_smtp(port, SmtpSecurity.NONE)))
    assert status == 250
    [(envelope, mail)] = recorder.messages
    assert envelope.mail_from == "tocsin@example.com"
    assert envelope.rcpt_tos == SETTINGS["to"]
    assert mail["To"] == "ops@example.com, oncall+db@example.org"
    assert mail["Subject"] == "[tocsin] nightly <backup> is DOWN"
    assert mail["Message-ID"] == "<key-123@example.com>"
    assert mail.get_content_type() == "multipart/alternative"
    text_part = mail.get_body(("plain",))
    html_part = mail.get_body(("html",))
    assert text_part is not None and html_part is not None
    text, page = text_part.get_content(), html_part.get_content()
    assert "no ping since 2026-12-01T03:00:00+00:00 & grace 1h ran out" in text
    assert "Last ping: 2026-12-01T03:00:00+00:00" in text
    assert "Details: https://tocsin.example/monitors/abc" in text
    # User text is escaped in HTML: a monitor's name cannot inject markup.
    assert "nightly &lt;backup&gt; is DOWN" in page
    assert "<backup>" not in page
    assert "grace 1h ran out" in page and "&amp; grace" in page
    assert "href='https://tocsin.example/monitors/abc'" in page


async def test_starttls_with_login_against_a_private_ca(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    recorder = Recorder()
    options = {
        "tls_context": server_tls,
        "require_starttls": True,
        "authenticator": _authenticate,
    }
    with smtp_server(recorder, **options) as port:
        good = _smtp(port, SmtpSecurity.STARTTLS, username="alerts", password="pa:ss/word")
        assert await _send(EmailChannel(good, tls=client_tls)) == 250
        wrong = _smtp(port, SmtpSecurity.STARTTLS, username="alerts", password="nope")
        with pytest.raises(DeliveryError) as refused:
            await _send(EmailChannel(wrong, tls=client_tls))
        # The system's CAs do not know this server's certificate: refused, for good.
        with pytest.raises(DeliveryError) as untrusted:
            await _send(EmailChannel(good))
    assert len(recorder.messages) == 1
    assert (refused.value.permanent, refused.value.http_status) == (True, 535)
    assert str(refused.value).startswith("SMTP 535: ")
    assert untrusted.value.permanent
    assert "certificate" in str(untrusted.value)


async def test_implicit_tls(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    recorder = Recorder()
    with smtp_server(recorder, ssl_context=server_tls) as port:
        assert await _send(EmailChannel(_smtp(port, SmtpSecurity.TLS), tls=client_tls)) == 250
    assert recorder.messages[0][1]["Subject"] == "[tocsin] nightly <backup> is DOWN"


async def test_a_server_without_starttls_is_a_permanent_error_when_tls_is_wanted() -> None:
    with smtp_server(Recorder()) as port, pytest.raises(DeliveryError) as caught:
        await _send(EmailChannel(_smtp(port, SmtpSecurity.STARTTLS)))
    assert caught.value.permanent
    assert "?starttls=false" in str(caught.value)


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [("550 5.1.1 no such user", True), ("451 4.3.0 try again later", False)],
    ids=["5xx-permanent", "4xx-transient"],
)
async def test_smtp_refusals_are_permanent_or_transient_by_their_code(
    reply: str, permanent: bool
) -> None:
    with smtp_server(Recorder(refuse=reply)) as port, pytest.raises(DeliveryError) as caught:
        await _send(EmailChannel(_smtp(port, SmtpSecurity.NONE)))
    code = int(reply[:3])
    assert (caught.value.permanent, caught.value.http_status) == (permanent, code)
    assert str(caught.value) == f"SMTP {code}: every recipient refused: {reply[4:]}"


async def test_an_unreachable_server_is_worth_a_retry() -> None:
    with pytest.raises(DeliveryError) as caught:
        await _send(EmailChannel(_smtp(free_port(), SmtpSecurity.NONE)))
    assert not caught.value.permanent
    assert "ConnectionRefusedError" in str(caught.value)


async def test_without_smtp_settings_email_alerts_wait_for_them() -> None:
    with pytest.raises(DeliveryError) as caught:
        await _send(EmailChannel(None))
    assert not caught.value.permanent
    assert "TOCSIN_SMTP_URL" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://alerts%40example.com:p%40ss@mail.example.com",
            SmtpSettings(
                "mail.example.com",
                587,
                SmtpSecurity.STARTTLS,
                "alerts@example.com",
                "alerts@example.com",
                "p@ss",
            ),
        ),
        (
            "smtps://u:pw@mail.example.com?from=ops+alerts@example.com",
            SmtpSettings(
                "mail.example.com", 465, SmtpSecurity.TLS, "ops+alerts@example.com", "u", "pw"
            ),
        ),
        (
            "smtp://localhost:25?starttls=false&from=tocsin@localhost",
            SmtpSettings("localhost", 25, SmtpSecurity.NONE, "tocsin@localhost"),
        ),
    ],
    ids=["starttls-default", "implicit-tls", "plain-relay"],
)
def test_smtp_urls(url: str, expected: SmtpSettings) -> None:
    assert Settings.from_env({"TOCSIN_SMTP_URL": url}).smtp == expected


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("smtp://user:secret@mail.example.com", "needs a sender: add ?from="),
        ("http://mail.example.com?from=a@b.c", "must start with smtp:// or smtps://"),
        ("smtp://mail.example.com?from=a@b.c&starttls=maybe", "starttls must be true or false"),
        ("smtps://mail.example.com?from=a@b.c&starttls=true", "does not apply to smtps://"),
        ("smtp://mail.example.com?from=a@b.c&tls=1", "unknown parameters tls"),
    ],
    ids=["no-sender", "scheme", "starttls-value", "starttls-on-smtps", "unknown-parameter"],
)
def test_bad_smtp_urls_are_refused_without_repeating_them(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"TOCSIN_SMTP_URL": url})
    [message] = caught.value.problems
    assert problem in message
    assert "secret" not in message


def test_the_password_stays_out_of_the_settings_repr() -> None:
    settings = Settings.from_env({"TOCSIN_SMTP_URL": "smtp://u:hunter22@h?from=a@b.c"})
    assert "hunter22" not in repr(settings)
