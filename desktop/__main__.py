"""``domaincheck-desktop [--background] [FILE ...]``: start, or hand over to the running app.

This module reads the command line and nothing else, without importing Qt: ``--help``
and ``--version`` must answer on a server with no display (and quickly). Everything
that needs Qt (the QApplication, the single-instance hand-off, signals, the event
loop) lives in :mod:`desktop.launcher` and is imported only once a window may be
needed.

``--background`` is what the start-at-login entry (:mod:`desktop.autostart`) runs:
the app starts hidden in the tray, or with nothing visible where there is no tray
(it still checks and stores results), and a later normal launch shows its window.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import core
from desktop.autostart import BACKGROUND_FLAG


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="domaincheck-desktop",
        description="Watch TLS certificates and domain registrations before they expire.",
    )
    parser.add_argument("files", nargs="*", type=Path, help="domain lists (.txt, .csv) to add")
    parser.add_argument(
        BACKGROUND_FLAG,
        action="store_true",
        help="start hidden in the system tray (as at login); a running copy stays hidden",
    )
    parser.add_argument("--version", action="version", version=f"Domain Check {core.__version__}")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The arguments, once Qt has taken its own (``-platform``, ``-style``) out."""
    return build_parser().parse_args(argv)


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
    # --help exits here, before Qt; options Qt knows (-platform ...) are left for it.
    build_parser().parse_known_args(argv[1:])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from desktop import launcher

    if not launcher.has_application() and (problem := missing_display_message(os.environ)):
        sys.stderr.write(problem + "\n")
        return 1
    return launcher.run(argv, parse_args)


if __name__ == "__main__":
    sys.exit(main())
