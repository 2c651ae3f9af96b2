"""Disk cache files: registration answers (RDAP, WHOIS), ARI answers, CRLs.

A cache that cannot be read or written is no error: the answer is simply fetched
again. Writes go through a temporary file and ``os.replace``, so a second process
(the desktop and a cron job) never reads half a file.

The folders are private (0700, files 0600 from ``mkstemp``): a WHOIS answer names
the domain, and even hashed file names list what a user watches. Folders made
before this rule are tightened on the next write.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from core import paths
from core._files import PRIVATE_DIR_MODE

__all__ = [
    "cache_path",
    "make_private_folder",
    "read_cache_bytes",
    "read_cache_json",
    "write_cache_file",
]

log = logging.getLogger(__name__)


def cache_path(directory: Path, key: str) -> Path:
    """The JSON file of ``key`` (a domain, a URL) in ``directory``.

    Named by a hash (the key is stored inside the file): this keeps names such as
    ``con.com`` away from Windows' reserved device names, and URLs out of names.
    """
    return directory / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def write_cache_file(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``; failures are logged, never raised."""
    temporary: str | None = None
    try:
        make_private_folder(path.parent)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
        temporary = None
    except OSError as exc:
        log.debug("cannot write cache file %s: %s", path, exc)
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` (and missing parents) as 0700; tighten it if it exists, and
    the app's cache root above it too. Raises ``OSError``."""
    missing: list[Path] = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for level in reversed(missing):
        level.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    if os.name != "posix":
        return
    root = paths.cache_dir()
    tighten = [folder] + [level for level in missing if level != folder]
    if root != folder and folder.is_relative_to(root):
        tighten.append(root)
    for level in tighten:
        if level.stat().st_mode & 0o777 != PRIVATE_DIR_MODE:
            os.chmod(level, PRIVATE_DIR_MODE)


def read_cache_bytes(path: Path) -> bytes | None:
    """The file's bytes, or ``None`` when it is missing or unreadable."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def read_cache_json(path: Path) -> Any:
    """The file's JSON value, or ``None`` when missing, unreadable or not JSON."""
    data = read_cache_bytes(path)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None
