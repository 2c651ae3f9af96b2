"""Icons and status colours.

The icons are hand-written SVGs in ``resources/icons``, rendered with QSvgRenderer at
every size a QIcon may be asked for, so they stay sharp on High-DPI screens and need
no image plugin at run time. Status colours have a light-theme and a dark-theme
shade; callers pass the palette they paint on, so the app follows the system theme.
"""

from __future__ import annotations

import functools

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from core import paths
from core.models import Status

_ICON_SIZES_PX = (16, 20, 22, 24, 32, 40, 44, 48, 64, 96, 128, 256)

#: Shade of each status on a light background and on a dark one.
_STATUS_COLOURS = {
    Status.VALID: ("#1e7b3a", "#6fd38f"),
    Status.EXPIRING: ("#9a6200", "#ffc24d"),
    Status.EXPIRED: ("#b3261e", "#ff8a80"),
    Status.INVALID: ("#9c1f6a", "#f48fcf"),
    Status.ERROR: ("#4b5563", "#b8bec8"),
    Status.UNKNOWN: ("#6b7280", "#9aa1ab"),
}


def _svg_path(name: str) -> str:
    return str(paths.resource(f"icons/{name}.svg"))


@functools.cache
def _renderer(name: str) -> QSvgRenderer:
    renderer = QSvgRenderer(_svg_path(name))
    if not renderer.isValid():
        raise FileNotFoundError(f"icon {name!r} is missing or broken: {_svg_path(name)}")
    return renderer


def render(name: str, size_px: int) -> QPixmap:
    """The SVG icon ``name`` as a transparent square pixmap."""
    pixmap = QPixmap(size_px, size_px)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    _renderer(name).render(painter, QRectF(0, 0, size_px, size_px))
    painter.end()
    return pixmap


@functools.cache
def svg_icon(name: str) -> QIcon:
    icon = QIcon()
    for size in _ICON_SIZES_PX:
        icon.addPixmap(render(name, size))
    return icon


def app_icon() -> QIcon:
    return svg_icon("domaincheck")


def status_icon(status: Status | None) -> QIcon:
    """Icon for a status; ``None`` (never checked) shares the "unknown" ring."""
    return svg_icon(f"status-{(status or Status.UNKNOWN).value}")


@functools.cache
def tray_icon(status: Status | None) -> QIcon:
    """The app icon, with a status badge in the corner unless all is well."""
    icon = QIcon()
    for size in _ICON_SIZES_PX:
        pixmap = render("domaincheck", size)
        if status not in (None, Status.VALID, Status.UNKNOWN):
            badge = round(size * 0.58)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            _renderer(f"status-{status.value}").render(
                painter, QRectF(size - badge, size - badge, badge, badge)
            )
            painter.end()
        icon.addPixmap(pixmap)
    return icon


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def status_colour(status: Status | None, palette: QPalette) -> QColor:
    light, dark = _STATUS_COLOURS[status or Status.UNKNOWN]
    return QColor(dark if is_dark(palette) else light)


def icon_size() -> QSize:
    return QSize(16, 16)
