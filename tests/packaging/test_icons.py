"""The generated icons exist at every size, are well-formed, and match their SVGs."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path
from typing import Any

import pytest

from tests.packaging.conftest import ROOT, load_script

make_icons = load_script("make_icons")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("size", make_icons.APP_SIZES_PX)
def test_app_png_at_every_size(size: int) -> None:
    assert png_size(make_icons.app_png_path(size).read_bytes()) == (size, size)


def test_app_sizes_cover_16_to_512() -> None:
    assert min(make_icons.APP_SIZES_PX) == 16
    assert max(make_icons.APP_SIZES_PX) == 512


@pytest.mark.parametrize("status", make_icons.TRAY_STATUSES)
@pytest.mark.parametrize("size", make_icons.TRAY_SIZES_PX)
def test_tray_png_per_status_and_size(status: str, size: int) -> None:
    assert png_size(make_icons.tray_png_path(status, size).read_bytes()) == (size, size)


def test_tray_statuses_include_the_issue_s_four() -> None:
    assert {"valid", "expiring", "expired", "error"} <= set(make_icons.TRAY_STATUSES)


def test_ico_holds_a_png_per_size() -> None:
    data = (make_icons.ICONS_DIR / "domaincheck.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1)
    sizes = []
    for index in range(count):
        entry = data[6 + 16 * index : 6 + 16 * (index + 1)]
        width, _height, _colours, _r, _planes, _bpp, length, offset = struct.unpack(
            "<BBBBHHII", entry
        )
        payload = data[offset : offset + length]
        actual = png_size(payload)[0]
        assert actual == (width or 256)
        sizes.append(actual)
    assert sorted(sizes) == sorted(make_icons.ICO_SIZES_PX)


def test_icns_holds_every_element() -> None:
    data = (make_icons.ICONS_DIR / "domaincheck.icns").read_bytes()
    assert data[:4] == b"icns"
    assert struct.unpack(">I", data[4:8])[0] == len(data)
    found = {}
    position = 8
    while position < len(data):
        kind = data[position : position + 4]
        length = struct.unpack(">I", data[position + 4 : position + 8])[0]
        found[kind] = png_size(data[position + 8 : position + length])[0]
        position += length
    assert found == {kind: size for kind, size in make_icons.ICNS_TYPES}


def test_generated_files_match_the_svg_sources(
    qapp: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-render into a copy: an edited SVG without regenerated PNGs fails here."""
    copy = tmp_path / "icons"
    shutil.copytree(make_icons.ICONS_DIR, copy)
    monkeypatch.setattr(make_icons, "ICONS_DIR", copy)
    monkeypatch.setattr(make_icons, "ROOT", tmp_path)
    assert make_icons.main([]) == 0
    for generated in sorted(copy.rglob("*")):
        if generated.suffix in (".png", ".ico", ".icns"):
            original = ROOT / "resources" / "icons" / generated.relative_to(copy)
            assert generated.read_bytes() == original.read_bytes(), (
                f"{original} is stale: run packaging/make_icons.py"
            )
