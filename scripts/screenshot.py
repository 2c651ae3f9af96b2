"""Save a screenshot of the real Domain Check window checking the loopback world.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot.py [docs/screenshot.png]

Builds the test world (CA, SNI TLS server, RDAP server on 127.0.0.1), opens the real
main window with a fresh watchlist, types a list with two bad lines, runs the check
through the real worker and engine, selects a row and grabs the window. Nothing
leaves the machine. The README's picture comes from it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from core.storage import Watchlist
from desktop.app import DomainCheckApp
from tests.helpers.world import LoopbackWorld

LIST = """\
valid.test
https://expiring.test/shop
today.test
expired.test
notyet.test
selfsigned.test
wronghost.test
bücher.test
www.wildcard.test
shortchain.test
regexpiring.test
unregistered.test
closed.test
hang.test
admin@example.test
shop..example.test
"""
TIMEOUT_MS = 30_000


def main() -> int:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png")
    app = QApplication(sys.argv[:1])
    app.setApplicationName("Domain Check")
    with tempfile.TemporaryDirectory() as tmp, LoopbackWorld(Path(tmp) / "world") as world:
        folder = Path(tmp)
        for var in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
            os.environ[var] = str(folder / var.lower())  # never the user's own cache
        dc = DomainCheckApp(
            settings=world.settings(timeout_seconds=2),
            watchlist=Watchlist(folder / "watchlist.db"),
            preferences_path=folder / "preferences.json",
            tray_available=False,
            exit_app=lambda: None,
        )
        dc.window.input.setPlainText(LIST)
        dc.start()
        dc.window.resize(1280, 760)
        dc.window._request_check()
        dc.check_finished.connect(lambda *_: QTimer.singleShot(300, app.quit))
        QTimer.singleShot(TIMEOUT_MS, app.quit)
        app.exec()
        dc.window.select_key(("expiring.test", 443))
        app.processEvents()
        target.parent.mkdir(parents=True, exist_ok=True)
        dc.window.grab().save(str(target))
        dc.quit()
    print(f"saved {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
