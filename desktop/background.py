"""Blocking calls (the backend API, the keyring) off the GUI thread, answers back on it.

Each call runs on a daemon thread of its own (a hanging backend can never hold up
the process exit, which a ``QThreadPool`` would: it joins its threads on exit) and
its outcome comes back through a queued signal of a small relay object that lives
in the GUI thread. :meth:`BackgroundCall.cancel` makes a late answer go nowhere, so
a dialog closed mid-call is never touched again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Relay(QObject):
    """Lives in the GUI thread; its signal is emitted from the worker (so: queued).

    Signals:
        finished(object, object): the result, or ``None``; the exception, or ``None``.
    """

    finished = Signal(object, object)


class BackgroundCall(Generic[T]):
    """One call of ``function`` on a daemon thread; ``on_done(result, error)`` in the GUI."""

    def __init__(
        self,
        function: Callable[[], T],
        on_done: Callable[[T | None, BaseException | None], None],
        name: str = "background-call",
    ) -> None:
        self._function = function
        self._on_done = on_done
        self._cancelled = False
        self.done = False
        self._relay = _Relay()  # no parent: kept alive by this object and the thread
        self._relay.finished.connect(self._deliver)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Drop the answer when it comes (the call itself runs on to its time-out)."""
        self._cancelled = True

    @property
    def running(self) -> bool:
        return not self.done and not self._cancelled

    def _run(self) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = self._function()
        except Exception as exc:  # handed to the GUI, which says what went wrong
            error = exc
        relay = self._relay
        with contextlib.suppress(RuntimeError):  # the application is gone
            relay.finished.emit(result, error)

    def _deliver(self, result: T | None, error: BaseException | None) -> None:
        self.done = True
        if self._cancelled:
            return
        self._on_done(result, error)
