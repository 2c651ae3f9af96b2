"""Where the backend's management token is kept: the system keyring, or a private file.

The token lets whoever holds it read and change the reminder subscription, so it
goes to the OS keyring (service ``"Domain Check"``) when one works. Headless Linux
has none (``keyring`` raises ``NoKeyringError``; a locked or broken one raises
other ``KeyringError``\\ s): then the token goes to a file only the user can read
(``0600``) in the per-user data folder, and :attr:`TokenStore.location` says so, for
the UI to tell the user.

    store = TokenStore()
    store.save(token)           # -> StorageKind.KEYRING or StorageKind.FILE
    store.load()                # -> str | None
    store.delete()
    store.location.describe()   # "the system keyring (SecretService Keyring)"

Tests pass ``backend=`` (an in-memory or failing ``keyring`` backend) and
``fallback_path=``: the real keyring is never touched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core import paths
from core._files import PRIVATE_FILE_MODE, atomic_write_text
from core.errors import DomainCheckError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

SERVICE = "Domain Check"
TOKEN_ACCOUNT = "management-token"
FALLBACK_FILE_NAME = "management-token"


class TokenStorageError(DomainCheckError):
    """The token could not be saved, read or removed anywhere."""


class StorageKind(enum.Enum):
    """Where the token lives."""

    #: The OS keyring (Keychain, Windows Credential Locker, Secret Service, KWallet).
    KEYRING = enum.auto()
    #: A ``0600`` file in the per-user data folder (no working keyring).
    FILE = enum.auto()


@dataclasses.dataclass(frozen=True, slots=True)
class StorageLocation:
    kind: StorageKind
    #: The keyring backend's name, or the file's path.
    detail: str

    def describe(self) -> str:
        """A sentence fragment for the UI."""
        if self.kind is StorageKind.KEYRING:
            return f"the system keyring ({self.detail})"
        return f"a file only you can read ({self.detail}), because no system keyring works"


class TokenStore:
    """Save, load and delete one secret (the management token); thread-safe."""

    def __init__(
        self,
        *,
        service: str = SERVICE,
        account: str = TOKEN_ACCOUNT,
        backend: KeyringBackend | None = None,
        fallback_path: Path | None = None,
    ) -> None:
        self.service = service
        self.account = account
        self._backend = backend
        self.fallback_path = fallback_path or paths.data_dir() / FALLBACK_FILE_NAME
        self._keyring_failed = False
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- keyring

    def _keyring(self) -> KeyringBackend | None:
        """The keyring backend to use, or ``None`` when there is no usable one."""
        if self._keyring_failed:
            return None
        if self._backend is not None:
            backend = self._backend
        else:
            try:
                import keyring
            except ImportError:
                return None
            try:
                backend = keyring.get_keyring()
            except Exception:
                log.debug("no keyring backend", exc_info=True)
                return None
        from keyring.backends import fail, null

        if isinstance(backend, fail.Keyring | null.Keyring):
            return None  # fail raises NoKeyringError; null silently forgets
        return backend

    def _keyring_call(self, action: str, call: Callable[[], object]) -> bool:
        """Run a keyring operation; False (and file mode from now on) if it failed."""
        from keyring.errors import KeyringError

        try:
            call()
        except KeyringError as exc:  # NoKeyringError, KeyringLocked, InitError, ...
            log.info("keyring %s failed (%s); using the fallback file", action, type(exc).__name__)
            self._keyring_failed = True
            return False
        return True

    @property
    def location(self) -> StorageLocation:
        """Where :meth:`save` would put the token now."""
        backend = self._keyring()
        if backend is not None:
            return StorageLocation(StorageKind.KEYRING, _backend_name(backend))
        return StorageLocation(StorageKind.FILE, str(self.fallback_path))

    # ----------------------------------------------------------------- API

    def save(self, token: str) -> StorageKind:
        """Store ``token`` (replacing any previous one); returns where it went."""
        if not token:
            raise ValueError("empty token")
        with self._lock:
            backend = self._keyring()
            if backend is not None and self._keyring_call(
                "save", lambda: backend.set_password(self.service, self.account, token)
            ):
                self._remove_file()  # a token saved while the keyring was down
                return StorageKind.KEYRING
            try:
                atomic_write_text(self.fallback_path, token, mode=PRIVATE_FILE_MODE)
            except OSError as exc:
                raise TokenStorageError(
                    f"could not save the reminder token to {self.fallback_path}: {exc.strerror}"
                ) from exc
            return StorageKind.FILE

    def load(self) -> str | None:
        """The stored token, or ``None`` when there is none."""
        with self._lock:
            backend = self._keyring()
            found: list[str | None] = [None]
            if backend is not None:

                def get() -> None:
                    found[0] = backend.get_password(self.service, self.account)

                if self._keyring_call("read", get) and found[0]:
                    return found[0]
            return self._read_file()

    def delete(self) -> None:
        """Forget the token everywhere (no error if there was none)."""
        with self._lock:
            backend = self._keyring()
            if backend is not None:
                from keyring.errors import PasswordDeleteError

                def remove() -> None:
                    with contextlib.suppress(PasswordDeleteError):  # there was none
                        backend.delete_password(self.service, self.account)

                self._keyring_call("delete", remove)
            self._remove_file()

    # ----------------------------------------------------------------- file

    def _read_file(self) -> str | None:
        path = self.fallback_path
        try:
            info = path.stat()
            if stat.S_IMODE(info.st_mode) & 0o077:
                # Someone widened it: narrow it again rather than refuse the user.
                os.chmod(path, PRIVATE_FILE_MODE)
            token = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenStorageError(f"could not read the reminder token from {path}") from exc
        return token or None

    def _remove_file(self) -> None:
        try:
            self.fallback_path.unlink(missing_ok=True)
        except OSError as exc:
            raise TokenStorageError(
                f"could not remove the reminder token file {self.fallback_path}"
            ) from exc


def _backend_name(backend: KeyringBackend) -> str:
    name = getattr(backend, "name", None)
    return name if isinstance(name, str) and name else type(backend).__name__
