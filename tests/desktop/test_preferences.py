"""Preferences: file round trip, bad values, engine settings, the dialog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.config import DEFAULT_TIMEOUT_SECONDS, Settings
from desktop import preferences
from desktop.preferences import Preferences, PreferencesDialog


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
