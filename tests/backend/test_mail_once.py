"""Reminders are mailed exactly once where the relay tells us, at most once otherwise.

A scripted SMTP relay on loopback (raw sockets) answers late, hangs up, or refuses
at the end of DATA; the reminder outbox is driven with fake mailers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select, update

from backend.analytics import NullAnalytics
from backend.email import MailError, MailOutcomeUnknown, SmtpMailer
from backend.models import Reminder, Subscription
from backend.outbox import SEND_LEASE
from backend.reminders import run_checks
from tests.backend.conftest import FakeMailer, make_settings
from tests.backend.test_reminders import setup  # noqa: F401  (fixture)


class ScriptedRelay:
    """One-connection-at-a-time SMTP relay whose answer to the end of DATA is scripted.

    ``end_of_data``: ``("reply", delay_seconds, "250 OK")`` or ``("hang_up", 0, "")``.
    ``quit_reply``: what QUIT gets (``None`` = hang up).
    """

    def __init__(self, end_of_data, quit_reply: str | None = "221 bye") -> None:
        self.end_of_data = end_of_data
        self.quit_reply = quit_reply
        self.messages: list[bytes] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def __enter__(self) -> ScriptedRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(10)
                with contextlib.suppress(OSError):
                    self._session(conn.makefile("rb"), conn)

    def _session(self, lines, conn: socket.socket) -> None:
        conn.sendall(b"220 relay.test ESMTP\r\n")
        while True:
            line = lines.readline()
            if not line:
                return
            command = line.strip().upper()
            if command.startswith((b"EHLO", b"HELO")):
                conn.sendall(b"250 relay.test\r\n")
            elif command.startswith((b"MAIL", b"RCPT", b"RSET", b"NOOP")):
                conn.sendall(b"250 OK\r\n")
            elif command == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                body = b""
                while (chunk := lines.readline()) not in (b".\r\n", b""):
                    body += chunk
                self.messages.append(body)
                kind, delay, reply = self.end_of_data
                if kind == "hang_up":
                    return
                time.sleep(delay)
                conn.sendall(reply.encode() + b"\r\n")
            elif command == b"QUIT":
                if self.quit_reply is not None:
                    conn.sendall(self.quit_reply.encode() + b"\r\n")
                return
            else:
                conn.sendall(b"502 unknown\r\n")


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "a@domaincheck.test"
    mail["To"] = "b@example.com"
    mail["Subject"] = "hello"
    mail.set_content("body")
    return mail


def mailer_for(relay: ScriptedRelay, **kwargs) -> SmtpMailer:
    return SmtpMailer(host="127.0.0.1", port=relay.port, tls="none", **kwargs)


def test_a_slow_reply_to_the_end_of_data_is_waited_for():
    """The relay takes longer than SMTP_TIMEOUT_SECONDS to say 250: still one send,
    success (before, the short timeout failed it and the next run sent a copy)."""
    with ScriptedRelay(("reply", 1.5, "250 queued")) as relay:
        mailer_for(relay, timeout_seconds=0.5, data_timeout_seconds=10).send(message())
    assert len(relay.messages) == 1


def test_commands_still_time_out_quickly():
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never greets
        mailer = SmtpMailer(
            host="127.0.0.1", port=silent.getsockname()[1], tls="none", timeout_seconds=0.3
        )
        with pytest.raises(MailError) as caught:
            mailer.send(message())
    assert not isinstance(caught.value, MailOutcomeUnknown)


def test_no_reply_after_the_message_is_an_unknown_outcome():
    with ScriptedRelay(("hang_up", 0, "")) as relay, pytest.raises(MailOutcomeUnknown):
        mailer_for(relay, timeout_seconds=2).send(message())
    assert len(relay.messages) == 1


def test_a_refusal_at_the_end_of_data_is_a_plain_failure():
    with (
        ScriptedRelay(("reply", 0, "451 try later")) as relay,
        pytest.raises(MailError) as caught,
    ):
        mailer_for(relay, timeout_seconds=2).send(message())
    assert not isinstance(caught.value, MailOutcomeUnknown)


@pytest.mark.parametrize("quit_reply", [None, "500 what"], ids=["hang-up", "refused"])
def test_a_failing_quit_after_acceptance_is_still_a_success(quit_reply):
    """The relay said 250 to the message: whatever QUIT gets, the send succeeded
    (no ``MailError``, let alone ``MailOutcomeUnknown``) and the relay has it once."""
    with ScriptedRelay(("reply", 0, "250 queued"), quit_reply=quit_reply) as relay:
        mailer_for(relay, timeout_seconds=2).send(message())
    assert len(relay.messages) == 1
    assert b"Subject: hello" in relay.messages[0]


def test_an_outbox_send_whose_quit_fails_is_recorded_as_sent(
    setup,  # noqa: F811
    mailer,
    clock,
    database_url,
):
    from backend.outbox import SendOutcome, send_one

    world, run, sessions = setup
    world.certs["a.test"] = (10, "aa")
    mailer.fail_next = 1  # the run only queues the reminder
    run()
    with sessions() as session:
        (reminder_id,) = session.scalars(select(Reminder.id))
    with (
        ScriptedRelay(("reply", 0, "250 queued"), quit_reply=None) as relay,
        sessions() as session,
    ):
        outcome = send_one(
            session,
            reminder_id=reminder_id,
            mailer=mailer_for(relay, timeout_seconds=2),
            settings=make_settings(database_url),
            owner="test",
            clock=clock,
        )
    assert outcome is SendOutcome.SENT
    assert len(relay.messages) == 1
    with sessions() as session:
        assert session.get(Reminder, reminder_id).sent_at is not None


class UnknownOutcomeMailer(FakeMailer):
    """Delivers, then reports that no reply came (the relay did get it)."""

    def send(self, message: EmailMessage) -> None:
        super().send(message)
        raise MailOutcomeUnknown("no reply from the mail server after the message was sent")


def count_reminders(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Reminder)) or 0


def test_an_unknown_outcome_is_not_resent(setup, clock, database_url):  # noqa: F811
    world, _, sessions = setup
    world.certs["a.test"] = (10, "aa")

    def run_with(mailer):
        return asyncio.run(
            run_checks(
                sessions,
                settings=make_settings(database_url),
                mailer=mailer,
                analytics=NullAnalytics(),
                check=world.check,
                clock=clock,
            )
        )

    unknown = UnknownOutcomeMailer()
    first = run_with(unknown)
    assert (first.emails_sent, first.emails_failed) == (0, 1)
    healthy = FakeMailer()
    second = run_with(healthy)
    assert (second.emails_sent, second.emails_failed) == (0, 0)
    assert len(unknown.sent) == 1 and healthy.sent == []


def test_a_send_interrupted_by_a_crash_is_not_resent(setup, mailer, clock):  # noqa: F811
    world, run, sessions = setup
    world.certs["a.test"] = (10, "aa")
    mailer.fail_next = 1  # the first run only queues (its send fails for sure)
    run()
    assert mailer.sent == []
    # The next run's sender claimed it and died mid-send: the record stays behind,
    # and its send lease has run out.
    with sessions() as session:
        session.execute(
            update(Reminder).values(
                send_started_at=clock(),
                lease_owner="dead-replica",
                lease_until=clock() - SEND_LEASE,
            )
        )
        session.commit()
    stats = run()
    assert (stats.emails_sent, stats.emails_failed) == (0, 0)
    assert mailer.sent == []


def test_the_same_news_is_queued_once(setup, mailer, clock):  # noqa: F811
    """Two runs that both see the news (a replica whose lease ran out) queue one row."""
    world, run, sessions = setup
    world.certs["a.test"] = (10, "aa")
    mailer.fail_next = 1
    run()
    with sessions() as session:  # forget that it was reminded: the news comes again
        session.execute(update(Subscription).values(tls_key=None, tls_level=None))
        session.commit()
    run()
    assert count_reminders(sessions) == 1
    assert len(mailer.sent) == 1
    first_id = mailer.sent[0]["Message-ID"]
    assert first_id.startswith("<reminder.") and first_id.endswith("@domaincheck.test>")


def test_unknown_outcomes_are_pruned_after_the_retention(setup, clock):  # noqa: F811
    from backend.reminders import RETENTION

    world, run, sessions = setup
    world.certs["a.test"] = (10, "aa")
    run()
    with sessions() as session:  # as if the send's outcome had stayed unknown
        session.execute(update(Reminder).values(sent_at=None, send_started_at=clock()))
        session.commit()
        (in_doubt,) = session.scalars(select(Reminder.id))
    clock.advance(seconds=RETENTION.total_seconds() + 60)
    run()
    with sessions() as session:
        assert session.get(Reminder, in_doubt) is None
