"""The management token: in the keyring when one works, else in a 0600 file (and saying so).

The real keyring is never touched: every test injects a backend or replaces
``keyring.get_keyring``.
"""

from __future__ import annotations

import stat
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyring.errors import KeyringLocked, PasswordDeleteError

from core import paths
from core.secrets import SERVICE, StorageKind, TokenStorageError, TokenStore

TOKEN = "tok_" + "A" * 43


class MemoryKeyring(KeyringBackend):
    """A working keyring that keeps everything in a dict.

    No ``priority``: keyring then deems it not viable, so defining it here never makes
    ``keyring.get_keyring()`` pick it for the rest of the test session.
    """

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


class LockedKeyring(MemoryKeyring):
    """A keyring that exists but refuses (e.g. the user dismissed the unlock prompt)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("locked")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_working_keyring_holds_the_token(tmp_path: Path) -> None:
    ring = MemoryKeyring()
    store = TokenStore(backend=ring, fallback_path=tmp_path / "token")
    assert store.location.kind is StorageKind.KEYRING
    assert "system keyring" in store.location.describe()
    assert store.load() is None
    assert store.save(TOKEN) is StorageKind.KEYRING
    assert ring.items == {(SERVICE, "management-token"): TOKEN}
    assert not (tmp_path / "token").exists()
    assert store.load() == TOKEN
    store.delete()
    assert store.load() is None and ring.items == {}
    store.delete()  # nothing there: still fine


def test_without_a_keyring_the_token_goes_to_a_private_file(tmp_path: Path) -> None:
    fallback = tmp_path / "data" / "token"
    store = TokenStore(backend=fail.Keyring(), fallback_path=fallback)
    location = store.location
    assert location.kind is StorageKind.FILE and str(fallback) in location.describe()
    assert "no system keyring" in location.describe()
    assert store.save(TOKEN) is StorageKind.FILE
    assert fallback.read_text() == TOKEN
    assert _mode(fallback) == 0o600
    assert store.load() == TOKEN
    store.delete()
    assert not fallback.exists() and store.load() is None


def test_the_default_fallback_is_in_the_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Headless Linux: ``keyring`` picks its fail backend (``NoKeyringError`` on use)."""
    monkeypatch.setattr(keyring, "get_keyring", fail.Keyring)
    store = TokenStore()
    assert store.save(TOKEN) is StorageKind.FILE
    assert store.fallback_path.parent == paths.data_dir()
    assert _mode(store.fallback_path) == 0o600
    assert TokenStore().load() == TOKEN


def test_the_null_keyring_is_not_trusted(tmp_path: Path) -> None:
    """keyring's null backend accepts a password and forgets it: that is no storage."""
    store = TokenStore(backend=null.Keyring(), fallback_path=tmp_path / "token")
    assert store.save(TOKEN) is StorageKind.FILE
    assert store.load() == TOKEN


def test_a_locked_keyring_falls_back_to_the_file(tmp_path: Path) -> None:
    store = TokenStore(backend=LockedKeyring(), fallback_path=tmp_path / "token")
    assert store.location.kind is StorageKind.KEYRING  # it looks usable...
    assert store.save(TOKEN) is StorageKind.FILE  # ...until it refuses
    assert store.location.kind is StorageKind.FILE  # and the UI can say so
    assert store.load() == TOKEN


def test_a_token_saved_while_the_keyring_was_down_moves_into_it(tmp_path: Path) -> None:
    fallback = tmp_path / "token"
    TokenStore(backend=fail.Keyring(), fallback_path=fallback).save(TOKEN)
    ring = MemoryKeyring()
    store = TokenStore(backend=ring, fallback_path=fallback)
    assert store.load() == TOKEN  # found in the file
    assert store.save(TOKEN + "2") is StorageKind.KEYRING
    assert not fallback.exists()
    assert store.load() == TOKEN + "2"


def test_a_widened_file_is_narrowed_again(tmp_path: Path) -> None:
    fallback = tmp_path / "token"
    store = TokenStore(backend=fail.Keyring(), fallback_path=fallback)
    store.save(TOKEN)
    fallback.chmod(0o644)
    assert store.load() == TOKEN
    assert _mode(fallback) == 0o600


def test_a_file_that_cannot_be_written_is_a_domaincheck_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    store = TokenStore(backend=fail.Keyring(), fallback_path=blocker / "token")
    with pytest.raises(TokenStorageError, match="could not save"):
        store.save(TOKEN)
    with pytest.raises(ValueError):
        store.save("")
