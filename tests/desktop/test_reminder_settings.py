"""Email reminders follow each target's own threshold and typed registration date.

The dialog offers every watched target in the form the service takes
(``smtp://mx1.example.com``), shows its group and own settings, sends those settings
when registering and updating, and counts a changed setting as a difference. Offline
tests script the backend with ``httpx.MockTransport``; the end-to-end test runs the
real backend on loopback with a real SMTP server (the fixtures of
``test_reminders``).
"""

# ruff: noqa: F811

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt

from core.api import BackendClient, DomainSettings, WatchedDomain
from core.domains import parse_line
from core.models import Target
from core.registration import parse_manual_expiry
from core.secrets import TokenStore
from desktop.reminders import Page, RemindersDialog, ReminderService, WatchlistItem
from desktop.reminders.manage_page import MATCHES_TEXT
from desktop.reminders.watched import as_items, detail_words

pytest.importorskip("uvicorn")
pytest.importorskip("aiosmtpd")
from tests.backend.conftest import _sqlite_template, sqlite_url  # noqa: F401
from tests.desktop.test_reminders import (  # noqa: F401
    CALL_MS,
    Backend,
    backend,
    click,
    file_token_store,
    open_dialog,
    reminders_app,
    request_code,
)

EXAMPLE = ("example.com", 443)
SHOP = ("shop.example.org", 443)
TYPED = "2027-03-01"


def smtp_target() -> Target:
    target = parse_line("smtp://mx1.example.com")
    assert target is not None
    return target


def list_texts(widget: Any) -> list[str]:
    return [widget.item(i).text() for i in range(widget.count())]


# --------------------------------------------------------------------------- the items


def test_a_target_is_offered_as_the_service_takes_it_with_its_group_and_settings() -> None:
    expires = parse_manual_expiry(TYPED)
    item = WatchlistItem.of(
        Target("xn--bcher-kva.de", 8443, display="bücher.de", threshold_days=14),
        group="Clients",
        expires=expires,
    )
    assert item.domain == "xn--bcher-kva.de:8443"
    assert item.text() == (
        "bücher.de:8443  (xn--bcher-kva.de:8443) · group Clients · 14 days"
        " · registration expires 2027-03-01 (typed)"
    )
    assert item.entry() == DomainSettings("xn--bcher-kva.de:8443", 14, date(2027, 3, 1))

    service = WatchlistItem.of(smtp_target())
    assert service.domain == "smtp://mx1.example.com"
    assert service.text() == "smtp://mx1.example.com"
    assert service.entry() == "smtp://mx1.example.com"  # no settings of its own: a string
    assert service.entry(explicit=True) == DomainSettings("smtp://mx1.example.com")

    mx_host = WatchlistItem.of(
        Target("mx2.example.com", 25, protocol="smtp", serves="example.com", threshold_days=1)
    )
    assert mx_host.text() == "smtp://mx2.example.com · mail server of example.com · 1 day"


def test_pairs_still_work_as_a_watchlist_and_settings_differences_are_found() -> None:
    assert as_items([("example.com", "example.com")]) == [
        WatchlistItem("example.com", "example.com")
    ]
    item = WatchlistItem("example.com", "example.com", threshold_days=14)
    reported = WatchedDomain("example.com", "example.com", None, None, None, threshold_days=14)
    assert not item.differs_from(reported)
    assert WatchlistItem("example.com").differs_from(reported)
    typed = WatchedDomain(
        "smtp://mx1.example.com",
        "mx1.example.com",
        None,
        None,
        None,
        protocol="smtp",
        registration_expires=date(2027, 3, 1),
    )
    assert detail_words(typed) == ["SMTP", "registration expires 2027-03-01 (typed)"]
    mx = WatchedDomain("mx:example.com", "mx:example.com", None, None, None, protocol="mx")
    assert detail_words(mx) == []  # the name says it already


# --------------------------------------------------------------------------- offline pages

WATCHLIST = [
    WatchlistItem("example.com", "example.com", group="Clients", threshold_days=14),
    WatchlistItem("shop.example.org", "shop.example.org", registration_expires=date(2027, 3, 1)),
    WatchlistItem("smtp://mx1.example.com", "smtp://mx1.example.com"),
]


