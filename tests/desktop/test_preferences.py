"""Preferences: file round trip, bad values, engine settings, the dialog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from core.analytics import OffReason
from core.config import DEFAULT_TIMEOUT_SECONDS, Settings
from desktop import preferences
from desktop.autostart import AutostartStatus
from desktop.preferences import NO_KEY_NOTE, Preferences, PreferencesDialog, StatisticsState

WITH_KEY = {"POSTHOG_API_KEY": "phc_test"}


def test_round_trip_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    assert preferences.load(path) == Preferences()
    prefs = Preferences(
        threshold_days=14,
        check_interval_hours=6,
        timeout_seconds=5.0,
        concurrency=50,
        reminders_enabled=False,
        start_hidden=True,
        start_at_login=False,
    )
    preferences.save(prefs, path)
    assert preferences.load(path) == prefs
    assert not list(tmp_path.glob(".desktop-*"))  # no temporary file left behind


def test_bad_files_and_values_fall_back(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("{not json")
    assert preferences.load(path) == Preferences()
    path.write_text(json.dumps({"threshold_days": "x", "concurrency": 10**9}))
    assert preferences.load(path) == Preferences()
    path.write_text(json.dumps({"threshold_days": 7, "check_interval_hours": 0}))
    assert preferences.load(path) == Preferences(threshold_days=7, check_interval_hours=1)


def test_preferences_apply_over_environment_settings() -> None:
    base = Settings(timeout_seconds=3.0, concurrency=20)
    assert Preferences(threshold_days=9).apply_to(base) == Settings(
        threshold_days=9, timeout_seconds=3.0, concurrency=20
    )
    chosen = Preferences(timeout_seconds=7.0, concurrency=5).apply_to(base)
    assert (chosen.timeout_seconds, chosen.concurrency) == (7.0, 5)


def test_dialog_edits_preferences(qtbot: Any) -> None:
    dialog = PreferencesDialog(Preferences(threshold_days=10), tray_available=False)
    qtbot.addWidget(dialog)
    assert dialog.threshold.value() == 10
    assert not dialog.start_hidden.isEnabled()  # nowhere to hide without a tray
    dialog.threshold.setValue(21)
    dialog.reminders.setChecked(False)
    result = dialog.preferences()
    assert result.threshold_days == 21 and not result.reminders_enabled


def test_warn_before_expiry_shows_30_days_on_a_first_start(make_app: Any, qtbot: Any) -> None:
    """A new user sees a sensible default, in the window and in the preferences,
    never "0 days" (also not in a bare window before the app sets it)."""
    from desktop.mainwindow import MainWindow
    from desktop.results_model import ResultsModel

    bare = MainWindow(ResultsModel())
    qtbot.addWidget(bare)
    assert bare.threshold.text() == "30 days"
    app = make_app()
    app.start()
    assert app.window.threshold.text() == "30 days"
    assert app.open_preferences().threshold.value() == 30
    assert app.settings.threshold_days == 30


def test_app_opens_preferences_without_blocking(make_app: Any) -> None:
    app = make_app()
    dialog = app.open_preferences()
    dialog.interval.setValue(3)
    dialog.accept()
    assert app.preferences.check_interval_hours == 3


def test_untouched_ok_keeps_engine_defaults_and_changes_nothing(make_app: Any) -> None:
    app = make_app()
    before = app.preferences
    assert before.timeout_seconds is None and before.concurrency is None
    dialog = app.open_preferences()
    dialog.accept()
    assert app.preferences == before  # "engine default" did not become a number
    dialog = app.open_preferences()
    dialog.timeout.setValue(DEFAULT_TIMEOUT_SECONDS + 5)
    dialog.accept()
    assert app.preferences.timeout_seconds == DEFAULT_TIMEOUT_SECONDS + 5
    assert app.preferences.concurrency is None


def test_ok_hands_over_values_not_the_dialog(qtbot: Any) -> None:
    dialog = PreferencesDialog(Preferences(), tray_available=True)
    qtbot.addWidget(dialog)
    dialog.threshold.setValue(5)
    with qtbot.waitSignal(dialog.applied) as applied:
        dialog.accept()
    preferences, statistics = applied.args
    assert preferences.threshold_days == 5 and statistics is dialog.statistics_enabled()


def test_old_files_load_and_start_at_login_is_undecided(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    # A file written before start_at_login existed.
    path.write_text(json.dumps({"threshold_days": 12, "start_hidden": True}))
    loaded = preferences.load(path)
    assert loaded == Preferences(threshold_days=12, start_hidden=True)
    assert loaded.start_at_login is None
    for value in (True, False, None):
        preferences.save(Preferences(start_at_login=value), path)
        assert preferences.load(path).start_at_login is value


def make_dialog(qtbot: Any, prefs: Preferences | None = None, **kwargs: Any) -> PreferencesDialog:
    kwargs.setdefault("tray_available", True)
    dialog = PreferencesDialog(prefs or Preferences(), **kwargs)
    qtbot.addWidget(dialog)
    return dialog


def test_start_at_login_box_shows_the_state_and_keeps_undecided(qtbot: Any) -> None:
    dialog = make_dialog(qtbot)
    assert not dialog.start_at_login.isChecked()
    assert dialog.preferences().start_at_login is None  # untouched: still undecided
    dialog.start_at_login.setChecked(True)
    assert dialog.preferences().start_at_login is True
    dialog.start_at_login.setChecked(False)
    assert dialog.preferences().start_at_login is None  # back where it was

    dialog = make_dialog(qtbot, Preferences(start_at_login=True))
    assert dialog.start_at_login.isChecked()
    dialog.start_at_login.setChecked(False)
    assert dialog.preferences().start_at_login is False


def test_start_at_login_box_follows_the_real_entry(qtbot: Any) -> None:
    entry = "/home/me/.config/autostart/domaincheck.desktop"
    # The entry was removed by hand: the box says so; an untouched OK keeps the choice.
    dialog = make_dialog(
        qtbot,
        Preferences(start_at_login=True),
        autostart=AutostartStatus(enabled=False, location=entry),
    )
    assert not dialog.start_at_login.isChecked()
    assert entry in dialog.start_at_login.toolTip()
    assert dialog.start_at_login_note.isHidden()
    assert dialog.preferences().start_at_login is True
    dialog.start_at_login.setChecked(True)
    assert dialog.preferences().start_at_login is True

    other = AutostartStatus(
        enabled=False, location=entry, other_command=("/opt/old/DomainCheck", "--background")
    )
    dialog = make_dialog(qtbot, autostart=other)
    assert not dialog.start_at_login_note.isHidden()
    assert "Another copy of Domain Check" in dialog.start_at_login_note.text()
    assert "/opt/old/DomainCheck" in dialog.start_at_login_note.text()

    broken = AutostartStatus(enabled=False, location=entry, error="Could not read it: no.")
    dialog = make_dialog(qtbot, autostart=broken)
    assert dialog.start_at_login_note.text() == "Could not read it: no."


@pytest.mark.parametrize(
    ("reason", "env", "expected"),
    [
        (None, WITH_KEY, StatisticsState(enabled=True)),
        (OffReason.OPTED_OUT, WITH_KEY, StatisticsState(enabled=False)),
        (OffReason.NO_KEY, {}, StatisticsState(enabled=False, locked=True, note=NO_KEY_NOTE)),
        # The opt-out hides the missing key in the reason; the box still says why.
        (OffReason.OPTED_OUT, {}, StatisticsState(enabled=False, locked=True, note=NO_KEY_NOTE)),
        (None, {}, StatisticsState(enabled=False, locked=True, note=NO_KEY_NOTE)),
    ],
)
def test_statistics_state_for_each_reason(
    reason: OffReason | None, env: dict[str, str], expected: StatisticsState
) -> None:
    assert StatisticsState.current(reason, env) == expected


@pytest.mark.parametrize("variable", ["DO_NOT_TRACK", "DOMAINCHECK_NO_ANALYTICS"])
def test_statistics_locked_off_by_the_environment(variable: str) -> None:
    state = StatisticsState.current(OffReason.OPTED_OUT, {**WITH_KEY, variable: "1"})
    assert not state.enabled and state.locked
    assert variable in state.note and "nothing is sent" in state.note


@pytest.mark.parametrize(
    "env", [{}, {**WITH_KEY, "DO_NOT_TRACK": "1"}], ids=["no key", "DO_NOT_TRACK"]
)
def test_statistics_box_is_off_and_disabled_with_the_reason(
    qtbot: Any, env: dict[str, str]
) -> None:
    state = StatisticsState.current(None, env)
    dialog = make_dialog(qtbot, statistics=state)
    dialog.show()
    assert not dialog.statistics.isChecked() and not dialog.statistics.isEnabled()
    assert dialog.statistics_note.text() == state.note and dialog.statistics_note.isVisible()
    assert not dialog.statistics_enabled()
    # Even a state that claims "on" is never shown ticked when nothing can be sent.
    dialog = make_dialog(qtbot, statistics=StatisticsState(enabled=True, locked=True, note="x"))
    assert not dialog.statistics.isChecked()


def test_statistics_box_is_free_with_a_key(qtbot: Any) -> None:
    dialog = make_dialog(qtbot, statistics=StatisticsState.current(None, WITH_KEY))
    assert dialog.statistics.isChecked() and dialog.statistics.isEnabled()
    dialog.statistics.setChecked(False)
    assert not dialog.statistics_enabled()


def overlaps(root: QWidget) -> list[str]:
    """Pairs of visible sibling widgets whose rectangles intersect, and clipped labels."""
    problems = []
    widgets = [root, *root.findChildren(QWidget)]
    for parent in widgets:
        children = [
            c
            for c in parent.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
            if c.isVisible() and not c.isWindow()
        ]
        for index, first in enumerate(children):
            for second in children[index + 1 :]:
                if first.geometry().intersects(second.geometry()):
                    problems.append(
                        f"{type(first).__name__} {first.text() if hasattr(first, 'text') else ''!r}"
                        f" overlaps {type(second).__name__} "
                        f"{second.text() if hasattr(second, 'text') else ''!r}"
                    )
    for label in root.findChildren(QLabel):
        if not label.isVisible() or not label.text():
            continue
        size = label.size()
        if label.wordWrap():
            if label.heightForWidth(size.width()) > size.height():
                problems.append(f"wrapped label {label.text()!r} is cut: {size}")
        elif label.sizeHint().width() > size.width() or label.sizeHint().height() > size.height():
            problems.append(f"label {label.text()!r} is clipped: {label.sizeHint()} > {size}")
    return problems


@pytest.mark.parametrize("note", [False, True], ids=["plain", "with notes"])
def test_nothing_overlaps_or_clips_at_the_minimum_size(qtbot: Any, note: bool) -> None:
    other = AutostartStatus(
        enabled=False,
        location="/home/someone/.config/autostart/domaincheck.desktop",
        other_command=("/home/someone/an/old/checkout/.venv/bin/domaincheck-desktop",),
    )
    dialog = make_dialog(
        qtbot,
        Preferences(reminder_email="someone.with.a.long.address@example.test"),
        statistics=StatisticsState.current(None, {}) if note else None,
        autostart=other if note else None,
    )
    dialog.show()
    qtbot.waitExposed(dialog)
    minimum = dialog.minimumSizeHint()
    assert minimum.isValid() and minimum.width() > 0
    dialog.resize(minimum)
    qtbot.waitUntil(lambda: dialog.size() == dialog.minimumSize(), timeout=2000)
    assert dialog.minimumSize().width() >= minimum.width()
    # Smaller than the layout allows is refused.
    dialog.resize(minimum.width() // 2, minimum.height() // 2)
    qtbot.wait(10)
    assert dialog.width() >= minimum.width() and dialog.height() >= minimum.height()
    dialog.resize(minimum)
    qtbot.wait(10)
    assert overlaps(dialog) == []


@pytest.mark.parametrize("tray", [True, False], ids=["tray", "no-tray"])
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_preferences_have_no_overlap_at_their_minimum_size(
    qtbot: Any, tray: bool, dark: bool
) -> None:
    """Every box, note and button of Preferences keeps its room at the dialog's
    minimum size (the longest notes shown: another install's entry, no statistics)."""
    from tests.helpers.layout import assert_no_overlap, show_at_minimum_size
    from tests.helpers.themes import dark_palette

    dialog = PreferencesDialog(
        Preferences(),
        tray_available=tray,
        statistics=StatisticsState(enabled=False, locked=True, note=NO_KEY_NOTE),
        autostart=AutostartStatus(
            enabled=False,
            location="/home/user/.config/autostart/domaincheck.desktop",
            other_command=("/opt/other-install/bin/domaincheck-desktop", "--background"),
        ),
    )
    qtbot.addWidget(dialog)
    if dark:
        dialog.setPalette(dark_palette())
    show_at_minimum_size(dialog, qtbot)
    assert_no_overlap(dialog)
    dialog.resize(dialog.width() + 300, dialog.height() + 200)
    qtbot.wait(10)
    assert_no_overlap(dialog)
