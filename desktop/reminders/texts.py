"""What the reminders dialog says, and how it reads what people type or paste.

Plain functions, no widgets: every failure of the Domain Check service becomes one
sentence that says what went wrong and what to do next (:func:`explain`), shown
inline on the page where it happened.
"""

from __future__ import annotations

import re

from core.api import (
    BackendUnreachable,
    CodeRejected,
    InvalidDomains,
    InvalidInput,
    NotRegistered,
    RateLimited,
    ServerError,
    Unauthorized,
)
from core.secrets import TokenStorageError

#: The backend's limits (``backend/schemas.py``).
MAX_THRESHOLD_DAYS = 365
CODE_LENGTH = 6

UNREACHABLE_TEXT = "Can't reach the Domain Check service; check your connection and try again."
CODE_REJECTED_TEXT = "That code is wrong or has expired; request a new one."
UNAUTHORIZED_TEXT = (
    "Your sign-in for these reminders is no longer valid. Enter your email address "
    "and the code we send to manage them again."
)
#: Shown when a rate-limit wait is over.
TRY_AGAIN_NOW_TEXT = "You can try again now."

_CODE_RE = re.compile(r"(?<!\d)(\d{3})[\s\-–]?(\d{3})(?!\d)")
_EMAIL_RE = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
#: How many invalid entries one message names.
_MAX_LISTED_ENTRIES = 10


def extract_code(text: str) -> str | None:
    """The 6-digit code in ``text``: ``123456``, ``123 456``, or a whole line of the mail."""
    match = _CODE_RE.search(text)
    return match.group(1) + match.group(2) if match else None


def looks_like_email(text: str) -> bool:
    return bool(_EMAIL_RE.fullmatch(text.strip()))


def format_wait(seconds: int) -> str:
    """``42 s`` or ``12:05`` (minutes:seconds)."""
    seconds = max(0, seconds)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60}:{seconds % 60:02d}"


def too_many_requests(wait_seconds: int) -> str:
    return "Too many requests. " + (
        f"Try again in {format_wait(wait_seconds)}."
        if wait_seconds
        else "Try again in a few minutes."
    )


def explain(exc: BaseException) -> str:
    """What went wrong and what to do next, for the inline message."""
    if isinstance(exc, BackendUnreachable):
        return UNREACHABLE_TEXT
    if isinstance(exc, CodeRejected):
        return CODE_REJECTED_TEXT
    if isinstance(exc, RateLimited):
        return too_many_requests(exc.retry_after_seconds or 0)
    if isinstance(exc, InvalidDomains):
        shown = exc.entries[:_MAX_LISTED_ENTRIES]
        listed = "; ".join(f"{e.text} ({e.error})" for e in shown)
        hidden = len(exc.entries) - len(shown)
        more = f" and {hidden} more" if hidden > 0 else ""
        return f"These entries can't be watched: {listed}{more}. Untick them and try again."
    if isinstance(exc, InvalidInput):
        return f"The service refused that: {exc}. Check what you entered and try again."
    if isinstance(exc, NotRegistered):
        return "No reminders are registered for this address. Sign up below."
    if isinstance(exc, Unauthorized):
        return UNAUTHORIZED_TEXT
    if isinstance(exc, ServerError):
        return (
            "The Domain Check service had a problem and could not do that. "
            "Try again in a few minutes."
        )
    if isinstance(exc, TokenStorageError):
        return f"Your sign-in could not be saved or read on this computer: {exc}"
    return f"Something went wrong ({type(exc).__name__}). Try again."


def escape(text: str) -> str:
    """``text`` safe inside a rich-text label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
