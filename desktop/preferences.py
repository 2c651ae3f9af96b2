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
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core import paths
from core.analytics import AnalyticsConfig, OffReason, env_off_reason
from core.api import default_backend_url
from core.config import DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_SECONDS, MAX_CONCURRENCY, Settings
from core.models import DEFAULT_THRESHOLD_DAYS
from desktop.autostart import AutostartStatus
from desktop.widgets import WrappingLabel

log = logging.getLogger(__name__)

PREFERENCES_FILE = "desktop.json"
DEFAULT_CHECK_INTERVAL_HOURS = 12
MAX_THRESHOLD_DAYS = 3650
#: Fields that are not settings the user changes here: no ``settings_changed`` event.
UNTRACKED_FIELDS = frozenset({"reminder_email"})


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
    #: Start at login (hidden in the tray). ``None``: not decided yet; the app turns
    #: it on with the first watched domain (see :mod:`desktop.autostart`).
    start_at_login: bool | None = None
    #: The reminder service; "" = ``DOMAINCHECK_BACKEND_URL`` or the build's default.
    backend_url: str = ""
    #: Where email reminders go, for display only (never sent anywhere but the service).
    reminder_email: str = ""

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
        kinds: dict[str, type] = {
            "timeout_seconds": float,
            "concurrency": int,
            "start_at_login": bool,
        }
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


NO_KEY_NOTE = "This copy is built without statistics; nothing is sent."


@dataclasses.dataclass(frozen=True, slots=True)
class StatisticsState:
    """What the "usage statistics" checkbox shows."""

    #: Checked: not opted out (and not vetoed by the environment).
    enabled: bool = True
    #: Nothing can be sent whatever the box says (``DO_NOT_TRACK``,
    #: ``DOMAINCHECK_NO_ANALYTICS``, a build without a key): shown off and disabled.
    locked: bool = False
    #: A sentence next to the checkbox (why it is off or locked), or "".
    note: str = ""

    @classmethod
    def current(
        cls, reason: OffReason | None, env: Mapping[str, str] | None = None
    ) -> StatisticsState:
        """The box for this run, from the client's :class:`OffReason` (``None``: on or
        not known yet). The environment's veto and a missing key are checked here too,
        because a user's opt-out hides them in ``reason``."""
        env = os.environ if env is None else env
        veto = env_off_reason(env)
        if veto is not None:
            return cls(
                enabled=False, locked=True, note=f"Off because {veto.value}; nothing is sent."
            )
        if reason is OffReason.NO_KEY or AnalyticsConfig.from_environment(env) is None:
            return cls(enabled=False, locked=True, note=NO_KEY_NOTE)
        return cls(enabled=reason is not OffReason.OPTED_OUT)


