"""The Email Reminders dialog, driven like a user would, against the real backend.

The backend app runs under uvicorn on loopback and mails its codes to a real SMTP
server (aiosmtpd) on loopback; the code is read from the delivered mail. The backend's
clock is injected, so "expired" is ten minutes on that clock, not in real time.
"""

# ruff: noqa: F811

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt, QTimer

from core.api import BackendClient, InvalidDomains, InvalidEntry, RateLimited
from core.models import Target
from core.secrets import TokenStore
from desktop.reminders import (
    CODE_REJECTED_TEXT,
    UNAUTHORIZED_TEXT,
    UNREACHABLE_TEXT,
    Page,
    RemindersDialog,
    ReminderService,
    explain,
    extract_code,
)
from tests.desktop.fakes import FakeEngine

backend_conftest = pytest.importorskip("tests.backend.conftest")
pytest.importorskip("uvicorn")
pytest.importorskip("aiosmtpd")
from tests.backend.conftest import _sqlite_template, sqlite_url  # noqa: E402, F401
from tests.helpers.backend_server import (  # noqa: E402
    RecordingAnalytics,
    SmtpInbox,
    free_port,
    serve,
)

EMAIL = "jane.doe@example.org"
WATCHED = ["example.com", "shop.example.org"]
CALL_MS = 15_000


class Backend:
    def __init__(self, url: str, inbox: SmtpInbox, clock: Any, recorder: RecordingAnalytics):
        self.url = url
        self.inbox = inbox
        self.clock = clock
        self.recorder = recorder


@pytest.fixture
def backend(sqlite_url: str) -> Iterator[Backend]:
    """The real backend on loopback (its clock injected), mailing to a real SMTP server."""
    from backend.api.deps import get_clock
    from backend.app import create_app

    clock = backend_conftest.FakeClock()
    recorder = RecordingAnalytics()
    with SmtpInbox() as inbox:
        settings = backend_conftest.make_settings(
            sqlite_url, rate_limit_ip_otp_per_hour=3, **inbox.backend_settings()
        )
        app = create_app(settings, analytics=recorder)
        app.dependency_overrides[get_clock] = lambda: clock
        with serve(app) as url:
            yield Backend(url, inbox, clock, recorder)


@pytest.fixture
def file_token_store(tmp_path: Path) -> TokenStore:
    """No working keyring (as on headless Linux): the token goes to a private file."""
    return TokenStore(backend=fail.Keyring(), fallback_path=tmp_path / "token")


@pytest.fixture
def reminders_app(
    make_app: Callable[..., Any], backend: Backend, file_token_store: TokenStore
) -> Any:
    app = make_app(checker_factory=FakeEngine(), token_store=file_token_store)
    app.apply_preferences(app.preferences.__class__(backend_url=backend.url))
    app.editor.watch([Target(name) for name in WATCHED])
    return app


def open_dialog(app: Any, qtbot: Any) -> RemindersDialog:
    dialog: RemindersDialog = app.open_reminders()
    qtbot.waitUntil(lambda: dialog.page is not Page.LOADING and not dialog.busy, timeout=CALL_MS)
    return dialog


def click(qtbot: Any, button: Any) -> float:
    """Click like a user; returns how long the GUI thread was busy with it (seconds)."""
    assert button.isEnabled() and button.isVisible(), button.text()
    started = time.perf_counter()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    return time.perf_counter() - started


def wait_idle(dialog: RemindersDialog, qtbot: Any) -> None:
    qtbot.waitUntil(lambda: not dialog.busy, timeout=CALL_MS)


def request_code(dialog: RemindersDialog, qtbot: Any, email: str = EMAIL) -> None:
    dialog.email_page.email_edit.setText(email)
    assert click(qtbot, dialog.email_page.send_button) < 0.2  # the call runs off the GUI thread
    wait_idle(dialog, qtbot)


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("pasted", "code"),
    [
        ("123456", "123456"),
        ("123 456", "123456"),
        (" 123-456 ", "123456"),
        ("Your Domain Check code: 654321", "654321"),
        ("    987654\n", "987654"),
        ("12345", None),
        ("1234567", None),
    ],
)
def test_codes_are_found_in_what_people_paste(pasted: str, code: str | None) -> None:
    assert extract_code(pasted) == code


def test_every_failure_says_what_to_do_next() -> None:
    assert "check your connection" in explain(__import__("core.api").api.BackendUnreachable("x"))
    assert "2:00" in explain(RateLimited("slow down", 120))
    invalid = InvalidDomains("bad", [InvalidEntry("a..b.com", "empty label", 2)])
    assert "a..b.com (empty label)" in explain(invalid)


