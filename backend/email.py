"""Emails: building a message is kept apart from sending it.

``build_*`` functions return a complete :class:`email.message.EmailMessage`; a
:class:`Mailer` delivers it. ``SmtpMailer`` speaks SMTP (STARTTLS, implicit TLS or
plain); without ``SMTP_HOST`` the ``OutboxMailer`` writes ``.eml`` files to a folder
and logs where, so the service works with zero setup.
"""

from __future__ import annotations

import logging
import os
import secrets
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from importlib import resources
from pathlib import Path
from string import Template
from typing import Protocol
from urllib.parse import quote

from backend.config import OTP_TTL_SECONDS, BackendSettings

log = logging.getLogger(__name__)

_PURPOSES = {
    "register": "confirm your email address and turn on expiry reminders",
    "manage": "manage your expiry reminders",
}


class MailError(Exception):
    """The message could not be handed to the mail server (``str()`` is safe to log)."""


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` or raise :class:`MailError`."""


def _template(name: str) -> Template:
    text = resources.files("backend").joinpath("templates", name).read_text("utf-8")
    return Template(text)


def render_template(name: str, **values: object) -> str:
    return _template(name).substitute(**{k: str(v) for k, v in values.items()})


def _base_message(
    *, to: str, subject: str, settings: BackendSettings, now: datetime
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Auto-Submitted"] = "auto-generated"
    return message


def build_otp_email(
    *, to: str, code: str, operation: str, settings: BackendSettings, now: datetime
) -> EmailMessage:
    message = _base_message(
        to=to, subject=f"Your Domain Check code: {code}", settings=settings, now=now
    )
    message["Message-ID"] = make_msgid(domain=_mail_domain(settings))
    message.set_content(
        render_template(
            "otp_email.txt",
            code=code,
            purpose=_PURPOSES.get(operation, _PURPOSES["manage"]),
            minutes=OTP_TTL_SECONDS // 60,
        )
    )
    return message


def unsubscribe_url(settings: BackendSettings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/unsubscribe?token={quote(token, safe='')}"


def build_reminder_email(
    *,
    to: str,
    subject: str,
    body: str,
    message_id: str,
    unsubscribe_link: str,
    settings: BackendSettings,
    now: datetime,
) -> EmailMessage:
    """A reminder with RFC 8058 one-click unsubscribe headers."""
    message = _base_message(to=to, subject=subject, settings=settings, now=now)
    message["Message-ID"] = message_id
    message["List-Unsubscribe"] = f"<{unsubscribe_link}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Precedence"] = "bulk"
    message.set_content(body)
    return message


def new_message_id(settings: BackendSettings) -> str:
    return f"<reminder.{secrets.token_hex(12)}@{_mail_domain(settings)}>"


def _mail_domain(settings: BackendSettings) -> str:
    address = settings.mail_from.rsplit("<", 1)[-1].rstrip(">").strip()
    domain = address.rpartition("@")[2]
    return domain or "localhost"


class SmtpMailer:
    """Sends through an SMTP server (blocking: call it from a worker thread)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: str = "starttls",
        user: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 20.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.user = user
        self.password = password
        self.timeout_seconds = timeout_seconds
        self.ssl_context = ssl_context or ssl.create_default_context()

    @classmethod
    def from_settings(cls, settings: BackendSettings) -> SmtpMailer:
        assert settings.smtp_host is not None
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            host=settings.smtp_host,
            port=settings.effective_smtp_port,
            tls=settings.smtp_tls,
            user=settings.smtp_user,
            password=password,
            timeout_seconds=settings.smtp_timeout_seconds,
        )

    def send(self, message: EmailMessage) -> None:
        try:
            smtp: smtplib.SMTP
            if self.tls == "ssl":
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout_seconds, context=self.ssl_context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
            with smtp:
                if self.tls == "starttls":
                    smtp.starttls(context=self.ssl_context)
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP delivery failed ({type(exc).__name__})") from exc


class OutboxMailer:
    """Writes each message as an ``.eml`` file (the zero-setup default)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{datetime.now().strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}.eml"
            path = self.directory / name
            partial = path.with_suffix(".partial")
            partial.write_bytes(message.as_bytes(policy=SMTP))
            os.replace(partial, path)
        except OSError as exc:
            raise MailError(f"could not write to the outbox ({type(exc).__name__})") from exc
        log.info("no SMTP_HOST set: wrote email to %s", path)


def mailer_from_settings(settings: BackendSettings) -> Mailer:
    if settings.smtp_host:
        return SmtpMailer.from_settings(settings)
    outbox = settings.effective_outbox_dir
    log.warning("no SMTP_HOST set: emails are written to %s", outbox)
    return OutboxMailer(outbox)
