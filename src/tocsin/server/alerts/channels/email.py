"""Email channel: the alert as a text + HTML message, handed to the SMTP server of
``TOCSIN_SMTP_URL``.

``smtplib`` runs in a thread (``asyncio.to_thread``): it is the standard library's, well
worn, and an alert is one short conversation, so a thread per send in flight costs
little. Replies are classified the way SMTP means them: 5xx is permanent, 4xx and a lost
connection are worth a retry.
"""

from __future__ import annotations

import asyncio
import html
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from tocsin.errors import DeliveryError
from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.channels.messages import Message, Tone, message_of
from tocsin.server.alerts.channels.posting import DEFAULT_TIMEOUT_SECONDS, EXCERPT_CHARS
from tocsin.settings import SmtpSecurity, SmtpSettings

logger = logging.getLogger(__name__)

COLOURS = {Tone.BAD: "#d93f0b", Tone.GOOD: "#2ea44f", Tone.NEUTRAL: "#dbab09"}
SMTP_OK = 250


def _one_line(text: str) -> str:
    """Header text: a monitor's name must not start a new header line."""
    return " ".join(text.split())


def email_message(
    message: Message, sender: str, to: list[str], idempotency_key: str
) -> EmailMessage:
    """A multipart/alternative message: plain text first, then the same in HTML (every
    piece of user text escaped). Its ``Message-ID`` comes from the idempotency key, so a
    resent alert is recognisably the same message."""
    mail = EmailMessage()
    mail["Subject"] = _one_line(f"[tocsin] {message.title}")
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    if message.at is not None:
        mail["Date"] = format_datetime(message.at)
    domain = sender.rpartition("@")[2] or "tocsin"
    mail["Message-ID"] = f"<{idempotency_key}@{domain}>"
    mail.set_content(f"{message.title}\n\n{message.text}\n\n-- \n{message.sent_by}\n")
    mail.add_alternative(_html(message), subtype="html")
    return mail


def _html(message: Message) -> str:
    rows = "".join(
        f"<tr><th align='left' style='padding-right:1em'>{html.escape(label)}</th>"
        f"<td>{html.escape(value)}</td></tr>"
        for label, value in message.lines
    )
    when = f"<p>At {html.escape(message.at.isoformat())}</p>" if message.at else ""
    link = (
        f"<p><a href='{html.escape(message.link, quote=True)}'>Open in tocsin</a></p>"
        if message.link
        else ""
    )
    return (
        "<!doctype html><html><body style='font-family:sans-serif'>"
        f"<h2 style='color:{COLOURS[message.tone]}'>{html.escape(message.title)}</h2>"
        f"<p>{html.escape(message.summary)}</p><table>{rows}</table>{when}{link}"
        f"<p style='color:#888'>{html.escape(message.sent_by)}</p></body></html>"
    )


class EmailChannel:
    """Sends alerts through ``smtp`` (``None``: ``TOCSIN_SMTP_URL`` is not set, and every
    email alert fails with a retry, so alerts raised before it is set still go out once
    the server restarts with it). ``tls`` verifies the server's certificate (the
    system's CAs by default)."""

    def __init__(self, smtp: SmtpSettings | None, tls: ssl.SSLContext | None = None) -> None:
        self.smtp = smtp
        self.tls = tls

    async def send(
        self,
        session: HttpClient,
        settings: dict[str, Any],
        payload: dict[str, Any],
        idempotency_key: str,
    ) -> int:
        """Deliver ``payload`` to the channel's ``to`` addresses; return the SMTP reply."""
        if self.smtp is None:
            raise DeliveryError("email needs TOCSIN_SMTP_URL: set it and restart the server")
        mail = email_message(message_of(payload), self.smtp.sender, settings["to"], idempotency_key)
        timeout = settings.get("timeout") or DEFAULT_TIMEOUT_SECONDS
        return await asyncio.to_thread(self._send, mail, timeout)

    def _send(self, mail: EmailMessage, timeout: float) -> int:
        smtp = self.smtp
        assert smtp is not None
        context = self.tls or ssl.create_default_context()
        try:
            client = (
                smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=context)
                if smtp.security is SmtpSecurity.TLS
                else smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
            )
            with client:
                if smtp.security is SmtpSecurity.STARTTLS:
                    client.starttls(context=context)
                if smtp.username is not None:
                    client.login(smtp.username, smtp.password or "")
                refused = client.send_message(mail)
        except Exception as exc:
            raise _delivery_error(exc) from None
        if refused:  # the others got it: a retry would send them a duplicate
            logger.warning("email recipients refused recipients=%s", ",".join(sorted(refused)))
        return SMTP_OK


def _delivery_error(exc: Exception) -> DeliveryError:
    """Translate ``smtplib``'s and the network's exceptions, in this one place."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = exc.recipients.values()
        code, text = min(replies) if replies else (550, b"")
        return DeliveryError(
            f"SMTP {code}: every recipient refused: {_reply(text)}",
            permanent=all(c >= 500 for c, _ in replies),
            http_status=code,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return DeliveryError(
            f"SMTP {exc.smtp_code}: {_reply(exc.smtp_error)}",
            permanent=exc.smtp_code >= 500,
            http_status=exc.smtp_code,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(
            f"the SMTP server does not support it: {exc} (for a plain local relay "
            "without STARTTLS, add ?starttls=false to TOCSIN_SMTP_URL)",
            permanent=True,
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(f"the SMTP server's certificate: {exc.verify_message}", permanent=True)
    if isinstance(exc, smtplib.SMTPException | OSError):
        return DeliveryError(f"{type(exc).__name__}: {exc}")
    raise exc


def _reply(text: bytes | str) -> str:
    reply = text.decode(errors="replace") if isinstance(text, bytes) else text
    return " ".join(reply.split())[:EXCERPT_CHARS]
