"""Cache folders are private: WHOIS answers and hashed names list what a user watches."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from core import paths
from core.cache_files import write_cache_file

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_cache_folders_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = paths.cache_dir()
    old_umask = os.umask(0o022)
    try:
        write_cache_file(root / "whois" / "entry.json", b"{}")
    finally:
        os.umask(old_umask)
    assert (root / "whois" / "entry.json").read_bytes() == b"{}"
    assert _mode(root / "whois") == 0o700
    assert _mode(root) == 0o700
    assert _mode(root / "whois" / "entry.json") == 0o600


def test_existing_open_cache_folders_are_tightened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = paths.cache_dir()
    (root / "whois").mkdir(parents=True)
    os.chmod(root, 0o755)
    os.chmod(root / "whois", 0o755)
    write_cache_file(root / "whois" / "entry.json", b"{}")
    assert _mode(root / "whois") == 0o700
    assert _mode(root) == 0o700


def test_a_cache_folder_given_by_the_caller_is_private_too(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    write_cache_file(tmp_path / "cache" / "crl" / "a.crl", b"x")
    assert _mode(tmp_path / "cache" / "crl") == 0o700
    assert _mode(tmp_path / "cache") == 0o700
    assert _mode(tmp_path) == 0o755  # a folder that existed and is not ours: left alone
