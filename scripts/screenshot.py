"""Screenshots of the real windows, for the README and for checking layouts by eye.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot.py [--out docs] [--only NAME ...]

Writes into ``--out`` (default ``docs/``):

    main-light.png     the main window at 1280x800 (also ``screenshot.png``, the README's)
    main-dark.png      the same in a dark palette (Fusion)
    main-900x600.png   the same at 900x600
    main-services.png  the same, showing one group: an ``imaps://`` service, a domain's
                       MX hosts, a name behind three addresses (selected), a revoked
                       certificate and a registration date typed by hand
    main-2x.png        the same at ``QT_SCALE_FACTOR=2`` (a child process: Qt reads the
                       factor once, at start)
    signup-code.png    Email Reminders on its code page, domains listed
    reminders-manage.png  Email Reminders on its manage page
    preferences.png    Preferences

The main window checks ~35 targets (every status, long problem texts, IDN names,
groups, two rejected input lines, an ``imaps://`` service, a domain's MX hosts from
``mx:``, a name behind three addresses, a revoked certificate and a registration
date typed by hand) through the real worker and engine against the loopback test
world (CA, SNI and STARTTLS servers, DNS and RDAP servers on 127.0.0.x); the name
behind three addresses is selected, so the details list its endpoints. The reminders
dialog is put straight on its pages with an offline backend. Nothing leaves the
machine. Each window is also run through the layout checker of the tests, and what
it finds (overlaps, clipped text) is printed, so a screenshot run doubles as a
layout review.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QSize  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from core.domains import parse_text  # noqa: E402
from core.storage import Watchlist  # noqa: E402
from desktop.app import DomainCheckApp  # noqa: E402
from desktop.intake import expand_mx  # noqa: E402
from desktop.reminders import Page  # noqa: E402
from tests.helpers.endpoint_world import EndpointWorld  # noqa: E402
from tests.helpers.layout import layout_problems  # noqa: E402
from tests.helpers.reminder_pages import staged_dialog  # noqa: E402
from tests.helpers.starttls_servers import StartTlsServers  # noqa: E402
from tests.helpers.themes import dark_palette  # noqa: E402
from tests.helpers.world import LoopbackWorld  # noqa: E402

#: The watchlist: every status the loopback world can produce, IDN names, long
#: names, other ports, four groups and some rows in none.
WATCHLIST_CSV = """\
domain,group
valid.test,Acme Shop
https://expiring.test/shop,Acme Shop
today.test,Acme Shop
expired.test,Acme Shop
checkout.acme-shop.test,Acme Shop
notyet.test,Blog network
selfsigned.test,Blog network
wronghost.test,Blog network
untrusted.test,Blog network
bücher.test,Bücherwelt GmbH
www.wildcard.test,Bücherwelt GmbH
wildcard.test,Bücherwelt GmbH
shortchain.test,Bücherwelt GmbH
münchen.test,Stadtwerke München
пример.test,Stadtwerke München
customer-portal.eu-west-1.staging.long-agency-name.test,Long Agency Name Ltd
api.long-agency-name.test:8443,Long Agency Name Ltd
valid.test:8443,Internal
closed.test,Internal
hang.test,Internal
plain.test,Internal
blackhole.test,Internal
regexpiring.test,
regexpired.test,
unregistered.test,Mail & services
rdapbroken.test,
mail.example.test,
imaps://valid.test,Mail & services
mixed.test,Mail & services
mx:mail.test,Mail & services
crlrevoked.test,Mail & services
"""
#: Typed into the input and rejected (they stay there, marked).
REJECTED_INPUT = "admin@example.test\nshop..example.test\n"
SELECTED = ("mixed.test", 443)
#: A registry that publishes no expiry: the screenshots show a date typed by hand.
TYPED_EXPIRY_HOST = "unregistered.test"
MAIN_SIZE = (1280, 800)
SMALL_SIZE = (900, 600)
#: The reminders dialog is shown at least this size (its minimum is smaller).
DIALOG_SIZE = (560, 520)
CHECK_TIMEOUT_SECONDS = 60
#: ``main-services.png`` shows this group only: the newer kinds of target.
SERVICES_GROUP = "Mail & services"
SHOTS = (
    "main-light",
    "main-services",
    "main-dark",
    "main-900x600",
    "main-2x",
    "signup-code",
    "reminders-manage",
    "preferences",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs")
    parser.add_argument("--only", nargs="+", choices=SHOTS, help="make only these")
    args = parser.parse_args(argv)
    wanted = set(args.only or SHOTS)
    args.out.mkdir(parents=True, exist_ok=True)

    scaled = "main-2x" in wanted and os.environ.get("QT_SCALE_FACTOR") != "2"
    if scaled:
        wanted.discard("main-2x")
    app = QApplication(sys.argv[:1])
    app.setApplicationName("Domain Check")
    app.setStyle("Fusion")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for var in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
            os.environ[var] = str(folder / var.lower())  # never the user's own files
        if wanted:
            Shots(app, folder, args.out).make(wanted)
    if scaled:
        _make_scaled(args.out)
    return 0


def _make_scaled(out: Path) -> None:
    """``main-2x.png`` from a child process started with ``QT_SCALE_FACTOR=2``."""
    env = {**os.environ, "QT_SCALE_FACTOR": "2", "QT_QPA_PLATFORM": "offscreen"}
    subprocess.run(
        [sys.executable, __file__, "--out", str(out), "--only", "main-2x"], env=env, check=True
    )


class Shots:
    """Makes the wanted screenshots in one QApplication (one check of the world)."""

    def __init__(self, app: QApplication, folder: Path, out: Path) -> None:
        self.app = app
        self.folder = folder
        self.out = out

    def make(self, wanted: set[str]) -> None:
        main_shots = wanted & {
            "main-light",
            "main-dark",
            "main-900x600",
            "main-2x",
            "main-services",
        }
        if main_shots or "preferences" in wanted:
            self._main_window(main_shots, preferences="preferences" in wanted)
        if "signup-code" in wanted:
            self._reminders(Page.CODE, "signup-code")
        if "reminders-manage" in wanted:
            self._reminders(Page.MANAGE, "reminders-manage")

    # ------------------------------------------------------------------ main window

    def _main_window(self, shots: set[str], *, preferences: bool) -> None:
        with (
            LoopbackWorld(self.folder / "world") as world,
            StartTlsServers(world.pki) as mail_servers,
        ):
            endpoints = EndpointWorld(world)  # several addresses per name; MX records
            rules = endpoints.serve_mail(mail_servers)  # imaps://: the world's catch-all
            settings = endpoints.settings(timeout_seconds=2)
            settings = dataclasses.replace(settings, connect_to=(*rules, *settings.connect_to))
            watchlist = Watchlist(self.folder / "watchlist.db")
            listed = expand_mx(parse_text(WATCHLIST_CSV), settings)
            assert not listed.errors, listed.errors
            watchlist.add(listed.targets)
            watchlist.set_registration_expiry(
                [(TYPED_EXPIRY_HOST, 443)], datetime.now(UTC) + timedelta(days=290)
            )
            dc = DomainCheckApp(
                settings=settings,
                watchlist=watchlist,
                preferences_path=self.folder / "preferences.json",
                tray_available=False,
                exit_app=lambda: None,
            )
            window = dc.window
            window.resize(*MAIN_SIZE)
            dc.start()
            self._check(dc)
            window.select_key(SELECTED)
            self._settle()
            for name in ("main-light", "main-2x"):
                if name in shots:
                    self._save(window, name)
            if "main-light" in shots:
                self._save(window, "screenshot", review=False)  # the README's picture
            if "main-900x600" in shots:
                window.resize(*SMALL_SIZE)
                self._save(window, "main-900x600")
                window.resize(*MAIN_SIZE)
            if "main-services" in shots:
                window.group_filter.setCurrentText(SERVICES_GROUP)
                window.select_key(SELECTED)
                self._save(window, "main-services")
                window.group_filter.setCurrentIndex(0)
                window.select_key(SELECTED)
            if preferences:
                dialog = dc.open_preferences()
                assert isinstance(dialog, QWidget)
                self._save(dialog, "preferences")
                dialog.close()
            if "main-dark" in shots:
                light = self.app.palette()
                self.app.setPalette(dark_palette())
                self._save(window, "main-dark")
                self.app.setPalette(light)
            dc.quit()
            endpoints.stop()

    def _check(self, dc: DomainCheckApp) -> None:
        """Type the rejected lines and press Check; wait until the run has ended."""
        finished: list[bool] = []
        dc.check_finished.connect(lambda *_: finished.append(True))
        dc.window.input.setPlainText(REJECTED_INPUT)
        dc.check_input(dc.window.input.toPlainText())
        self._wait_until(lambda: bool(finished) and not dc.is_checking, CHECK_TIMEOUT_SECONDS)
        dc.flush_results()

    # ------------------------------------------------------------------ reminders dialog

    def _reminders(self, page: Page, name: str) -> None:
        dialog = staged_dialog(page, self.folder / name, lambda ready: self._wait_until(ready, 10))
        dialog.resize(dialog.size().expandedTo(QSize(*DIALOG_SIZE)))
        self._save(dialog, name)
        dialog.close()

    # ------------------------------------------------------------------ helpers

    def _save(self, widget: QWidget, name: str, *, review: bool = True) -> None:
        self._settle()
        target = self.out / f"{name}.png"
        if not widget.grab().save(str(target)):
            raise SystemExit(f"could not write {target}")
        print(f"saved {target}")
        if review:
            for problem in layout_problems(widget):
                print(f"  layout: {name}: {problem}")

    def _settle(self) -> None:
        for _ in range(3):
            self.app.processEvents()
            time.sleep(0.05)
        self.app.processEvents()

    def _wait_until(self, ready: Callable[[], bool], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            if time.monotonic() > deadline:
                raise SystemExit("timed out waiting for the window")
            self.app.processEvents()
            time.sleep(0.02)


if __name__ == "__main__":
    sys.exit(main())
