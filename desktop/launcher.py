"""The Qt half of starting the app: one instance, hidden or not, and a clean quit.

:mod:`desktop.__main__` parses the command line without Qt and calls :func:`run`.

A second launch hands its files to the running instance and exits; a normal launch
brings the running window forward, a ``--background`` one (a login while the app
already runs) leaves it hidden. Usage statistics are flushed in the background from
the moment quitting starts; the process waits for that at most ~2 s after the event
loop ends, whatever the statistics host does.

At login the panel that hosts tray icons often starts after the autostarted apps, so
a ``--background`` start waits a little for the tray (:func:`wait_for_tray`) before
deciding there is none; a launch meanwhile is kept and handled once the app exists.

SIGINT and SIGTERM (Ctrl+C, logout, ``kill``) quit exactly like the Quit menu item:
the state is saved, the worker stopped, and the exit status is 0. Python only runs
its signal handlers when Python code runs, so the signal's wake-up byte is written
to a socket the Qt event loop watches (``signal.set_wakeup_fd`` + ``QSocketNotifier``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEventLoop, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

import core
from desktop import icons
from desktop.single_instance import InstanceServer, hand_off

if TYPE_CHECKING:
    from desktop.app import DomainCheckApp

log = logging.getLogger("desktop")

#: A ``--background`` start (at login) waits this long for the tray to appear.
DEFAULT_TRAY_WAIT_SECONDS = 10.0
TRAY_WAIT_ENV = "DOMAINCHECK_TRAY_WAIT_SECONDS"
TRAY_POLL_MS = 500


class SignalWatcher:
    """Turns SIGINT/SIGTERM into a queued call of ``on_signal`` in the GUI thread."""

    def __init__(self, on_signal: Callable[[], None]) -> None:
        #: Called (queued, in the GUI thread) on SIGINT/SIGTERM; may be replaced.
        self.on_signal = on_signal
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._write.fileno())
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read)
        self._notifier.activated.connect(self._drain)
        self._previous = {
            sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)
        }

    def _handle(self, signum: int, frame: object) -> None:
        log.info("received %s, quitting", signal.Signals(signum).name)
        QTimer.singleShot(0, lambda: self.on_signal())

    def _drain(self) -> None:
        try:
            while self._read.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def close(self) -> None:
        self._notifier.setEnabled(False)
        signal.set_wakeup_fd(self._previous_fd)
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._read.close()
        self._write.close()


def has_application() -> bool:
    """A QApplication exists already (the startup probe, or a test, made it)."""
    return QApplication.instance() is not None


def application(argv: Sequence[str]) -> QApplication:
    """The process's QApplication, named so the desktop shows the right name and icon."""
    app = QApplication.instance() or QApplication(list(argv))
    assert isinstance(app, QApplication)
    app.setApplicationName("Domain Check")
    app.setApplicationDisplayName("Domain Check")
    app.setOrganizationName("DomainCheck")
    app.setApplicationVersion(core.__version__)
    app.setDesktopFileName("domaincheck")
    app.setWindowIcon(icons.app_icon())
    return app


def accept_launches(
    server: InstanceServer, domain_check: DomainCheckApp
) -> Callable[[list[Path], bool], None]:
    """Later launches: show the window (unless ``--background``) and add their files.

    Returns the handler, for launches that arrived before the app existed.
    """

    def launched(paths: list[Path], show: bool) -> None:
        if show:
            domain_check.show_window()
        if paths:
            domain_check.add_files(paths, source="cli")

    server.launched.connect(launched)
    return launched


def tray_wait_ms(env: Mapping[str, str] | None = None) -> int:
    """How long a ``--background`` start waits for the system tray to appear."""
    env = os.environ if env is None else env
    try:
        seconds = float(env.get(TRAY_WAIT_ENV, "") or DEFAULT_TRAY_WAIT_SECONDS)
    except ValueError:
        seconds = DEFAULT_TRAY_WAIT_SECONDS
    return max(0, int(seconds * 1000))


Launch = tuple[list[Path], bool]


def wait_for_tray(
    server: InstanceServer,
    *,
    timeout_ms: int,
    poll_ms: int = TRAY_POLL_MS,
    available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
    watcher: SignalWatcher | None = None,
) -> tuple[list[Launch], bool]:
    """Run the event loop until the tray is there, ``timeout_ms`` passed, a launch asks
    for the window, or SIGTERM/SIGINT came; the launches received meanwhile and
    whether to go on (False: a signal asked to quit).

    At login, autostarted apps often start before the panel that hosts tray icons;
    without this, the app would decide "no tray" and stay invisible all session.
    """
    launches: list[Launch] = []
    go_on = True
    if available() or timeout_ms <= 0:
        return launches, go_on
    loop = QEventLoop()

    def check() -> None:
        if available():
            loop.quit()

    def launched(paths: list[Path], show: bool) -> None:
        launches.append((paths, show))
        if show:
            loop.quit()

    def stop() -> None:
        nonlocal go_on
        go_on = False
        loop.quit()

    poll = QTimer(interval=poll_ms)
    poll.timeout.connect(check)
    deadline = QTimer(singleShot=True, interval=timeout_ms)
    deadline.timeout.connect(loop.quit)
    server.launched.connect(launched)
    if watcher is not None:
        watcher.on_signal = stop
    log.info("waiting up to %d ms for the system tray", timeout_ms)
    poll.start()
    deadline.start()
    loop.exec()
    poll.stop()
    deadline.stop()
    server.launched.disconnect(launched)
    return launches, go_on


def run(argv: Sequence[str], parse: Callable[[Sequence[str]], argparse.Namespace]) -> int:
    """Start (or hand over to the running instance) and run until quit; the exit status."""
    app = application(argv)
    args = parse(app.arguments()[1:])
    files = [path.resolve() for path in args.files]
    background: bool = args.background

    if hand_off(files, show=not background):
        if not background:  # at login while running: nothing to say
            log.info("Domain Check is already running; handed over %d file(s)", len(files))
        return 0
    server = InstanceServer()
    server.listen()
    watcher = SignalWatcher(lambda: None)
    launches: list[Launch] = []
    if background:
        launches, go_on = wait_for_tray(server, timeout_ms=tray_wait_ms(), watcher=watcher)
        if not go_on:
            watcher.close()
            server.close()
            return 0

    from desktop.app import DomainCheckApp, settle_memory  # after the hand-off: fast
    from desktop.memory import GarbageCollector

    collector = GarbageCollector(app)  # before any thread starts: see desktop/memory.py
    collector.start()
    domain_check = DomainCheckApp()
    handle = accept_launches(server, domain_check)
    watcher.on_signal = domain_check.quit
    domain_check.start(files, hidden=background)
    for paths, show in launches:  # launched again while waiting for the tray
        handle(paths, show)
    QTimer.singleShot(0, settle_memory)  # once the window is up
    try:
        app.exec()
    finally:
        watcher.close()
        server.close()
        domain_check.quit()  # no-op after a normal quit; saves state otherwise
        # The flush started when quitting; wait for it at most the ~2 s hard cap.
        domain_check.analytics.wait_for_shutdown()
    return 0
