"""The main window: domain input with drag and drop, results table, details pane.

The window is a view. It shows what it is told and turns user actions into signals;
:class:`desktop.app.DomainCheckApp` decides what they mean. File dialogs live here
(they are the view), everything they produce goes out through signals, so tests
call the same slots without ever opening a dialog.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QMimeData,
    QModelIndex,
    QObject,
    QSize,
    Qt,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStyle,
    QTableView,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from core.models import InputError, Status
from desktop import icons
from desktop.messages import Level, Message
from desktop.preferences import MAX_THRESHOLD_DAYS
from desktop.results_model import ResultsModel, ResultsProxy
from desktop.rows import (
    COLUMN_CERT_EXPIRES,
    COLUMN_COUNT,
    COLUMN_DAYS_LEFT,
    COLUMN_DOMAIN,
    COLUMN_ISSUER,
    COLUMN_REG_EXPIRES,
    COLUMN_REGISTRAR,
    COLUMN_STATUS,
    HEADERS,
    WatchRow,
    display_value,
)

#: ``InputError.source`` for the text typed or pasted into the window.
INPUT_SOURCE = "<input>"
LIST_FILE_FILTER = "Domain lists (*.txt *.csv *.list);;All files (*)"
_STATUS_MESSAGE_TIMEOUT_MS = 6_000

#: Status filter choices: label and the statuses shown (``None`` = all).
STATUS_FILTERS: tuple[tuple[str, frozenset[Status | None] | None], ...] = (
    ("All statuses", None),
    ("Needs attention", frozenset({Status.EXPIRING, Status.EXPIRED, Status.INVALID})),
    ("Valid", frozenset({Status.VALID})),
    ("Expiring", frozenset({Status.EXPIRING})),
    ("Expired", frozenset({Status.EXPIRED})),
    ("Invalid", frozenset({Status.INVALID})),
    ("Could not check", frozenset({Status.ERROR, Status.UNKNOWN})),
    ("Not checked yet", frozenset({None})),
)


def local_files(mime: QMimeData) -> list[Path]:
    """The local files in a drag (``file://`` URLs), in order."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def dropped_text(mime: QMimeData) -> str:
    """Text of a non-file drop: links dragged from a browser, or plain text."""
    remote = (
        [url.toString() for url in mime.urls() if not url.isLocalFile()] if (mime.hasUrls()) else []
    )
    if remote:
        return "\n".join(remote)
    return mime.text() if mime.hasText() else ""


class DomainInput(QPlainTextEdit):
    """Where domains are typed, pasted or dropped.

    Dropped files are not pasted: they are handed on (``files_dropped``) to be added to
    the watchlist and checked right away. Dropped text and links are appended as lines.

    Signals:
        files_dropped(list[Path]): local files were dropped here.
    """

    files_dropped = Signal(list)
    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(
            "Type or paste domains, one per line:\n\nexample.com\nshop.example.org:8443\n"
            "https://bücher.example/\n\n…or drop .txt and .csv files here."
        )
        self.setAccessibleName("Domains to check")
        self.setAccessibleDescription(
            "One domain, host:port or URL per line. Drop list files to add them."
        )
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabChangesFocus(True)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Ctrl+Return checks (plain Return still starts a new line)."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
            event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            event.accept()
            self.submitted.emit()
            return
        super().keyPressEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_files(event.mimeData()) or dropped_text(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        files = local_files(mime)
        if files:
            event.acceptProposedAction()
            self.files_dropped.emit(files)
            return
        text = dropped_text(mime)
        if text:
            event.acceptProposedAction()
            self.append_lines(text)
            return
        event.ignore()

    def append_lines(self, text: str) -> None:
        """Add ``text`` on lines of its own at the end (never mid-line)."""
        current = self.toPlainText()
        joiner = "" if not current or current.endswith("\n") else "\n"
        cursor = self.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(joiner + text.strip("\n") + "\n")
        self.setTextCursor(cursor)

    def mark_lines(self, line_numbers: Sequence[int]) -> None:
        """Underline and tint the 1-based lines that were rejected."""
        selections = []
        palette_colour = icons.status_colour(Status.EXPIRED, self.palette())
        tint = icons.status_colour(Status.EXPIRED, self.palette())
        tint.setAlpha(40)
        for number in line_numbers:
            block = self.document().findBlockByNumber(number - 1)
            if not block.isValid():
                continue
            selection = QTextEdit.ExtraSelection()
            fmt = QTextCharFormat()
            fmt.setBackground(tint)
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            fmt.setUnderlineColor(palette_colour)
            fmt.setProperty(QTextCharFormat.Property.FullWidthSelection, True)
            selection.format = fmt
            cursor = QTextCursor(block)
            selection.cursor = cursor
            selections.append(selection)
        self.setExtraSelections(selections)


class FileDropFilter(QObject):
    """Event filter that makes any widget accept dropped list files.

    Signals:
        files_dropped(list[Path]): local files were dropped on the watched widget.
    """

    files_dropped = Signal(list)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, QDragEnterEvent | QDragMoveEvent)
            if local_files(event.mimeData()):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            files = local_files(event.mimeData())
            if files:
                event.acceptProposedAction()
                self.files_dropped.emit(files)
                return True
        return False


class DetailsPane(QGroupBox):
    """Everything known about the selected row, in two columns."""

    LEFT_FIELDS = (
        ("domain", "Domain"),
        ("status", "Status"),
        ("problem", "Problem"),
        ("registration", "Registration"),
        ("registrar", "Registrar"),
        ("checked", "Last checked"),
    )
    RIGHT_FIELDS = (
        ("subject", "Subject"),
        ("sans", "Names (SANs)"),
        ("issuer", "Issuer"),
        ("valid", "Valid"),
        ("chain", "Chain expires"),
        ("fingerprint", "SHA-256"),
        ("verification", "Verification"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Details", parent)
        self.setAccessibleName("Details of the selected domain")
        columns = QHBoxLayout(self)
        self.labels: dict[str, QLabel] = {}
        for fields in (self.LEFT_FIELDS, self.RIGHT_FIELDS):
            form = QFormLayout()
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            for key, title in fields:
                label = QLabel()
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                label.setWordWrap(True)
                label.setAccessibleName(title)
                self.labels[key] = label
                form.addRow(f"{title}:", label)
            columns.addLayout(form, 1)
        mono = self.labels["fingerprint"].font()
        mono.setFamily("monospace")
        mono.setStyleHint(mono.StyleHint.Monospace)
        mono.setPointSizeF(mono.pointSizeF() * 0.9)
        self.labels["fingerprint"].setFont(mono)
        self.show_row(None)

    def show_row(self, row: WatchRow | None) -> None:
        values = dict.fromkeys(self.labels, "")
        if row is None:
            values["domain"] = "Select a domain to see its certificate and registration."
        else:
            values.update(details_of(row))
        for key, label in self.labels.items():
            label.setText(values[key])
        colour = None if row is None else icons.status_colour(row.status, self.palette())
        self.labels["status"].setStyleSheet("" if colour is None else f"color: {colour.name()}")


def _days_phrase(days: int | None) -> str:
    if days is None:
        return ""
    if days < 0:
        return f" (expired {-days:,} day{'s' if days != -1 else ''} ago)"
    return f" ({days:,} day{'s' if days != 1 else ''} left)"


def format_fingerprint(fingerprint: str | None) -> str:
    """Colon-separated hex pairs on two lines of 16 bytes."""
    if not fingerprint:
        return "—"
    pairs = (
        fingerprint.upper().split(":")
        if ":" in fingerprint
        else [fingerprint[i : i + 2].upper() for i in range(0, len(fingerprint), 2)]
    )
    return "\n".join(":".join(pairs[i : i + 16]) for i in range(0, len(pairs), 16))


def _when(moment: object) -> str:
    from datetime import datetime

    if not isinstance(moment, datetime):
        return "—"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M %Z")


def details_of(row: WatchRow) -> dict[str, str]:
    """Text of each details field for a row."""
    result = row.result
    values = {
        "domain": display_value(row, COLUMN_DOMAIN)
        + (f"  ({row.target.host})" if row.target.host != row.target.display else ""),
        "status": display_value(row, COLUMN_STATUS),
    }
    if result is None:
        values["problem"] = "Not checked yet."
        return values
    values["problem"] = result.problem or "None"
    values["checked"] = _when(result.checked_at)
    tls = result.tls
    if tls is None:
        values["subject"] = "TLS not checked"
    elif tls.error:
        values["verification"] = tls.error
    else:
        values["subject"] = tls.subject or "—"
        values["sans"] = ", ".join(tls.sans) or "—"
        values["issuer"] = tls.issuer or "—"
        values["valid"] = f"{_when(tls.not_before)} to {_when(tls.not_after)}" + _days_phrase(
            result.tls_days_left
        )
        values["chain"] = _when(tls.chain_earliest_not_after)
        values["fingerprint"] = format_fingerprint(tls.fingerprint_sha256)
        if tls.trusted and tls.hostname_match is not False:
            values["verification"] = "Trusted, name matches"
        else:
            reasons = [tls.verify_error or ""]
            if tls.hostname_match is False:
                reasons.append(f"does not cover {row.target.display}")
            values["verification"] = "Failed: " + "; ".join(r for r in reasons if r)
    registration = result.registration
    if registration is None:
        values["registration"] = "Not checked"
    elif registration.expires is not None:
        values["registration"] = (
            f"{registration.registrable_domain or ''} expires {_when(registration.expires)}"
            + _days_phrase(result.registration_days_left)
        ).strip()
        values["registrar"] = registration.registrar or "—"
    else:
        what = "Unknown" if registration.unknown else "Failed"
        values["registration"] = f"{what}: {registration.error or 'no data'}"
        values["registrar"] = registration.registrar or "—"
    return values


class AnalyticsNotice(QFrame):
    """The first-run notice about usage statistics: a banner, not a modal box.

    Signals:
        answered(bool): True for "OK", False for "Turn Off".
    """

    answered = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("analyticsNotice")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("About usage statistics")
        self.text = QLabel(
            "<b>Help improve Domain Check?</b> It can send anonymous usage statistics: "
            "counts and timings such as how many domains were checked. Never your "
            "domains, file names or email address. Nothing is sent unless you agree."
        )
        self.text.setWordWrap(True)
        self.turn_off = QPushButton("No Thanks")
        self.turn_off.setAccessibleName("Don't send usage statistics")
        self.accept_button = QPushButton("Send Statistics")
        self.turn_off.clicked.connect(lambda: self.answered.emit(False))
        self.accept_button.clicked.connect(lambda: self.answered.emit(True))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.turn_off)
        layout.addWidget(self.accept_button)
        self.hide()


class MainWindow(QMainWindow):
    """Signals:
    check_requested(str): check the watchlist, first adding the typed text.
    cancel_requested(): stop the running check.
    files_dropped(list[Path]): files were dropped or opened.
    export_requested(Path): save the results (format from the suffix).
    remove_requested(list[tuple[str, int]]): stop watching these targets.
    threshold_changed(int): the threshold spin box changed.
    preferences_requested(): open the preferences.
    quit_requested(): File → Quit.
    files_opened(list[Path]): files were chosen with File → Open List.
    reminders_requested(): File → Email Reminders.
    analytics_notice_answered(bool): the first-run notice's answer (True: keep on).
    """

    check_requested = Signal(str)
    cancel_requested = Signal()
    files_dropped = Signal(list)
    files_opened = Signal(list)
    reminders_requested = Signal()
    analytics_notice_answered = Signal(bool)
    export_requested = Signal(Path)
    remove_requested = Signal(list)
    threshold_changed = Signal(int)
    preferences_requested = Signal()
    quit_requested = Signal()

    def __init__(self, model: ResultsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Domain Check")
        self.setWindowIcon(icons.app_icon())
        self.resize(1280, 760)
        self.model = model
        self.proxy = ResultsProxy(self)
        self.proxy.setSourceModel(model)
        #: Decides what closing the window means (hide to tray or quit); set by the app.
        self.close_handler: Callable[[QCloseEvent], None] | None = None

        self._build_widgets()
        self._build_actions()
        self._build_layout()
        self._connect()
        self.set_checking(False)
        self.set_summary("")

    # -- construction ----------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.input = DomainInput()
        self.input_errors = QListWidget()
        self.input_errors.setAccessibleName("Rejected lines")
        self.input_errors.setMaximumHeight(140)
        self.input_errors.setVisible(False)
        self.input_errors.setWordWrap(True)
        self.input_errors.setIconSize(QSize(16, 16))
        self.input_errors.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.threshold = QSpinBox(minimum=0, maximum=MAX_THRESHOLD_DAYS, suffix=" days")
        self.threshold.setAccessibleName("Warn this many days before expiry")
        self.threshold.setToolTip(
            "A certificate or registration expiring within this many days counts as expiring."
        )

        self.check_button = QPushButton("&Check")
        self.check_button.setDefault(True)
        self.check_button.setToolTip("Add the typed domains and check the watchlist (Ctrl+Return)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running check (Esc)")
        self.open_button = QPushButton("&Open…")
        self.open_button.setToolTip("Add domains from .txt or .csv files (Ctrl+O)")

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter domains, issuers, problems…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Filter results")
        self.status_filter = QComboBox()
        self.status_filter.setAccessibleName("Show statuses")
        for label, statuses in STATUS_FILTERS:
            icon_status = next(iter(statuses)) if statuses and len(statuses) == 1 else None
            if statuses and len(statuses) == 1:
                self.status_filter.addItem(icons.status_icon(icon_status), label, statuses)
            else:
                self.status_filter.addItem(label, statuses)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setAccessibleName("Results")
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COLUMN_STATUS, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setIconSize(QSize(16, 16))
        # Always there (disabled while everything fits): a scroll bar that appears when
        # the list outgrows the view narrows the columns, re-elides every cell and
        # paints the whole table twice, just as a dropped list comes in.
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        # In character widths, so the layout holds at any font size or DPI; the
        # problem column (last) stretches to take what is left.
        char = self.table.fontMetrics().averageCharWidth()
        widths = {
            COLUMN_STATUS: 11,
            COLUMN_DOMAIN: 20,
            COLUMN_CERT_EXPIRES: 14,
            COLUMN_DAYS_LEFT: 8,
            COLUMN_ISSUER: 16,
            COLUMN_REG_EXPIRES: 14,
            COLUMN_REGISTRAR: 14,
        }
        header_metrics = header.fontMetrics()
        for column, chars in widths.items():
            title = str(self.model.headerData(column, Qt.Orientation.Horizontal))
            fits_title = header_metrics.horizontalAdvance(title) + 28  # + sort arrow
            self.table.setColumnWidth(column, max(chars * char + 16, fits_title))
        self.file_drop_filter = FileDropFilter(self)
        self.table.viewport().setAcceptDrops(True)
        self.table.viewport().installEventFilter(self.file_drop_filter)

        self.details = DetailsPane()

        self.analytics_notice = AnalyticsNotice()
        self.analytics_notice.answered.connect(self._on_analytics_notice_answered)

        self.summary_label = QLabel()
        self.summary_label.setAccessibleName("Summary")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Check progress")
        self.progress.setFormat("%v of %m checked")
        self.progress.setMaximumWidth(260)
        self.progress.setMinimumWidth(200)
        self.progress.setTextVisible(True)
        # Permanent widgets: passing messages on the left never hide the summary.
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.summary_label)

    def _build_actions(self) -> None:
        style = self.style()
        sp = QStyle.StandardPixmap

        def action(
            text: str,
            shortcut: QKeySequence | QKeySequence.StandardKey | str | None,
            slot: Callable[[], object],
            icon: QStyle.StandardPixmap | None = None,
        ) -> QAction:
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            if icon is not None:
                act.setIcon(style.standardIcon(icon))
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.open_action = action(
            "&Open List…", QKeySequence.StandardKey.Open, self.choose_files, sp.SP_DialogOpenButton
        )
        self.export_action = action(
            "&Export Results…", "Ctrl+E", self.choose_export_file, sp.SP_DialogSaveButton
        )
        self.reminders_action = action(
            "Email &Reminders…", None, self.reminders_requested.emit, sp.SP_MessageBoxInformation
        )
        self.preferences_action = action(
            "&Preferences…", QKeySequence.StandardKey.Preferences, self.preferences_requested.emit
        )
        if self.preferences_action.shortcut().isEmpty():
            self.preferences_action.setShortcut(QKeySequence("Ctrl+,"))
        self.quit_action = action("&Quit", QKeySequence.StandardKey.Quit, self.quit_requested.emit)
        self.check_action = action(
            "&Check Now", "Ctrl+Return", self._request_check, sp.SP_BrowserReload
        )
        self.check_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.cancel_action = action(
            "C&ancel Check", "Esc", self.cancel_requested.emit, sp.SP_BrowserStop
        )
        self.copy_action = action(
            "&Copy Rows", QKeySequence.StandardKey.Copy, self.copy_selected_rows
        )
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.table.addAction(self.copy_action)
        self.remove_action = action(
            "&Remove from Watchlist", QKeySequence.StandardKey.Delete, self._request_remove
        )
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.table.addAction(self.remove_action)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.find_action = action(
            "&Find", QKeySequence.StandardKey.Find, lambda: self.filter_edit.setFocus()
        )

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for act in (self.open_action, self.export_action):
            file_menu.addAction(act)
        file_menu.addSeparator()
        file_menu.addAction(self.reminders_action)
        file_menu.addAction(self.preferences_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = menu.addMenu("&Edit")
        for act in (self.copy_action, self.remove_action, self.find_action):
            edit_menu.addAction(act)
        check_menu = menu.addMenu("&Check")
        check_menu.addAction(self.check_action)
        check_menu.addAction(self.cancel_action)

    def _build_layout(self) -> None:
        input_label = QLabel("&Domains to add")
        input_label.setBuddy(self.input)
        heading = input_label.font()
        heading.setBold(True)
        input_label.setFont(heading)

        threshold_label = QLabel("&Warn before expiry:")
        threshold_label.setBuddy(self.threshold)
        threshold_row = QHBoxLayout()
        threshold_row.addWidget(threshold_label)
        threshold_row.addWidget(self.threshold, 1)

        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.check_button)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 6, 0)
        left_layout.addWidget(input_label)
        left_layout.addWidget(self.input, 1)
        left_layout.addWidget(self.input_errors)
        left_layout.addLayout(threshold_row)
        left_layout.addLayout(buttons)

        filters = QHBoxLayout()
        filters.addWidget(self.filter_edit, 1)
        filters.addWidget(self.status_filter)

        top_right = QWidget()
        top_right_layout = QVBoxLayout(top_right)
        top_right_layout.setContentsMargins(0, 0, 0, 0)
        watch_label = QLabel("Watchlist")
        watch_label.setFont(heading)
        top_right_layout.addWidget(watch_label)
        top_right_layout.addLayout(filters)
        top_right_layout.addWidget(self.table, 1)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(top_right)
        right.addWidget(self.details)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 0)
        right.setSizes([520, 200])
        right.setChildrenCollapsible(False)
        self.right_splitter = right

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([270, 1010])
        splitter.setChildrenCollapsible(False)
        self.main_splitter = splitter

        central = QFrame()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(10, 8, 10, 4)
        layout.addWidget(self.analytics_notice)
        layout.addWidget(splitter)
        self.setCentralWidget(central)
        self.setAcceptDrops(True)
        self.installEventFilter(self.file_drop_filter)

    def _connect(self) -> None:
        self.check_button.clicked.connect(self._request_check)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.open_button.clicked.connect(self.choose_files)
        self.input.files_dropped.connect(self.files_dropped)
        self.input.submitted.connect(self._request_check)
        self.file_drop_filter.files_dropped.connect(self.files_dropped)
        self.threshold.valueChanged.connect(self.threshold_changed)
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.status_filter.currentIndexChanged.connect(
            lambda i: self.proxy.set_statuses(self.status_filter.itemData(i))
        )
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.model.dataChanged.connect(self._refresh_details)
        self.model.modelReset.connect(self._refresh_details)

    # -- what the app tells the window ----------------------------------------------------

    def set_checking(self, checking: bool) -> None:
        self.check_button.setEnabled(not checking)
        self.check_action.setEnabled(not checking)
        self.cancel_button.setEnabled(checking)
        self.cancel_action.setEnabled(checking)
        self.progress.setVisible(checking)

    def set_progress(self, done: int, total: int) -> None:
        # QProgressBar.setValue() paints at once (repaint(), not update()), and a
        # synchronous paint also paints whatever else in the window is waiting for
        # one: right after thousands of rows were added, that is the whole table,
        # inside this call. With updates off the bar only marks itself for the next
        # regular paint, which Qt does in a turn of the event loop of its own.
        bar = self.progress
        bar.setUpdatesEnabled(False)
        try:
            bar.setMaximum(max(total, 1))
            bar.setValue(done)
        finally:
            bar.setUpdatesEnabled(True)

    def set_summary(self, text: str) -> None:
        self.summary_label.setText(text or "No domains watched yet")

    def set_threshold(self, days: int) -> None:
        blocked = self.threshold.blockSignals(True)
        self.threshold.setValue(days)
        self.threshold.blockSignals(blocked)

    def show_input_errors(self, errors: Sequence[InputError]) -> None:
        """List rejected lines under the input, and mark the ones that came from it."""
        self.input_errors.clear()
        warning = icons.status_icon(Status.EXPIRED)
        for error in errors:
            where = (
                f"Line {error.line}"
                if error.source == INPUT_SOURCE
                else f"{Path(error.source).name}, line {error.line}"
            )
            item = QListWidgetItem(warning, f"{where}: {error.text} — {error.error}")
            item.setToolTip(f"{error.source}:{error.line}: {error.error}")
            self.input_errors.addItem(item)
        self.input_errors.setVisible(bool(errors))
        self.input.mark_lines([e.line for e in errors if e.source == INPUT_SOURCE])

    def show_analytics_notice(self) -> None:
        """First run: say what statistics are sent, with a way to turn them off."""
        self.analytics_notice.show()

    def hide_analytics_notice(self) -> None:
        self.analytics_notice.hide()

    def _on_analytics_notice_answered(self, keep_on: bool) -> None:
        self.analytics_notice.hide()
        self.analytics_notice_answered.emit(keep_on)
        if not keep_on:
            self.statusBar().showMessage(
                "Usage statistics are off. You can change this in the preferences.",
                _STATUS_MESSAGE_TIMEOUT_MS,
            )

    def show_message(self, message: Message) -> None:
        """Present a message from the seam: status bar, or a non-blocking dialog."""
        if message.level is Level.INFO:
            self.statusBar().showMessage(message.text, _STATUS_MESSAGE_TIMEOUT_MS)
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning
            if message.level is Level.WARNING
            else QMessageBox.Icon.Critical,
            "Domain Check",
            message.text,
            QMessageBox.StandardButton.Ok,
            self,
        )
        if message.details:
            box.setInformativeText(message.details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal sheet; never blocks the event loop

    def select_key(self, key: tuple[str, int]) -> bool:
        """Select and scroll to a target's row (clearing filters that hide it)."""
        position = self.model.row_of(key)
        if position is None:
            return False
        source = self.model.index(position, 0)
        proxy_index = self.proxy.mapFromSource(source)
        if not proxy_index.isValid():
            self.filter_edit.clear()
            self.status_filter.setCurrentIndex(0)
            proxy_index = self.proxy.mapFromSource(source)
        self.table.selectRow(proxy_index.row())
        self.table.scrollTo(proxy_index)
        return True

    def selected_rows(self) -> list[WatchRow]:
        """Selected rows in the order they are shown."""
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [row for r in rows if (row := self.proxy.row_at(r)) is not None]

    def bring_to_front(self) -> None:
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    # -- user actions ----------------------------------------------------------------

    def _request_check(self) -> None:
        self.check_requested.emit(self.input.toPlainText())

    def _request_remove(self) -> None:
        keys = [row.target.key for row in self.selected_rows()]
        if keys:
            self.remove_requested.emit(keys)

    def choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Add domain lists", "", LIST_FILE_FILTER)
        if names:
            self.files_opened.emit([Path(n) for n in names])

    def choose_export_file(self) -> None:
        name, chosen_filter = QFileDialog.getSaveFileName(
            self,
            "Export results",
            "domaincheck-results.csv",
            "CSV (*.csv);;JSON, as domaincheck check --format json (*.json)",
        )
        if name:
            path = Path(name)
            if not path.suffix:
                path = path.with_suffix(".json" if "json" in chosen_filter.lower() else ".csv")
            self.export_requested.emit(path)

    def copy_selected_rows(self) -> str:
        """Copy the selected rows as tab-separated text with a header line."""
        rows = self.selected_rows()
        if not rows:
            return ""
        lines = ["\t".join(HEADERS)]
        lines += [
            "\t".join(display_value(row, c).replace("\t", " ") for c in range(COLUMN_COUNT))
            for row in rows
        ]
        text = "\n".join(lines) + "\n"
        # setText, not setMimeData: the clipboard takes ownership of a QMimeData and
        # deletes it again at exit after Python already has (a crash at shutdown).
        QGuiApplication.clipboard().setText(text)
        self.statusBar().showMessage(
            f"Copied {len(rows)} row{'s' if len(rows) != 1 else ''}", _STATUS_MESSAGE_TIMEOUT_MS
        )
        return text

    def _on_selection_changed(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        self._refresh_details()

    def _refresh_details(self, *args: object) -> None:
        current = self.table.selectionModel().currentIndex()
        rows = self.table.selectionModel().selectedRows()
        index = rows[0] if rows else (current if current.isValid() else QModelIndex())
        self.details.show_row(self.proxy.row_at(index.row()) if index.isValid() else None)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.model.palette_changed()  # light/dark switch: status colours follow
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.close_handler is not None:
            self.close_handler(event)
        else:
            event.accept()


def file_url_mime(paths: Sequence[Path]) -> QMimeData:
    """A drag payload of local files, as a file manager makes it (tests, bench)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    return mime