# --------------------------------------------------------------------------- pages, offline


Handler = Callable[[httpx.Request], httpx.Response]


def offline_dialog(
    qtbot: Any, tmp_path: Path, handler: Handler, *, token: str | None = "stored-token"
) -> tuple[RemindersDialog, TokenStore]:
    """The dialog against a scripted backend (``httpx.MockTransport``), settled."""
    store = TokenStore(backend=fail.Keyring(), fallback_path=tmp_path / "token")
    if token is not None:
        store.save(token)

    def client() -> BackendClient:
        return BackendClient(
            "http://backend.invalid", transport=httpx.MockTransport(handler), sleep=lambda _s: None
        )

    dialog = RemindersDialog(
        ReminderService(token_store=store, client_factory=client),
        watchlist=[(name, name) for name in WATCHED],
        threshold_days=30,
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=CALL_MS)
    return dialog, store


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("no network in this test", request=request)


SUBSCRIPTION_JSON = {
    "email": "j***@example.org",
    "domains": WATCHED,
    "threshold_days": 30,
    "details": [{"domain": name, "display": name, "last_status": "valid"} for name in WATCHED],
}


def test_without_a_stored_sign_in_the_dialog_starts_at_the_address(
    qtbot: Any, tmp_path: Path
) -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no backend call expected: {request.url}")

    dialog, _store = offline_dialog(qtbot, tmp_path, never, token=None)
    assert dialog.page is Page.EMAIL
    assert dialog.email_page.notice.isHidden()
    assert dialog.focusWidget() is dialog.email_page.email_edit


def test_an_unreachable_service_keeps_the_loading_page_with_try_again(
    qtbot: Any, tmp_path: Path
) -> None:
    answers: list[Handler] = [unreachable]
    dialog, _store = offline_dialog(qtbot, tmp_path, lambda request: answers[-1](request))
    loading = dialog.loading_page
    assert dialog.page is Page.LOADING
    assert loading.label.text() == "Your reminders could not be loaded."
    assert loading.notice.text() == UNREACHABLE_TEXT and loading.notice.kind == "error"
    assert loading.retry_button.isVisible()

    answers.append(lambda _request: httpx.Response(200, json=SUBSCRIPTION_JSON))
    click(qtbot, loading.retry_button)
    qtbot.waitUntil(lambda: dialog.page is Page.MANAGE, timeout=CALL_MS)
    assert dialog.manage_page.watched_list.count() == len(WATCHED)
    assert dialog.manage_page.difference_label.text() == "Your reminders match your watchlist."


def test_a_sign_in_the_service_refuses_is_forgotten_and_step_one_says_why(
    qtbot: Any, tmp_path: Path
) -> None:
    refused = httpx.Response(401, json={"detail": "the management token is invalid"})
    dialog, store = offline_dialog(qtbot, tmp_path, lambda _request: refused)
    qtbot.waitUntil(lambda: dialog.page is Page.EMAIL and not dialog.busy, timeout=CALL_MS)
    assert dialog.email_page.notice.text() == UNAUTHORIZED_TEXT
    assert dialog.email_page.notice.kind == "error"
    assert store.load() is None
    assert dialog.session.token is None


def test_change_address_and_i_already_have_a_code_move_between_the_steps(
    qtbot: Any, tmp_path: Path
) -> None:
    def code_sent(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "sent", "expires_in": 600, "resend_after": 0})

    dialog, _store = offline_dialog(qtbot, tmp_path, code_sent, token=None)
    assert not dialog.email_page.have_code_button.isVisible()  # no code sent yet
    request_code(dialog, qtbot)
    assert dialog.page is Page.CODE
    assert EMAIL in dialog.code_page.intro.text() and "10 minutes" in dialog.code_page.intro.text()
    click(qtbot, dialog.code_page.change_email_button)
    assert dialog.page is Page.EMAIL
    assert dialog.email_page.notice.isHidden()  # no stale "Sending a code…"
    click(qtbot, dialog.email_page.have_code_button)
    assert dialog.page is Page.CODE


