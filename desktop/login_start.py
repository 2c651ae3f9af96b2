"""Start at login: turned on once the first domain is watched, toggled by the user.

A reminder app that does not start at login reminds nobody, so the first watched
domain turns it on (when the user has not decided yet, ``start_at_login`` is
``None``), and the window says so once. The tray's checkable entry and the
Preferences dialog turn it on and off. Writing the entry (a file, a registry value)
happens off the GUI thread; a failure is a message, never a traceback.
"""

from __future__ import annotations

import logging
from typing import Protocol

from PySide6.QtCore import QObject, Signal

from desktop.background import BackgroundCall
from desktop.messages import MessageBridge

log = logging.getLogger(__name__)

TOLD_TEXT = "Domain Check will start at login, in the tray. Turn this off in Preferences."


class AutostartLike(Protocol):
    """The part of :class:`desktop.autostart.Autostart` used here."""

    def set_enabled(self, enabled: bool, *, replace_other: bool = False) -> None: ...


class StartAtLogin(QObject):
    """Keeps the login entry in line with the ``start_at_login`` preference.

    Signals:
        decided(bool): the entry was written (True) or removed (False); save it as
            the preference.
        told(str): it was turned on by itself, once: say so where it stays
            (the window's banner), with a way to turn it off.
    """

    decided = Signal(bool)
    told = Signal(str)

    def __init__(
        self,
        autostart: AutostartLike,
        *,
        wanted: bool | None,
        messages: MessageBridge,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._autostart = autostart
        #: What the preference says (``None``: not decided yet).
        self._wanted = wanted
        self._messages = messages
        self._calls: set[BackgroundCall[None]] = set()
        self._closed = False

    @classmethod
    def create(
        cls,
        autostart: AutostartLike | None,
        *,
        real: bool,
        wanted: bool | None,
        messages: MessageBridge,
        parent: QObject | None = None,
    ) -> StartAtLogin | None:
        """Wired to ``autostart``; without one, to the real login items only if ``real``
        (the app runs with the user's own preferences), else to nothing: tests,
        benchmarks and the self-test never touch the user's login items."""
        if autostart is None and real:
            from desktop.autostart import Autostart

            try:
                autostart = Autostart()
            except (ValueError, OSError) as exc:  # no way to name this install
                log.warning("start at login is not available: %s", exc)
        if autostart is None:
            return None
        return cls(autostart, wanted=wanted, messages=messages, parent=parent)

    @property
    def wanted(self) -> bool | None:
        return self._wanted

    @property
    def busy(self) -> bool:
        """True while an entry is being written or removed."""
        return bool(self._calls)

    def close(self) -> None:
        self._closed = True
        for call in self._calls:
            call.cancel()

    def first_domain_watched(self) -> None:
        """A domain is watched: turn starting at login on, unless the user decided."""
        if self._wanted is None:
            self._set(True, announce=True)

    def set_wanted(self, enabled: bool) -> None:
        """The user's choice (tray entry, Preferences)."""
        if enabled != self._wanted:
            self._set(enabled, announce=False)

    def _set(self, enabled: bool, *, announce: bool) -> None:
        previous, self._wanted = self._wanted, enabled  # no second write meanwhile

        def done(_: None, error: BaseException | None) -> None:
            self._calls.discard(call)
            if self._closed:
                return
            if error is not None:
                log.warning("start at login: %s", error)
                # A failed automatic try counts as "off" (not retried at every start);
                # a failed choice keeps the previous state.
                self._wanted = False if announce else previous
                # Asked for: a dialog; tried on our own: a line in the status bar.
                say = self._messages.info if announce else self._messages.warning
                say(_reason(error, enabled))
                if announce:
                    self.decided.emit(False)
                return
            self.decided.emit(enabled)
            if announce:
                self._messages.info(TOLD_TEXT)
                self.told.emit(TOLD_TEXT)

        call: BackgroundCall[None] = BackgroundCall(
            # Only the user's own choice takes the entry over from another copy of
            # the app; switching on by ourselves never does.
            lambda: self._autostart.set_enabled(enabled, replace_other=not announce),
            done,
            name="domaincheck-autostart",
        )
        self._calls.add(call)


def _reason(error: BaseException, enabled: bool) -> str:
    """The autostart module's own readable message, or a plain one."""
    from desktop.autostart import AutostartError

    if isinstance(error, AutostartError):
        return str(error)
    verb = "turn on" if enabled else "turn off"
    return f"Could not {verb} starting at login: {error}"
