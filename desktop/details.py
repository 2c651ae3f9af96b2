"""The details pane: everything known about the selected row, each component apart.

The table says what is wrong in one line; this pane says why, with each component's
own dates (the certificate's, the chain's earliest, the registration's) and the raw
verification text from OpenSSL, which is for people who ask and nowhere else. It sits
in a scroll area and every value wraps, so nothing is clipped at any size or theme.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFontDatabase, QResizeEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QFormLayout,
    QFrame,
    QGroupBox,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop import icons
from desktop.details_values import (
    details_of,
    endpoint_lines,
    format_fingerprint,
    issuer_name,
)
from desktop.rows import WatchRow

__all__ = [
    "SECTIONS",
    "DetailsPane",
    "breakable",
    "details_of",
    "details_texts",
    "format_fingerprint",
    "issuer_name",
]

#: Sections of the pane: title, then (key, label) of each field.
SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Domain",
        (
            ("domain", "Domain"),
            ("status", "Status"),
            ("problem", "Problem"),
            ("group", "Group"),
            ("threshold", "Threshold"),
            ("checked", "Last checked"),
        ),
    ),
    (
        "Certificate",
        (
            ("subject", "Subject"),
            ("sans", "Names (SANs)"),
            ("issuer", "Issuer"),
            ("valid_from", "Valid from"),
            ("valid_until", "Valid until"),
            ("lifetime", "Lifetime"),
            ("chain", "Chain"),
            ("renewal", "Renewal window"),
            ("renewal_url", "CA explains"),
            ("revocation", "Revocation"),
            ("fingerprint", "SHA-256"),
            ("verification", "Verification"),
            ("openssl", "OpenSSL says"),
        ),
    ),
    (
        "Registration",
        (
            ("registrable", "Registered name"),
            ("registration", "Expires"),
            ("registration_source", "Source"),
            ("registrar", "Registrar"),
            ("statuses", "Statuses"),
            ("nameservers", "Name servers"),
            ("changes", "Changes"),
        ),
    ),
)
#: Fields shown as a link (a URL that opens in the browser), not as plain text.
LINK_FIELDS = frozenset({"renewal_url"})
#: Narrower than this per section, the sections stack instead of sitting side by side.
_SECTION_MIN_WIDTH_PX = 320
#: Where a long value without spaces (a host name, a URL) may wrap.
_BREAK_AFTER = frozenset("./-_:,@")
_ZERO_WIDTH_SPACE = "\u200b"
#: Words longer than this get wrapping points after dots, slashes and dashes.
_LONG_WORD_CHARS = 24


def breakable(text: str) -> str:
    """``text`` with zero-width wrap points inside long words (host names, URLs).

    A QLabel wraps only at spaces; a 45-character host name would be cut off in a
    narrow pane instead of wrapping.
    """
    words = text.split(" ")
    for number, word in enumerate(words):
        if len(word) > _LONG_WORD_CHARS:
            words[number] = "".join(
                char + _ZERO_WIDTH_SPACE if char in _BREAK_AFTER else char for char in word
            )
    return " ".join(words)


def details_texts(row: WatchRow, default_threshold: int | None = None) -> dict[str, str]:
    """Every field's text for ``row`` (see :func:`desktop.details_values.details_of`),
    with the renewal window's explanation URL as its own field."""
    values = details_of(row, default_threshold)
    tls = row.result.tls if row.result is not None else None
    if tls is not None and tls.renewal is not None and tls.renewal.explanation_url:
        values["renewal_url"] = tls.renewal.explanation_url
    return values


class _ValueLabel(QLabel):
    """A selectable, wrapping value that may shrink to any width (it wraps instead)."""

    def __init__(self, title: str, *, link: bool = False) -> None:
        super().__init__()
        self.setWordWrap(True)
        if link:  # a URL people may open: rich text holding one escaped link
            self.setTextFormat(Qt.TextFormat.RichText)
            self.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
            self.setOpenExternalLinks(True)
        else:
            self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.setTextFormat(Qt.TextFormat.PlainText)
        self.setAccessibleName(title)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(1)