def test_the_watchlist_changing_while_open_updates_the_domains_offered(
    qtbot: Any, tmp_path: Path
) -> None:
    dialog, _store = offline_dialog(qtbot, tmp_path, unreachable, token=None)
    dialog.set_watchlist([("xn--bcher-kva.de", "bücher.de")])
    assert dialog.code_page.checked_domains() == ["xn--bcher-kva.de"]
    assert dialog.code_page.domain_list.item(0).text() == "bücher.de  (xn--bcher-kva.de)"
    dialog.set_watchlist([])
    assert "watchlist is empty" in dialog.code_page.notice.text()
    dialog.set_watchlist([("example.com", "example.com")])
    assert dialog.code_page.notice.isHidden()


# --------------------------------------------------------------------------- end to end


def test_sign_up_manage_update_and_unsubscribe_through_the_dialog(
    reminders_app: Any, backend: Backend, file_token_store: TokenStore, qtbot: Any
) -> None:
    app = reminders_app
    dialog = open_dialog(app, qtbot)
    assert dialog.page is Page.EMAIL and not dialog.isModal()

    dialog.email_page.email_edit.setText("not an address")
    click(qtbot, dialog.email_page.send_button)
    assert "Enter your email address" in dialog.email_page.notice.text()

    request_code(dialog, qtbot)
    assert dialog.page is Page.CODE
    assert not dialog.code_page.resend_button.isEnabled()  # the resend countdown runs
    assert dialog.code_page.resend_button.text().startswith("Send Again in ")
    backend.inbox.wait_for(1)
    assert backend.inbox.envelopes[0][1] == [EMAIL]
    code = backend.inbox.code()

    # Default: the whole watchlist, ticked. Paste the mail's line, spaced.
    assert dialog.code_page.checked_domains() == WATCHED
    dialog.code_page.code_edit.setText(f"Your Domain Check code: {code[:3]} {code[3:]}")
    assert dialog.code_page.code_edit.text() == code
    dialog.code_page.threshold.setValue(21)
    click(qtbot, dialog.code_page.register_button)
    qtbot.waitUntil(
        lambda: dialog.page is Page.MANAGE and dialog.subscription is not None, timeout=CALL_MS
    )
    assert "j***@example.org" in dialog.manage_page.summary.text()
    assert dialog.subscription is not None
    assert set(dialog.subscription.domains) == set(WATCHED)
    assert dialog.subscription.threshold_days == 21
    assert dialog.manage_page.watched_list.count() == 2
    # No keyring here: the dialog says the sign-in is in a file.
    assert "a file only you can read" in dialog.manage_page.storage_label.text()
    assert file_token_store.load() is not None
    # The email is kept locally, for display.
    assert app.preferences.reminder_email == EMAIL
    assert dialog.manage_page.difference_label.text() == "Your reminders match your watchlist."

    # The watchlist changes: the dialog offers an update, and asks first.
    app.editor.watch([Target("blog.example.net")])
    assert (
        "1 domain on your watchlist is not in your reminders"
        in dialog.manage_page.difference_label.text()
    )
    click(qtbot, dialog.manage_page.update_button)
    assert dialog.manage_page.confirm.isVisible()
    assert "Replace the 2 domains" in dialog.manage_page.confirm.question.text()
    click(qtbot, dialog.manage_page.confirm.yes)
    qtbot.waitUntil(
        lambda: dialog.subscription is not None and len(dialog.subscription.domains) == 3,
        timeout=CALL_MS,
    )
    assert "now match" in dialog.manage_page.notice.text()

    # Threshold change.
    dialog.manage_page.threshold.setValue(7)
    click(qtbot, dialog.manage_page.save_threshold_button)
    qtbot.waitUntil(
        lambda: dialog.subscription is not None and dialog.subscription.threshold_days == 7,
        timeout=CALL_MS,
    )

    # Closing and opening again finds the stored sign-in and shows what the backend has.
    dialog.close()
    qtbot.waitUntil(lambda: app.reminders_dialog is None, timeout=2000)
    dialog = open_dialog(app, qtbot)
    assert dialog.page is Page.MANAGE
    assert dialog.subscription is not None and len(dialog.subscription.domains) == 3

    # Unsubscribe, asked first.
    click(qtbot, dialog.manage_page.unsubscribe_button)
    click(qtbot, dialog.manage_page.confirm.yes)
    qtbot.waitUntil(lambda: dialog.page is Page.EMAIL and not dialog.busy, timeout=CALL_MS)
    assert "unsubscribed" in dialog.email_page.notice.text()
    assert file_token_store.load() is None
    assert app.preferences.reminder_email == ""
    # Our backend saw requests; with analytics off they carry no IDs.
    assert backend.recorder.contexts and set(backend.recorder.contexts) == {(None, None)}


