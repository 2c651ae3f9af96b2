"""User preferences: a frozen value, a JSON file in the config dir, and the dialog.

The file is written atomically (temporary file + ``os.replace``), so a crash while
saving keeps the previous preferences. Unknown or bad values fall back to defaults
rather than stopping the app.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core import paths
from core.config import DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_SECONDS, MAX_CONCURRENCY, Settings
from core.models import DEFAULT_THRESHOLD_DAYS

log = logging.getLogger(__name__)

PREFERENCES_FILE = "desktop.json"
DEFAULT_CHECK_INTERVAL_HOURS = 12
MAX_THRESHOLD_DAYS = 3650


@dataclasses.dataclass(frozen=True, slots=True)
class Preferences:
    threshold_days: int = DEFAULT_THRESHOLD_DAYS
    #: Background check of the whole watchlist every this many hours.
    check_interval_hours: int = DEFAULT_CHECK_INTERVAL_HOURS
    #: ``None`` = the engine default, or ``DOMAINCHECK_TIMEOUT`` when set.
    timeout_seconds: float | None = None
    #: ``None`` = the engine default, or ``DOMAINCHECK_CONCURRENCY`` when set.
    concurrency: int | None = None
    reminders_enabled: bool = True
    #: Start with only the tray icon (when a tray exists).
    start_hidden: bool = False

    def apply_to(self, settings: Settings) -> Settings:
        """The engine settings with these preferences applied on top."""
        return dataclasses.replace(
            settings,
            threshold_days=self.threshold_days,
            timeout_seconds=self.timeout_seconds or settings.timeout_seconds,
            concurrency=self.concurrency or settings.concurrency,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preferences:
        defaults = cls()
        values: dict[str, Any] = {}
        kinds: dict[str, type] = {"timeout_seconds": float, "concurrency": int}
        for field in dataclasses.fields(cls):
            value = data.get(field.name, getattr(defaults, field.name))
            kind = kinds.get(field.name) or type(getattr(defaults, field.name))
            if value is None:
                values[field.name] = None
                continue
            try:
                values[field.name] = kind(value) if kind is not bool else bool(value)
            except (TypeError, ValueError):
                values[field.name] = getattr(defaults, field.name)
        prefs = cls(**values)
        try:  # values the engine would refuse fall back to the defaults
            prefs.apply_to(Settings())
        except Exception:
            log.warning("ignoring invalid preferences %r", data)
            return defaults
        if prefs.check_interval_hours < 1:
            prefs = dataclasses.replace(prefs, check_interval_hours=1)
        return prefs


def default_path() -> Path:
    return paths.config_dir() / PREFERENCES_FILE


def load(path: Path | None = None) -> Preferences:
    path = default_path() if path is None else path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Preferences()
    except (OSError, ValueError) as exc:
        log.warning("could not read preferences %s: %s", path, exc)
        return Preferences()
    return Preferences.from_dict(data if isinstance(data, dict) else {})


def save(preferences: Preferences, path: Path | None = None) -> None:
    path = default_path() if path is None else path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".desktop-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(dataclasses.asdict(preferences), stream, indent=2)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class PreferencesDialog(QDialog):
    """Edits a :class:`Preferences`; read the result with :meth:`preferences`."""

    def __init__(
        self, preferences: Preferences, *, tray_available: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setAccessibleName("Preferences")

        self.threshold = QSpinBox(suffix=" days", minimum=0, maximum=MAX_THRESHOLD_DAYS)
        self.threshold.setValue(preferences.threshold_days)
        self.threshold.setAccessibleName("Warn this many days before expiry")

        self.interval = QSpinBox(suffix=" hours", minimum=1, maximum=24 * 7)
        self.interval.setValue(preferences.check_interval_hours)
        self.interval.setAccessibleName("Background check interval in hours")

        self.timeout = QDoubleSpinBox(suffix=" s", minimum=1, maximum=120, decimals=1)
        self.timeout.setValue(preferences.timeout_seconds or DEFAULT_TIMEOUT_SECONDS)
        self.timeout.setAccessibleName("Timeout per domain in seconds")

        self.concurrency = QSpinBox(minimum=1, maximum=MAX_CONCURRENCY)
        self.concurrency.setValue(preferences.concurrency or DEFAULT_CONCURRENCY)
        self.concurrency.setAccessibleName("Domains checked at once")

        self.reminders = QCheckBox("Show a notification when a domain needs attention")
        self.reminders.setChecked(preferences.reminders_enabled)
        self.start_hidden = QCheckBox("Start hidden in the system tray")
        self.start_hidden.setChecked(preferences.start_hidden and tray_available)
        self.start_hidden.setEnabled(tray_available)
        if not tray_available:
            self.start_hidden.setToolTip("No system tray is available on this desktop.")

        form = QFormLayout()
        form.addRow("&Warn before expiry:", self.threshold)
        form.addRow("&Check in the background every:", self.interval)
        form.addRow("&Timeout per domain:", self.timeout)
        form.addRow("Domains checked at &once:", self.concurrency)
        form.addRow(self.reminders)
        form.addRow(self.start_hidden)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def preferences(self) -> Preferences:
        return Preferences(
            threshold_days=self.threshold.value(),
            check_interval_hours=self.interval.value(),
            timeout_seconds=self.timeout.value(),
            concurrency=self.concurrency.value(),
            reminders_enabled=self.reminders.isChecked(),
            start_hidden=self.start_hidden.isChecked(),
        )