class PreferencesDialog(QDialog):
    """Edits a :class:`Preferences`; read the result with :meth:`preferences`.

    Signals:
        reset_analytics_requested(): "Reset Analytics ID" was clicked (applies at once).
        reminders_requested(): open the Email Reminders dialog.
        applied(Preferences, bool): OK was pressed; the preferences and whether usage
            statistics are wanted. (Listeners get values, not the dialog: it deletes
            itself on close, and a slot that kept it alive caused trouble then.)
    """

    reset_analytics_requested = Signal()
    reminders_requested = Signal()
    #: OK was pressed: the edited preferences, and whether statistics are wanted.
    applied = Signal(object, bool)

    def __init__(
        self,
        preferences: Preferences,
        *,
        tray_available: bool,
        statistics: StatisticsState | None = None,
        autostart: AutostartStatus | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setAccessibleName("Preferences")
        self._original = preferences
        statistics = statistics or StatisticsState()

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
        self.start_at_login = QCheckBox("Start Domain Check at &login")
        self._start_at_login_shown = (
            autostart.enabled if autostart is not None else preferences.start_at_login is True
        )
        self.start_at_login.setChecked(self._start_at_login_shown)
        self.start_at_login.setAccessibleDescription(
            "Starts hidden in the system tray when you log in, so reminders keep coming."
        )
        if autostart is not None and autostart.location:
            self.start_at_login.setToolTip(f"The login entry: {autostart.location}")
        self.start_at_login_note = WrappingLabel(_login_note(autostart))
        self.start_at_login_note.setVisible(bool(self.start_at_login_note.text()))

        form = QFormLayout()
        form.addRow("&Warn before expiry:", self.threshold)
        form.addRow("&Check in the background every:", self.interval)
        form.addRow("&Timeout per domain:", self.timeout)
        form.addRow("Domains checked at &once:", self.concurrency)
        form.addRow(self.reminders)

        # Starting: a vertical layout, so the wrapped note gets its full height.
        starting_box = QGroupBox("Starting")
        starting_layout = QVBoxLayout(starting_box)
        starting_layout.addWidget(self.start_at_login)
        starting_layout.addWidget(self.start_at_login_note)
        starting_layout.addWidget(self.start_hidden)

        # Email reminders: where they go (kept here for display only) and the service.
        self.reminder_email = WrappingLabel(
            preferences.reminder_email or "Not set up: get an email before anything expires."
        )
        self.reminder_email.setAccessibleName("Email reminders go to")
        self.manage_reminders = QPushButton("Manage…" if preferences.reminder_email else "Set Up…")
        self.manage_reminders.clicked.connect(self.reminders_requested)
        email_row = QHBoxLayout()
        email_row.addWidget(self.reminder_email, 1)
        email_row.addWidget(self.manage_reminders)
        self.backend_url = QLineEdit(preferences.backend_url)
        self.backend_url.setPlaceholderText(default_backend_url())
        self.backend_url.setAccessibleName("Reminder service address")
        self.backend_url.setToolTip("Leave empty for the standard Domain Check service.")
        reminders_box = QGroupBox("Email reminders")
        reminders_form = QFormLayout(reminders_box)
        reminders_form.addRow("Sent to:", email_row)
        reminders_form.addRow("&Service:", self.backend_url)

        # Usage statistics: the opt-out, and a fresh random ID on request.
        self.statistics = QCheckBox("Send anonymous usage statistics")
        # Locked means nothing can be sent: never show it ticked.
        self.statistics.setChecked(statistics.enabled and not statistics.locked)
        self.statistics.setEnabled(not statistics.locked)
        self.statistics.setAccessibleDescription(
            "Counts and timings only: never your domains, file names or email address."
        )
        self.reset_id = QPushButton("Reset Analytics ID")
        self.reset_id.setToolTip("Use a new random ID from now on, unlinked from the old one.")
        self.reset_id.clicked.connect(self._reset_analytics_id)
        statistics_row = QHBoxLayout()
        statistics_row.addWidget(self.statistics, 1)
        statistics_row.addWidget(self.reset_id)
        self.statistics_note = WrappingLabel(
            statistics.note
            or "Counts and timings that help improve Domain Check. Never your domains, "
            "file names or email address."
        )
        small = self.statistics_note.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self.statistics_note.setFont(small)
        privacy_box = QGroupBox("Privacy")
        privacy_layout = QVBoxLayout(privacy_box)
        privacy_layout.addLayout(statistics_row)
        privacy_layout.addWidget(self.statistics_note)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(starting_box)
        layout.addWidget(reminders_box)
        layout.addWidget(privacy_box)
        layout.addWidget(buttons)
        # The layout decides the smallest size, so nothing overlaps or clips.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)

    def _reset_analytics_id(self) -> None:
        self.reset_analytics_requested.emit()
        self.reset_id.setEnabled(False)
        self.reset_id.setText("ID Reset")
        self.statistics_note.setText("A new random ID is used from now on.")

    def accept(self) -> None:
        self.applied.emit(self.preferences(), self.statistics_enabled())
        super().accept()

    def statistics_enabled(self) -> bool:
        return self.statistics.isChecked()

    def preferences(self) -> Preferences:
        return dataclasses.replace(
            self._original,
            threshold_days=self.threshold.value(),
            check_interval_hours=self.interval.value(),
            # Left at the engine's default, they stay "the default" (None), so a later
            # change of the default applies and an untouched OK changes nothing.
            timeout_seconds=_unless_default(
                self.timeout.value(), self._original.timeout_seconds, DEFAULT_TIMEOUT_SECONDS
            ),
            concurrency=_unless_default(
                self.concurrency.value(), self._original.concurrency, DEFAULT_CONCURRENCY
            ),
            reminders_enabled=self.reminders.isChecked(),
            start_hidden=self.start_hidden.isChecked(),
            start_at_login=self._start_at_login_choice(),
            backend_url=self.backend_url.text().strip(),
        )

    def _start_at_login_choice(self) -> bool | None:
        """The box's state once the user changed it; untouched, the preference stays
        (``None`` = "not decided", so the first watched domain still turns it on)."""
        checked = self.start_at_login.isChecked()
        if checked == self._start_at_login_shown:
            return self._original.start_at_login
        return checked


def _login_note(autostart: AutostartStatus | None) -> str:
    """Why the "Start at login" box may not say everything: another copy, or an error."""
    if autostart is None:
        return ""
    if autostart.error:
        return autostart.error
    if autostart.other_command:
        return (
            f"Another copy of Domain Check starts at login ({autostart.other_command[0]}). "
            "Ticking the box makes this copy start instead."
        )
    return ""


N = TypeVar("N", int, float)


def _unless_default(value: N, original: N | None, default: N) -> N | None:
    """``None`` ("the engine's default") when it was that and still shows the default."""
    return None if original is None and value == default else value