def scripted_dialog(
    qtbot: Any, tmp_path: Path, subscription: dict[str, Any], sent: list[dict[str, Any]]
) -> RemindersDialog:
    """Signed in; the backend answers ``subscription`` and records what is sent."""
    store = TokenStore(backend=fail.Keyring(), fallback_path=tmp_path / "token")  # type: ignore[no-untyped-call]
    store.save("stored-token")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            sent.append(json.loads(request.content))
        return httpx.Response(200, json=subscription)

    def client() -> BackendClient:
        return BackendClient(
            "http://backend.invalid", transport=httpx.MockTransport(handler), sleep=lambda _s: None
        )

    dialog = RemindersDialog(
        ReminderService(token_store=store, client_factory=client),
        watchlist=WATCHLIST,
        threshold_days=30,
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.page is Page.MANAGE and not dialog.busy, timeout=CALL_MS)
    return dialog


def reported(settings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The subscription JSON of the three domains, with ``settings`` by domain."""
    details: list[dict[str, Any]] = [
        {"domain": "example.com", "display": "example.com", "last_status": "valid"},
        {"domain": "shop.example.org", "display": "shop.example.org", "last_status": None},
        {
            "domain": "smtp://mx1.example.com",
            "display": "mx1.example.com",
            "protocol": "smtp",
            "last_status": "valid",
            "last_days_left": 60,
        },
    ]
    for detail in details:
        detail.update(settings.get(str(detail["domain"]), {}))
    return {
        "email": "j***@example.org",
        "domains": [d["domain"] for d in details],
        "threshold_days": 30,
        "details": details,
    }


def test_manage_shows_what_the_service_reports_and_update_sends_the_settings(
    qtbot: Any, tmp_path: Path
) -> None:
    sent: list[dict[str, Any]] = []
    # The service has the old threshold for example.com, none of the typed date, and
    # a threshold for the SMTP service that the watchlist no longer has.
    subscription = reported(
        {"example.com": {"threshold_days": 21}, "smtp://mx1.example.com": {"threshold_days": 3}}
    )
    dialog = scripted_dialog(qtbot, tmp_path, subscription, sent)
    page = dialog.manage_page
    assert list_texts(page.watched_list) == [
        "example.com — valid · 21 days",
        "shop.example.org — not checked yet",
        "mx1.example.com — valid, 60 days left · SMTP · 3 days",
    ]
    assert page.changed_settings() == [
        "example.com",
        "shop.example.org",
        "smtp://mx1.example.com",
    ]
    assert page.difference_label.text() == (
        "Your watchlist has changed: 3 domains have another threshold or typed date"
        " in your reminders."
    )
    assert page.update_button.isVisible()

    click(qtbot, page.update_button)
    click(qtbot, page.confirm.yes)
    qtbot.waitUntil(lambda: bool(sent) and not dialog.busy, timeout=CALL_MS)
    assert sent == [
        {
            "domains": [
                {"domain": "example.com", "threshold_days": 14, "registration_expires": None},
                {
                    "domain": "shop.example.org",
                    "threshold_days": None,
                    "registration_expires": "2027-03-01",
                },
                # Its threshold is cleared: a plain string would keep the service's.
                {
                    "domain": "smtp://mx1.example.com",
                    "threshold_days": None,
                    "registration_expires": None,
                },
            ]
        }
    ]


def test_the_same_settings_on_both_sides_match(qtbot: Any, tmp_path: Path) -> None:
    sent: list[dict[str, Any]] = []
    subscription = reported(
        {
            "example.com": {"threshold_days": 14},
            "shop.example.org": {"registration_expires": "2027-03-01"},
        }
    )
    dialog = scripted_dialog(qtbot, tmp_path, subscription, sent)
    page = dialog.manage_page
    assert page.changed_settings() == []
    assert page.difference_label.text() == MATCHES_TEXT
    assert not page.update_button.isVisible()
    # The watchlist changes a threshold while the dialog is open.
    dialog.set_watchlist(
        [WatchlistItem("example.com", "example.com", threshold_days=7), *WATCHLIST[1:]]
    )
    assert page.changed_settings() == ["example.com"]
    assert "1 domain has another threshold or typed date" in page.difference_label.text()
    assert page.update_button.isVisible()


def test_the_code_page_lists_each_target_with_its_group_and_settings(
    qtbot: Any, tmp_path: Path
) -> None:
    store = TokenStore(backend=fail.Keyring(), fallback_path=tmp_path / "token")  # type: ignore[no-untyped-call]
    dialog = RemindersDialog(
        ReminderService(
            token_store=store, client_factory=lambda: BackendClient("http://x.invalid")
        ),
        watchlist=WATCHLIST,
        threshold_days=30,
    )
    qtbot.addWidget(dialog)
    page = dialog.code_page
    assert list_texts(page.domain_list) == [
        "example.com · group Clients · 14 days",
        "shop.example.org · registration expires 2027-03-01 (typed)",
        "smtp://mx1.example.com",
    ]
    page.domain_list.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert page.checked_entries() == [
        DomainSettings("example.com", 14, None),
        "smtp://mx1.example.com",
    ]
    assert page.domain_list.item(0).toolTip() == page.domain_list.item(0).text()
    # A threshold changes while the dialog is open: the new one is offered, and what
    # the user unticked stays unticked.
    dialog.set_watchlist(
        [WatchlistItem("example.com", "example.com", threshold_days=7), *WATCHLIST[1:]]
    )
    assert page.domain_list.item(0).text() == "example.com · 7 days"
    assert page.checked_entries() == [
        DomainSettings("example.com", 7, None),
        "smtp://mx1.example.com",
    ]


# --------------------------------------------------------------------------- end to end


def test_reminders_get_each_targets_own_threshold_typed_date_and_form(
    reminders_app: Any, backend: Backend, file_token_store: TokenStore, qtbot: Any
) -> None:
    app = reminders_app  # watches example.com and shop.example.org
    app.editor.watch([smtp_target()])
    app.editor.set_group([EXAMPLE], "Clients")
    # As the table's menu does: "Set Threshold…", "Set Registration Expiry…".
    app.window.target_threshold_requested.emit([EXAMPLE], 14)
    app.window.registration_expiry_requested.emit([SHOP], parse_manual_expiry(TYPED))

    dialog = open_dialog(app, qtbot)
    assert list_texts(dialog.code_page.domain_list) == [
        "example.com · group Clients · 14 days",
        "shop.example.org · registration expires 2027-03-01 (typed)",
        "smtp://mx1.example.com",
    ]
    request_code(dialog, qtbot)
    backend.inbox.wait_for(1)
    dialog.code_page.code_edit.setText(backend.inbox.code())
    click(qtbot, dialog.code_page.register_button)
    qtbot.waitUntil(
        lambda: dialog.page is Page.MANAGE and dialog.subscription is not None, timeout=CALL_MS
    )

    token = file_token_store.load()
    assert token is not None

    def read_back() -> dict[str, WatchedDomain]:
        with BackendClient(backend.url) as client:
            return {d.domain: d for d in client.get_subscription(token).details}

    details = read_back()
    assert set(details) == {"example.com", "shop.example.org", "smtp://mx1.example.com"}
    assert (details["example.com"].threshold_days, details["example.com"].protocol) == (14, "tls")
    assert details["example.com"].registration_expires is None
    assert details["shop.example.org"].registration_expires == date(2027, 3, 1)
    assert details["shop.example.org"].threshold_days is None
    smtp = details["smtp://mx1.example.com"]
    assert (smtp.protocol, smtp.threshold_days, smtp.registration_expires) == ("smtp", None, None)

    page = dialog.manage_page
    assert any(t.endswith("· 14 days") for t in list_texts(page.watched_list))
    assert any("· SMTP" in t for t in list_texts(page.watched_list))
    assert page.difference_label.text() == MATCHES_TEXT

    # A new threshold in the watchlist is a difference; "update" sends it.
    app.window.target_threshold_requested.emit([EXAMPLE], 7)
    qtbot.waitUntil(lambda: page.update_button.isVisible(), timeout=CALL_MS)
    assert "1 domain has another threshold" in page.difference_label.text()
    click(qtbot, page.update_button)
    click(qtbot, page.confirm.yes)
    qtbot.waitUntil(lambda: "now match" in page.notice.text(), timeout=CALL_MS)
    assert read_back()["example.com"].threshold_days == 7
    assert page.difference_label.text() == MATCHES_TEXT

    # Back to the default threshold and the typed date forgotten: cleared there too.
    app.window.target_threshold_requested.emit([EXAMPLE], None)
    app.window.registration_expiry_requested.emit([SHOP], None)
    qtbot.waitUntil(lambda: len(page.changed_settings()) == 2, timeout=CALL_MS)
    click(qtbot, page.update_button)
    click(qtbot, page.confirm.yes)
    qtbot.waitUntil(lambda: page.difference_label.text() == MATCHES_TEXT, timeout=CALL_MS)
    details = read_back()
    assert details["example.com"].threshold_days is None
    assert details["shop.example.org"].registration_expires is None
