"""Render the app and tray icons from the SVG sources into the files packaging needs.

    python packaging/make_icons.py          # rewrite resources/icons/{app,tray}, .ico, .icns

The SVGs in ``resources/icons`` are the sources; everything written here is generated
and committed, so a build needs no SVG tooling. PNGs are rendered with Qt's
``QSvgRenderer`` (PySide6-Essentials ships QtSvg) on the offscreen platform. The
``.ico`` and ``.icns`` containers are written in plain Python with PNG payloads, which
every Windows since Vista and every macOS since 10.7 reads, so no Pillow or
``iconutil`` is needed and the output is the same on every OS.

Tray icons are the app icon with a status badge in the corner (as the running app
draws them, see ``desktop/icons.py``) plus a white halo behind the badge, so the badge
stays distinct at 16 px on light and dark panels alike.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS_DIR = ROOT / "resources" / "icons"
APP_SVG = "domaincheck"
#: Sizes of the app icon PNGs: hicolor themes, the window icon, .ico and .icns.
APP_SIZES_PX = (16, 22, 24, 32, 48, 64, 128, 256, 512)
#: Sizes trays ask for (16/22/24 on Linux and Windows, 32/48/64 on High-DPI panels).
TRAY_SIZES_PX = (16, 22, 24, 32, 48, 64)
TRAY_STATUSES = ("valid", "expiring", "expired", "invalid", "error")
ICO_SIZES_PX = (16, 24, 32, 48, 64, 128, 256)
#: icns element type for each PNG payload size (Apple's ``iconutil`` naming).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"ic11", 32),  # 16@2x
    (b"icp6", 64),
    (b"ic12", 64),  # 32@2x
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic13", 256),  # 128@2x
    (b"ic09", 512),
    (b"ic14", 512),  # 256@2x
)
#: Badge edge as a fraction of the icon edge (the same as ``desktop/icons.py``).
BADGE_FRACTION = 0.58


def say(line: str) -> None:
    """Progress for the person running the build (this is a command-line tool)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def app_png_path(size_px: int) -> Path:
    return ICONS_DIR / "app" / f"domaincheck-{size_px}.png"


def tray_png_path(status: str, size_px: int) -> Path:
    return ICONS_DIR / "tray" / f"tray-{status}-{size_px}.png"


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows ``.ico`` holding one PNG per size (a 256 px entry is written as 0)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    directory = b""
    payload = b""
    for size in sizes:
        data = pngs[size]
        edge = 0 if size >= 256 else size
        directory += struct.pack("<BBBBHHII", edge, edge, 0, 0, 1, 32, len(data), offset)
        payload += data
        offset += len(data)
    return header + directory + payload


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS ``.icns`` with PNG elements for 16-512 px at 1x and 2x."""
    body = b""
    for kind, size in ICNS_TYPES:
        data = pngs[size]
        body += kind + struct.pack(">I", 8 + len(data)) + data
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
    from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(list(argv or sys.argv[:1]))
    del app  # only needs to exist

    def renderer(name: str) -> QSvgRenderer:
        svg = ICONS_DIR / f"{name}.svg"
        result = QSvgRenderer(str(svg))
        if not result.isValid():
            raise SystemExit(f"cannot render {svg}")
        return result

    def blank(size_px: int) -> QImage:
        image = QImage(size_px, size_px, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        return image

    def png(image: QImage) -> bytes:
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buffer, "PNG"):
            raise SystemExit("Qt could not encode a PNG")
        buffer.close()
        return bytes(data.data())

    def render_app(size_px: int) -> QImage:
        image = blank(size_px)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer(APP_SVG).render(painter, QRectF(0, 0, size_px, size_px))
        painter.end()
        return image

    def render_tray(status: str, size_px: int) -> QImage:
        image = render_app(size_px)
        if status == "valid":
            return image  # all is well: the plain app icon, like the running app
        badge = round(size_px * BADGE_FRACTION)
        halo = max(1.0, size_px / 16)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#ffffff"))
        corner = size_px - badge
        painter.drawEllipse(
            QRectF(corner - halo, corner - halo, badge + 2 * halo, badge + 2 * halo)
        )
        renderer(f"status-{status}").render(painter, QRectF(corner, corner, badge, badge))
        painter.end()
        return image

    def write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
            say(f"wrote {path.relative_to(ROOT)}")

    pngs = {size: png(render_app(size)) for size in {*APP_SIZES_PX, *ICO_SIZES_PX, 512}}
    for size in APP_SIZES_PX:
        write(app_png_path(size), pngs[size])
    write(ICONS_DIR / "domaincheck.ico", ico_bytes({s: pngs[s] for s in ICO_SIZES_PX}))
    write(ICONS_DIR / "domaincheck.icns", icns_bytes(pngs))
    for status in TRAY_STATUSES:
        for size in TRAY_SIZES_PX:
            write(tray_png_path(status, size), png(render_tray(status, size)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
