"""Start at login: on with the first watched domain, said once; tray and Preferences toggle it.

Also: starting hidden (as the login entry does) never shows the window.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from core.models import Target
from desktop.autostart import Autostart, AutostartError
from desktop.login_start import TOLD_TEXT
from tests.desktop.fakes import FakeEngine

COMMAND = ["/opt/domaincheck/bin/domaincheck-desktop", "--background"]


def xdg_autostart(tmp_path: Path) -> Autostart:
    return Autostart(
        platform="linux",
        home=tmp_path,
        config_home=tmp_path / "config",
        command=COMMAND,
        icon="domaincheck",
    )


def entry(tmp_path: Path) -> Path:
    return tmp_path / "config" / "autostart" / "domaincheck.desktop"


def saved_preferences(tmp_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "desktop.json").read_text())
    return data


def test_first_watched_domain_turns_it_on_and_says_so_once(
    make_app: Any, qtbot: Any, tmp_path: Path
) -> None:
    app = make_app(checker_factory=FakeEngine(), autostart=xdg_autostart(tmp_path))
    app.start()
    said: list[str] = []
    app.messages.shown.connect(lambda message: said.append(message.text))
    assert app.preferences.start_at_login is None
    app.watch([Target("a.test")])
    qtbot.waitUntil(lambda: not app.login.busy, timeout=5000)
    assert entry(tmp_path).is_file()
    assert "--background" in entry(tmp_path).read_text()
    assert app.preferences.start_at_login is True
    assert said.count(TOLD_TEXT) == 1
    app.watch([Target("b.test")])
    assert not app.login.busy  # decided: nothing more to do
    assert app.flush_writes()
    assert saved_preferences(tmp_path)["start_at_login"] is True
    app.quit()

    again = make_app(checker_factory=FakeEngine(), autostart=xdg_autostart(tmp_path))
    again.messages.shown.connect(lambda message: said.append(message.text))
    again.watch([Target("c.test")])
    assert not again.login.busy
    assert said.count(TOLD_TEXT) == 1  # told once, ever


def test_a_watchlist_with_domains_at_start_does_not_turn_it_on_again_once_decided(
    make_app: Any, qtbot: Any, tmp_path: Path
) -> None:
    (tmp_path / "desktop.json").write_text(json.dumps({"start_at_login": False}))
    app = make_app(checker_factory=FakeEngine(), autostart=xdg_autostart(tmp_path))
    app.watch([Target("a.test")])
    assert not app.login.busy
    assert not entry(tmp_path).exists()


def test_tray_entry_toggles_it(make_app: Any, qtbot: Any, tmp_path: Path) -> None:
    (tmp_path / "desktop.json").write_text(json.dumps({"start_at_login": True}))
    app = make_app(
        checker_factory=FakeEngine(), tray_available=True, autostart=xdg_autostart(tmp_path)
    )
    xdg_autostart(tmp_path).set_enabled(True)
    app.tray.menu.aboutToShow.emit()
    login = next(a for a in app.tray.menu.actions() if a.text() == "Start at &login")
    assert login.isCheckable() and login.isChecked()
    login.trigger()  # unchecks it
    qtbot.waitUntil(lambda: not app.login.busy, timeout=5000)
    assert not entry(tmp_path).exists()
    assert app.preferences.start_at_login is False
    app.tray.menu.aboutToShow.emit()
    login = next(a for a in app.tray.menu.actions() if a.text() == "Start at &login")
    assert not login.isChecked()


def test_applying_preferences_applies_it(make_app: Any, qtbot: Any, tmp_path: Path) -> None:
    app = make_app(checker_factory=FakeEngine(), autostart=xdg_autostart(tmp_path))
    app.apply_preferences(dataclasses.replace(app.preferences, start_at_login=True))
    qtbot.waitUntil(lambda: not app.login.busy, timeout=5000)
    assert entry(tmp_path).is_file()
    app.apply_preferences(dataclasses.replace(app.preferences, start_at_login=False))
    qtbot.waitUntil(lambda: not app.login.busy, timeout=5000)
    assert not entry(tmp_path).exists()


class BrokenAutostart:
    def set_enabled(self, enabled: bool, *, replace_other: bool = False) -> None:
        raise AutostartError("Could not turn on starting at login (/x): permission denied")


def test_a_failure_is_a_message_not_a_traceback(make_app: Any, qtbot: Any) -> None:
    app = make_app(checker_factory=FakeEngine(), autostart=BrokenAutostart())
    said: list[str] = []
    app.messages.shown.connect(lambda message: said.append(message.text))
    app.set_start_at_login(True)
    qtbot.waitUntil(lambda: not app.login.busy, timeout=5000)
    assert said == ["Could not turn on starting at login (/x): permission denied"]
    assert app.login.wanted is not True


def test_a_failed_automatic_try_counts_as_off_and_is_not_retried(make_app: Any, qtbot: Any) -> None:
    app = make_app(checker_factory=FakeEngine(), autostart=BrokenAutostart())
    said: list[str] = []
    app.messages.shown.connect(lambda message: said.append(message.text))
    app.watch([Target("a.test")])
    qtbot.waitUntil(lambda: not app.login.busy, timeout=5000)
    assert said == ["Could not turn on starting at login (/x): permission denied"]
    assert app.preferences.start_at_login is False
    app.watch([Target("b.test")])
    assert not app.login.busy  # decided (off): not tried again


def test_tests_never_touch_the_real_login_items(make_app: Any) -> None:
    # With a preferences file of its own (tests, benchmarks, the self-test) and no
    # autostart given, the app has no login wiring and no such tray entry.
    app = make_app(checker_factory=FakeEngine(), tray_available=True)
    assert app.login is None
    app.watch([Target("a.test")])
    assert all(a.text() != "Start at &login" for a in app.tray.menu.actions())


def test_started_hidden_with_a_tray_shows_no_window(make_app: Any, qtbot: Any) -> None:
    app = make_app(checker_factory=FakeEngine(), tray_available=True)
    app.start(hidden=True)
    assert not app.window.isVisible()
    assert app.tray.icon.isVisible()
    app.tray.open_requested.emit()
    assert app.window.isVisible()


def test_started_hidden_without_a_tray_still_checks_and_shows_no_window(
    make_app: Any, qtbot: Any, clock: Any, timer: Any
) -> None:
    from desktop.scheduler import STARTUP_DELAY

    engine = FakeEngine()
    app = make_app(checker_factory=engine, tray_available=False)
    app.watch([Target("a.test")])
    app.start(hidden=True)
    assert not app.window.isVisible()
    clock.advance(STARTUP_DELAY)
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        timer.fire()  # the schedule runs all the same
    assert [t.host for t in engine.checked] == ["a.test"]
    assert not app.window.isVisible()
    app.show_window()  # what a second launch does (the hand-over)
    assert app.window.isVisible()


def test_only_the_users_choice_takes_the_entry_over_from_another_copy(
    make_app: Any, qtbot: Any, tmp_path: Path
) -> None:
    other = Autostart(
        platform="linux",
        home=tmp_path,
        config_home=tmp_path / "config",
        command=["/opt/other/DomainCheck", "--background"],
    )
    other.set_enabled(True)
    app = make_app(checker_factory=FakeEngine(), autostart=xdg_autostart(tmp_path))
    said: list[str] = []
    app.messages.shown.connect(lambda message: said.append(message.text))

    app.start()
    app.watch([Target("a.test")])  # switching on by ourselves leaves the other copy alone
    qtbot.waitUntil(lambda: not app.login.busy and bool(said), timeout=5000)
    assert "/opt/other/DomainCheck" in entry(tmp_path).read_text()

    app.set_start_at_login(True)  # the user asks: this copy takes over
    qtbot.waitUntil(lambda: not app.login.busy, timeout=5000)
    assert "/opt/other/DomainCheck" not in entry(tmp_path).read_text()
    assert app.login.wanted is True
    app.quit()


def test_the_told_once_notice_stays_until_answered_and_turn_off_works(
    make_app: Any, qtbot: Any, tmp_path: Path
) -> None:
    """Said once, ever: a banner the next status-bar message does not replace, with
    "Turn Off" right there."""
    app = make_app(checker_factory=FakeEngine(), autostart=xdg_autostart(tmp_path))
    app.start()
    notice = app.window.login_notice
    assert not notice.isVisible()
    app.watch([Target("a.test")])
    qtbot.waitUntil(lambda: not app.login.busy, timeout=5000)
    assert notice.isVisible() and notice.text.text() == TOLD_TEXT
    app.messages.info("Checked 1 domain")  # later news does not hide it
    assert notice.isVisible()
    notice.turn_off.click()
    assert not notice.isVisible()
    qtbot.waitUntil(lambda: not app.login.busy, timeout=5000)
    assert not entry(tmp_path).exists()
    assert app.preferences.start_at_login is False


def test_ok_on_the_notice_keeps_it_on(make_app: Any, qtbot: Any, tmp_path: Path) -> None:
    app = make_app(checker_factory=FakeEngine(), autostart=xdg_autostart(tmp_path))
    app.start()
    app.watch([Target("a.test")])
    qtbot.waitUntil(lambda: not app.login.busy, timeout=5000)
    app.window.login_notice.keep.click()
    assert not app.window.login_notice.isVisible()
    assert not app.login.busy and entry(tmp_path).is_file()
    assert app.preferences.start_at_login is True
