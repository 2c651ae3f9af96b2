"""The Email Reminders dialog put on each of its pages, with realistic content, offline.

Layout tests and ``scripts/screenshot.py`` need every page as a user sees it (a code
on its way, thirty domains with IDN names, a subscription with a confirm bar open,
a failed lookup) without a backend. The dialog gets a token store in a temporary
folder (no keyring) and a backend client whose transport fails every request at
once (``httpx.MockTransport``): nothing leaves the machine, and the loading page's
failure is the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from keyring.backends import fail

from core.api import BackendClient, CodeSent, Subscription, WatchedDomain
from core.secrets import StorageKind, StorageLocation, TokenStore
from desktop.reminders import Page, RemindersDialog, ReminderService, WatchlistItem

EMAIL = "jane.doe@example.org"
#: What the dialog offers to watch: long names, IDN names, ports, services, groups,
#: own thresholds and typed dates, ~30 of them.
WATCHLIST: list[WatchlistItem] = [
    WatchlistItem("example.com", "example.com", group="Acme", threshold_days=14),
    WatchlistItem("shop.example.org", "shop.example.org", registration_expires=date(2027, 3, 1)),
    WatchlistItem("xn--bcher-kva.de", "bücher.de", group="Bücher GmbH"),
    WatchlistItem("api.example.net:8443", "api.example.net:8443"),
    WatchlistItem(
        "smtp://mx1.example.com",
        "smtp://mx1.example.com",
        serves="example.com",
        threshold_days=21,
    ),
    WatchlistItem("imaps://mail.example.com", "imaps://mail.example.com", group="Acme"),
    WatchlistItem("xn--mnchen-3ya.example", "münchen.example"),
    WatchlistItem(
        "customer-portal.eu-west-1.staging.long-agency-name.example",
        "customer-portal.eu-west-1.staging.long-agency-name.example",
        group="Long Agency Name International",
        threshold_days=45,
        registration_expires=date(2026, 12, 31),
    ),
    *[
        WatchlistItem(f"client{n:02d}.example.com", f"client{n:02d}.example.com")
        for n in range(1, 23)
    ],
]
#: Where the manage page says the sign-in is kept (as on a typical Linux desktop).
TOKEN_FILE_SHOWN = "/home/jane/.local/share/domaincheck/management-token"
#: How long the staged calls may take (they fail at once; this is a generous bound).
STAGE_TIMEOUT_MS = 10_000


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("no network in this test", request=request)


def offline_service(folder: Path, *, token: str | None = None) -> ReminderService:
    """A service whose every backend call fails as "can't reach", tokens kept in ``folder``."""
    store = TokenStore(backend=fail.Keyring(), fallback_path=folder / "token")  # type: ignore[no-untyped-call]
    if token is not None:
        store.save(token)

    def client() -> BackendClient:
        return BackendClient(
            "http://backend.invalid", transport=httpx.MockTransport(_refuse), sleep=lambda _s: None
        )

    return ReminderService(token_store=store, client_factory=client)


def subscription(count: int = 12) -> Subscription:
    statuses = [("valid", 88), ("expiring", 9), ("expired", None), (None, None)]
    details = tuple(
        WatchedDomain(
            domain=item.domain,
            display=item.display.partition("://")[2] or item.display,
            last_status=statuses[i % len(statuses)][0],
            last_days_left=statuses[i % len(statuses)][1],
            last_checked_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
            protocol=item.domain.partition("://")[0] if "://" in item.domain else "tls",
            # The service still has an older threshold for the first one.
            threshold_days=21 if i == 0 else item.threshold_days,
            registration_expires=item.registration_expires,
        )
        for i, item in enumerate(WATCHLIST[:count])
    )
    return Subscription(
        email="j***@example.org",
        domains=tuple(d.domain for d in details),
        threshold_days=30,
        details=details,
    )


def staged_dialog(
    page: Page,
    folder: Path,
    wait_until: Callable[[Callable[[], bool]], None],
    *,
    parent: Any = None,
) -> RemindersDialog:
    """A shown dialog on ``page``, filled as after real use; ``wait_until(predicate)``
    runs the event loop until ``predicate()`` holds (``qtbot.waitUntil`` in tests)."""
    token = "staged-token" if page in (Page.LOADING, Page.MANAGE) else None
    dialog = RemindersDialog(
        offline_service(folder, token=token),
        watchlist=WATCHLIST,
        threshold_days=30,
        email=EMAIL,
        parent=parent,
    )
    dialog.show()
    # The stored sign-in is looked up for real; with a token the subscription then
    # fails to load (no network), which is the loading page's error state.
    wait_until(
        lambda: (not dialog.busy and dialog.page is not Page.LOADING) or _retry_shown(dialog)
    )
    if page is Page.EMAIL:
        dialog.email_page.notice.show_text(
            "Too many requests. Try again in 12:05. If this keeps happening, check that "
            "no other program on this computer is asking for codes.",
            "error",
        )
    elif page is Page.CODE:
        dialog.session.email = EMAIL
        dialog.code_page.show_sent(
            CodeSent(status="already_sent", expires_in_seconds=600, resend_after_seconds=42)
        )
        dialog.show_page(Page.CODE)
        dialog.code_page.code_edit.setText("123456")
    elif page is Page.MANAGE:
        session = dialog.session
        session.token = token
        session.storage = StorageLocation(StorageKind.FILE, TOKEN_FILE_SHOWN)
        dialog.manage_page.set_watchlist(WATCHLIST)
        dialog.manage_page.show_subscription(subscription())
        dialog.show_page(Page.MANAGE)
        dialog.manage_page.ask_update()
        dialog.manage_page.notice.show_text("You'll get an email 30 days ahead.", "success")
    assert dialog.page is page, dialog.page
    return dialog


def _retry_shown(dialog: RemindersDialog) -> bool:
    return not dialog.busy and dialog.loading_page.retry_button.isVisibleTo(dialog)