class DetailsPane(QGroupBox):
    """Everything known about the selected row, in sections side by side.

    ``labels`` holds each field's value label by key (see ``SECTIONS``).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Details", parent)
        self.setAccessibleName("Details of the selected domain")
        self.labels: dict[str, QLabel] = {}
        #: The run's default threshold (the Threshold line names it for rows without
        #: their own); ``None`` until the window is told.
        self.default_threshold: int | None = None
        self._forms: dict[str, QFormLayout] = {}
        self._sections: dict[str, QWidget] = {}
        content = QWidget()
        content.setObjectName("detailsContent")
        columns = QBoxLayout(QBoxLayout.Direction.LeftToRight, content)
        self._columns = columns
        columns.setContentsMargins(4, 0, 4, 4)
        columns.setSpacing(18)
        self.placeholder = QLabel("Select a domain to see its certificate and registration.")
        self.placeholder.setWordWrap(True)
        columns.addWidget(self.placeholder, 1, Qt.AlignmentFlag.AlignTop)
        for title, fields in SECTIONS:
            columns.addWidget(self._section(title, fields), 1, Qt.AlignmentFlag.AlignTop)
        # Under the domain's own fields (the shortest column, so the list is in view
        # without scrolling), and the pane keeps three columns side by side.
        self.endpoints = self._endpoints_section()
        domain = self._sections["Domain"].layout()
        assert domain is not None
        domain.addWidget(self.endpoints)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for key in ("fingerprint", "openssl"):
            self.labels[key].setFont(mono)

        self.content = content
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidget(content)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Small enough for the one-line hint; the splitter gives more when there is more.
        self.scroll_area.setMinimumHeight(self.fontMetrics().height() + 8)
        layout = self._outer = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.scroll_area)
        self.show_row(None)

    def _section(self, title: str, fields: Sequence[tuple[str, str]]) -> QWidget:
        box = QWidget()
        box.setObjectName(f"details{title}")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        heading = QLabel(title)
        font = heading.font()
        font.setBold(True)
        heading.setFont(font)
        layout.addWidget(heading)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        for key, label_text in fields:
            label = _ValueLabel(label_text, link=key in LINK_FIELDS)
            self.labels[key] = label
            self._forms[key] = form
            form.addRow(f"{label_text}:", label)
        layout.addLayout(form)
        self._sections[title] = box
        return box

    def _endpoints_section(self) -> QWidget:
        """Where each address the name resolves to will be listed (hidden until then)."""
        box = QWidget()
        box.setObjectName("detailsEndpoints")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 6, 0, 0)
        heading = QLabel("Addresses")
        font = heading.font()
        font.setBold(True)
        heading.setFont(font)
        self.endpoints_list = _ValueLabel("Endpoints")
        layout.addWidget(heading)
        layout.addWidget(self.endpoints_list)
        box.hide()
        return box

    def show_endpoints(self, lines: Sequence[str]) -> None:
        """List the row's endpoints (one line each); none hides the section."""
        self.endpoints_list.setText("\n".join(lines))
        self.endpoints.setVisible(bool(lines))
        self._arrange()

    def show_row(self, row: WatchRow | None) -> None:
        values = dict.fromkeys(self.labels, "")
        if row is not None:
            values.update(details_texts(row, self.default_threshold))
        self.placeholder.setVisible(row is None)
        for key, label in self.labels.items():
            text = values[key]
            if key in LINK_FIELDS:
                link = html.escape(text, quote=True)
                label.setText(
                    f'<a href="{link}">{html.escape(breakable(text))}</a>' if text else ""
                )
            else:
                label.setText(text if key == "fingerprint" else breakable(text))
            self._forms[key].setRowVisible(label, bool(text))
        for title, fields in SECTIONS:
            self._sections[title].setVisible(any(values[key] for key, _ in fields))
        colour = None if row is None else icons.status_colour(row.status, self.palette())
        self.labels["status"].setStyleSheet("" if colour is None else f"color: {colour.name()}")
        self.show_endpoints(endpoint_lines(None if row is None else row.result))
        self.updateGeometry()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._arrange()

    def _arrange(self) -> None:
        """Sections side by side when there is room for them, else one under another."""
        sections = sum(1 for box in self._sections.values() if not box.isHidden())
        wide = self.width() >= max(sections, 1) * _SECTION_MIN_WIDTH_PX
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self._columns.direction() != direction:
            self._columns.setDirection(direction)

    def wanted_height(self) -> int:
        """How tall the pane must be to show its content at its width without scrolling:
        one line when nothing is selected, every wrapped line of a row otherwise."""
        self._arrange()
        return self._height_for_content()

    def _height_for_content(self) -> int:
        frame = self.height() - self.scroll_area.viewport().height()
        if not self.isVisible() or frame <= 0:  # not laid out yet
            margins = self._outer.contentsMargins()
            frame = margins.top() + margins.bottom() + self.fontMetrics().height() + 8
        width = self.scroll_area.viewport().width()
        if self._columns.hasHeightForWidth() and width > 0:
            content = self._columns.heightForWidth(width)
        else:
            content = self.content.sizeHint().height()
        return frame + content

    def sizeHint(self) -> QSize:
        """As tall as the content wants, so the splitter can give it that much."""
        hint = super().sizeHint()
        return QSize(hint.width(), self._height_for_content())