def test_wrong_and_expired_codes_say_so_and_a_new_code_works(
    reminders_app: Any, backend: Backend, qtbot: Any
) -> None:
    dialog = open_dialog(reminders_app, qtbot)
    request_code(dialog, qtbot)
    backend.inbox.wait_for(1)
    code = backend.inbox.code()

    dialog.code_page.code_edit.setText("000000" if code != "000000" else "111111")
    click(qtbot, dialog.code_page.register_button)
    wait_idle(dialog, qtbot)
    assert dialog.code_page.notice.text() == CODE_REJECTED_TEXT
    assert dialog.code_page.notice.kind == "error"
    assert dialog.page is Page.CODE

    # Ten minutes later (on the backend's clock) the right code has expired too.
    backend.clock.advance(seconds=601)
    dialog.code_page.code_edit.setText(code)
    click(qtbot, dialog.code_page.register_button)
    wait_idle(dialog, qtbot)
    assert dialog.code_page.notice.text() == CODE_REJECTED_TEXT

    # "Send again" (its countdown over) mails a new code, which works.
    dialog.session.resend_at = 0
    dialog.tick()
    click(qtbot, dialog.code_page.resend_button)
    wait_idle(dialog, qtbot)
    backend.inbox.wait_for(2)
    new_code = backend.inbox.code(-1)
    dialog.code_page.code_edit.setText(new_code)
    click(qtbot, dialog.code_page.register_button)
    qtbot.waitUntil(lambda: dialog.page is Page.MANAGE, timeout=CALL_MS)


def test_rate_limit_shows_a_countdown_and_blocks_sending_until_it_ends(
    reminders_app: Any, backend: Backend, qtbot: Any
) -> None:
    now = [1000.0]
    dialog = open_dialog(reminders_app, qtbot)
    dialog.session.clock = lambda: now[0]
    for number in range(3):  # the backend allows 3 codes an hour from one address
        dialog.show_page(Page.EMAIL)
        request_code(dialog, qtbot, f"user{number}@example.org")
        assert dialog.page is Page.CODE
    dialog.show_page(Page.EMAIL)
    request_code(dialog, qtbot, "user3@example.org")
    assert dialog.page is Page.EMAIL
    assert dialog.email_page.notice.text().startswith("Too many requests. Try again in ")
    assert dialog.email_page.notice.kind == "error"
    assert not dialog.email_page.send_button.isEnabled()
    assert dialog.email_page.send_button.text().startswith("Wait ")
    assert dialog.session.countdown.isActive()

    now[0] += 3600
    dialog.tick()
    assert dialog.email_page.send_button.isEnabled()
    assert dialog.email_page.notice.text() == "You can try again now."


def test_backend_down_is_said_inline_and_the_dialog_stays_responsive(
    make_app: Callable[..., Any], file_token_store: TokenStore, qtbot: Any
) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    app = make_app(checker_factory=FakeEngine(), token_store=file_token_store)
    app.apply_preferences(app.preferences.__class__(backend_url=down))
    app.editor.watch([Target("example.com")])
    dialog = open_dialog(app, qtbot)
    request_code(dialog, qtbot)
    assert dialog.email_page.notice.text() == UNREACHABLE_TEXT
    assert dialog.page is Page.EMAIL and dialog.email_page.send_button.isEnabled()


def test_a_hanging_backend_never_freezes_the_dialog_and_closing_mid_call_is_safe(
    make_app: Callable[..., Any], file_token_store: TokenStore, qtbot: Any
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts connections, never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    answered = threading.Event()

    def client() -> BackendClient:
        return BackendClient(url, timeout=1.5)

    app = make_app(
        checker_factory=FakeEngine(), token_store=file_token_store, backend_client_factory=client
    )
    app.editor.watch([Target("example.com")])
    dialog = open_dialog(app, qtbot)
    dialog.email_page.email_edit.setText(EMAIL)
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    assert click(qtbot, dialog.email_page.send_button) < 0.2
    assert dialog.busy and not dialog.email_page.send_button.isEnabled()
    qtbot.wait(300)
    assert len(ticks) >= 5  # the event loop kept running during the call
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps) < 0.25

    dialog.email_changed.connect(lambda _e: answered.set())
    started = time.perf_counter()
    dialog.close()  # mid-call
    assert time.perf_counter() - started < 0.2
    qtbot.wait(2000)  # the call times out meanwhile; its answer goes nowhere
    timer.stop()
    listener.close()
    assert not answered.is_set()
    assert app.reminders_dialog is None
