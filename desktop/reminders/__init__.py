"""Email reminders from the Domain Check service: sign up with a one-time code, manage.

Flow: email → *Send code* → the 6-digit code from the mail (pasting "123 456" or the
whole mail line works) → which domains (the watchlist, ticked) and how many days
ahead → *Register* → "Reminders go to j***@example.com". With a stored management
token the dialog opens on the manage page: what the backend watches, update it to
match the watchlist (asked first), change the threshold, unsubscribe (asked first).

Where things are:

* :mod:`.dialog` — :class:`RemindersDialog`, a thin switcher between the pages;
* :mod:`.loading_page`, :mod:`.email_page`, :mod:`.code_page`, :mod:`.manage_page` —
  one class per page, each with its own widgets and backend calls;
* :mod:`.session` — what the pages share: the sign-in, the calls in flight (never on
  the GUI thread), the resend and rate-limit waits;
* :mod:`.service` — backend clients and the token store (injected in tests);
* :mod:`.texts` — every message, and how codes and addresses are read;
* :mod:`.watched` — the watchlist's targets as the service takes them, with their
  own threshold and typed registration date;
* :mod:`.widgets` — wrapped labels that size themselves, inline messages, the
  confirm bar.

The email address stays on this machine for display only (the app keeps it in its
preferences); it is sent to nothing but the Domain Check service.
"""

from desktop.reminders.dialog import Page, RemindersDialog
from desktop.reminders.service import ReminderService
from desktop.reminders.session import COUNTDOWN_TICK_MS, ReminderSession
from desktop.reminders.texts import (
    CODE_LENGTH,
    CODE_REJECTED_TEXT,
    MAX_THRESHOLD_DAYS,
    UNAUTHORIZED_TEXT,
    UNREACHABLE_TEXT,
    explain,
    extract_code,
    format_wait,
    looks_like_email,
)
from desktop.reminders.watched import WatchlistItem, WatchlistLike

__all__ = [
    "CODE_LENGTH",
    "CODE_REJECTED_TEXT",
    "COUNTDOWN_TICK_MS",
    "MAX_THRESHOLD_DAYS",
    "UNAUTHORIZED_TEXT",
    "UNREACHABLE_TEXT",
    "Page",
    "ReminderService",
    "ReminderSession",
    "RemindersDialog",
    "WatchlistItem",
    "WatchlistLike",
    "explain",
    "extract_code",
    "format_wait",
    "looks_like_email",
]
