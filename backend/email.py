"""Emails: building a message is kept apart from sending it.

``build_*`` functions return a complete :class:`email.message.EmailMessage`; a
:class:`Mailer` delivers it. ``SmtpMailer`` speaks SMTP (STARTTLS, implicit TLS or
plain) with RFC 5321's timeouts; without ``SMTP_HOST`` the ``OutboxMailer`` writes
``.eml`` files (mode 0600, in a 0700 folder: they hold codes and unsubscribe links)
to a folder and logs where, so the service works with zero setup.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import smtplib
import socket
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

from backend.config import OTP_TTL_SECONDS, BackendSettings

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger(__name__)

_PURPOSES = {
    "register": "confirm your email address and turn on expiry reminders",
    "manage": "manage your expiry reminders",
}


class MailError(Exception):
    """The message could not be handed to the mail server (``str()`` is safe to log)."""


class MailOutcomeUnknown(MailError):
    """The whole message went out but no reply to the end of DATA came back.

    The relay may have accepted it, so sending it again could deliver a second
    copy; reminders in this state are not retried.
    """


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


def stable_message_id(settings: BackendSettings, *parts: str) -> str:
    """The same Message-ID for the same ``parts`` (a subscriber and its news)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"<reminder.{digest}@{_mail_domain(settings)}>"


def _mail_domain(settings: BackendSettings) -> str:
    address = settings.mail_from.rsplit("<", 1)[-1].rstrip(">").strip()
    domain = address.rpartition("@")[2]
    return domain or "localhost"


class _RfcTimeouts:
    """RFC 5321 §4.5.3.2 timeouts for ``smtplib``: short per command, long for the end.

    The socket timeout (``SMTP_TIMEOUT_SECONDS``) bounds connecting and each
    command. Once the message body and its final ``.`` are sent, the wait for the
    reply is the RFC's 10 minutes (``SMTP_DATA_TIMEOUT_SECONDS``): a relay that
    answers 250 late has still taken the message, and giving up there is what
    used to send a second copy. ``end_of_data_sent`` tells the caller whether a
    failure may have come after the relay got everything.
    """

    data_timeout_seconds: float = 600.0
    end_of_data_sent: bool = False
    sock: socket.socket | None

    def send(self, s: ReadableBuffer | str) -> None:
        super().send(s)  # type: ignore[misc]
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.end_of_data_sent = True
            if self.sock is not None:
                self.sock.settimeout(self.data_timeout_seconds)


class _Smtp(_RfcTimeouts, smtplib.SMTP):
    pass


class _SmtpSsl(_RfcTimeouts, smtplib.SMTP_SSL):
    pass


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
        data_timeout_seconds: float = 600.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.user = user
        self.password = password
        self.timeout_seconds = timeout_seconds
        self.data_timeout_seconds = data_timeout_seconds
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
            data_timeout_seconds=settings.smtp_data_timeout_seconds,
        )

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message``; :class:`MailOutcomeUnknown` when the relay may have it."""
        smtp: _Smtp | _SmtpSsl | None = None
        try:
            if self.tls == "ssl":
                smtp = _SmtpSsl(
                    self.host, self.port, timeout=self.timeout_seconds, context=self.ssl_context
                )
            else:
                smtp = _Smtp(self.host, self.port, timeout=self.timeout_seconds)
            smtp.data_timeout_seconds = self.data_timeout_seconds
            if self.tls == "starttls":
                smtp.starttls(context=self.ssl_context)
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            # The relay answered, even after the end of DATA: it did not take it.
            raise MailError(f"SMTP delivery failed ({type(exc).__name__} {exc.smtp_code})") from exc
        except (smtplib.SMTPException, OSError) as exc:
            if smtp is not None and smtp.end_of_data_sent:
                raise MailOutcomeUnknown(
                    f"no reply from the mail server after the message was sent "
                    f"({type(exc).__name__}); it may have been delivered"
                ) from exc
            raise MailError(f"SMTP delivery failed ({type(exc).__name__})") from exc
        finally:
            if smtp is not None:
                _quit_quietly(smtp)


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    """Say goodbye; once the message is accepted nothing here can fail the send."""
    try:
        if smtp.sock is not None:
            smtp.sock.settimeout(min(smtp.timeout, 5.0) if smtp.timeout else 5.0)
            smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


class OutboxMailer:
    """Writes each message as an ``.eml`` file (the zero-setup default)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        try:
            # Codes and unsubscribe links are inside: a new folder is 0700, files 0600.
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            name = f"{datetime.now().strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}.eml"
            path = self.directory / name
            partial = path.with_suffix(".partial")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(message.as_bytes(policy=SMTP))
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
