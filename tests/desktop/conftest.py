"""Desktop tests: offscreen Qt, and a fresh app wired to a fake or the loopback world."""

from __future__ import annotations

import gc
import os

# Before any QApplication exists (pytest-qt creates it lazily, on first use).
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("QT_QUICK_BACKEND", "software")

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.storage import Watchlist
from tests.desktop.fakes import FakeClock, FakeTimer


@pytest.fixture(autouse=True)
def _qt_application(qapp: Any) -> Any:
    """Every desktop test has a QApplication (icons and palettes need one)."""
    return qapp


@pytest.fixture(autouse=True)
def _garbage_collected_on_this_thread() -> Iterator[None]:
    """Collect on the test's (GUI) thread only, as the app does (desktop/memory.py).

    Tests leave many apps behind; collected by a pass that some background thread
    triggers, a Qt wrapper is destroyed there and can deadlock with the GUI thread.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.enable()


@pytest.fixture(scope="session")
def test_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An RDAP bootstrap of the tests' own, without the world's ``.test`` TLD.

    The project ships no copy of IANA's file (it is fetched on first use); a check
    without a bootstrap would fetch it from the internet. With this one, ``.test``
    names have no RDAP service (registration "unknown"), as with IANA's real file.
    """
    from tests.helpers.rdap_server import write_bootstrap

    directory = tmp_path_factory.mktemp("bootstrap")
    return write_bootstrap(directory / "rdap-bootstrap.json", {"invalid": "http://127.0.0.1:9/"})


@pytest.fixture
def world_settings(world: Any, test_bootstrap: Path) -> Callable[..., Any]:
    """``world.settings(...)``, never fetching the IANA bootstrap file from the internet."""

    def settings(**overrides: Any) -> Any:
        if world.rdap_bootstrap is None:
            overrides.setdefault("rdap_bootstrap", str(test_bootstrap))
        return world.settings(**overrides)

    return settings


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timer(qapp: Any) -> FakeTimer:
    return FakeTimer()


@pytest.fixture
def make_app(
    qtbot: Any, tmp_path: Path, clock: FakeClock, timer: FakeTimer
) -> Iterator[Callable[..., Any]]:
    """Build ``DomainCheckApp``s that share this test's database and preferences file."""
    from desktop.app import DomainCheckApp

    apps: list[DomainCheckApp] = []

    def make(**kwargs: Any) -> DomainCheckApp:
        kwargs.setdefault("watchlist", Watchlist(tmp_path / "watchlist.sqlite3"))
        kwargs.setdefault("preferences_path", tmp_path / "desktop.json")
        kwargs.setdefault("tray_available", False)
        kwargs.setdefault("timer", timer)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("exit_app", lambda: None)
        app = DomainCheckApp(**kwargs)
        qtbot.addWidget(app.window)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.quit()
