"""``domaincheck-desktop [FILE ...]``: start the app, or hand the files to the running one.

Usage statistics are flushed in the background from the moment quitting starts; the
process waits for that at most ~2 s after the event loop ends, whatever the
statistics host does.

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
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication

import core
from desktop import icons
from desktop.single_instance import InstanceServer, hand_off

log = logging.getLogger("desktop")


class SignalWatcher:
    """Turns SIGINT/SIGTERM into a queued call of ``on_signal`` in the GUI thread."""

    def __init__(self, on_signal: Callable[[], None]) -> None:
        self._on_signal = on_signal
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
        QTimer.singleShot(0, self._on_signal)

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


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="domaincheck-desktop",
        description="Watch TLS certificates and domain registrations before they expire.",
    )
    parser.add_argument("files", nargs="*", type=Path, help="domain lists (.txt, .csv) to add")
    parser.add_argument("--version", action="version", version=f"%(prog)s {core.__version__}")
    return parser.parse_args(argv)


def missing_display_message(env: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """Why Qt could not open a window here, before Qt aborts with its own jargon."""
    if not platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return (
        "Domain Check needs a graphical desktop, and this session has none "
        "(neither DISPLAY nor WAYLAND_DISPLAY is set).\n"
        "On a server, use the command line instead:  domaincheck check -f list.txt\n"
        "or run the window on a virtual screen:       xvfb-run domaincheck-desktop"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    from desktop import selftest  # --version and --self-test need no display

    if (status := selftest.early_exit(argv[1:])) is not None:
        return status
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if QApplication.instance() is None and (problem := missing_display_message(os.environ)):
        sys.stderr.write(problem + "\n")
        return 1
    app = QApplication.instance() or QApplication(argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("Domain Check")
    app.setApplicationDisplayName("Domain Check")
    app.setOrganizationName("DomainCheck")
    app.setApplicationVersion(core.__version__)
    app.setDesktopFileName("domaincheck")
    app.setWindowIcon(icons.app_icon())
    args = parse_args(app.arguments()[1:])
    files = [path.resolve() for path in args.files]

    if hand_off(files):
        log.info("Domain Check is already running; handed over %d file(s)", len(files))
        return 0
    server = InstanceServer()
    server.listen()

    from desktop.app import DomainCheckApp, settle_memory  # after the hand-off: fast

    domain_check = DomainCheckApp()

    def received(paths: list[Path]) -> None:
        domain_check.show_window()
        if paths:
            domain_check.add_files(paths, source="cli")

    server.files_received.connect(received)
    watcher = SignalWatcher(domain_check.quit)
    domain_check.start(files)
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


if __name__ == "__main__":
    sys.exit(main())
