"""The anonymous analytics ID: one random UUID per installation, shared by all front ends.

It is created on first use in the per-user config folder and never derived from
anything about the machine or the person (no hardware IDs, user names or email
addresses), so it identifies an installation and nothing else. "Reset analytics
ID" replaces it with a fresh random one, which cuts the link to past events.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path

from core import paths
from core._files import atomic_write_text

log = logging.getLogger(__name__)

ID_FILE_NAME = "analytics-id"
_RACE_RETRIES = 20
_RACE_RETRY_SECONDS = 0.01


def id_path() -> Path:
    return paths.config_dir() / ID_FILE_NAME


def _parse(text: str) -> str | None:
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


def peek() -> str | None:
    """The stored ID, or ``None`` if there is none (never creates one)."""
    try:
        return _parse(id_path().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


def load_or_create() -> str:
    """The stored ID, creating it on first use.

    Two processes starting together (the desktop and a cron'd CLI) agree on one ID:
    the first creates the file with ``O_EXCL`` and the other reads it. If the folder
    cannot be written, a random ID is used for this run only.
    """
    existing = peek()
    if existing is not None:
        return existing
    path = id_path()
    new_id = str(uuid.uuid4())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():  # unreadable or corrupt: replace it
            atomic_write_text(path, new_id + "\n", mode=0o600)
            return new_id
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(new_id + "\n")
        return new_id
    except FileExistsError:  # the other process is writing it right now
        for _ in range(_RACE_RETRIES):
            if (theirs := peek()) is not None:
                return theirs
            time.sleep(_RACE_RETRY_SECONDS)
        return new_id
    except OSError:
        log.debug("analytics ID not saved; using a temporary one", exc_info=True)
        return new_id


def reset() -> str:
    """Replace the ID with a fresh random one and return it."""
    new_id = str(uuid.uuid4())
    try:
        atomic_write_text(id_path(), new_id + "\n", mode=0o600)
    except OSError:
        log.debug("new analytics ID not saved", exc_info=True)
    return new_id
