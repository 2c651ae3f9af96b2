"""``build.spec`` runs on every platform, and keeps what the frozen app needs.

The spec is executed with stand-ins for PyInstaller's build classes (they record
their arguments), once per platform, so the Windows and macOS branches are checked
here on Linux without building anything.
"""

from __future__ import annotations

import plistlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.packaging.conftest import ROOT

compat = pytest.importorskip("PyInstaller.compat", reason="PyInstaller is not installed")
# Imported while is_win still tells the truth: on a patched "Windows" PyInstaller's
# build utilities would import Windows-only modules.
pytest.importorskip("PyInstaller.utils.hooks")
SPEC = ROOT / "build.spec"


class Recorder:
    """Records the keyword arguments of one PyInstaller build step."""

    calls: list[Recorder]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        self.calls.append(self)


class FakeAnalysis(Recorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.binaries = list(BINARIES)
        self.datas = [*DATAS, *((Path(src).name, dest, "DATA") for src, dest in kwargs["datas"])]
        self.pure: list[Any] = []
        self.scripts: list[Any] = []


Q = "PySide6/Qt"
BINARIES = [
    (f"{Q}/plugins/platforms/libqxcb.so", "/x", "BINARY"),
    (f"{Q}/plugins/platforms/libqwayland.so", "/x", "BINARY"),
    (f"{Q}/plugins/platforms/libqoffscreen.so", "/x", "BINARY"),
    (f"{Q}/plugins/platforms/libqeglfs.so", "/x", "BINARY"),
    (f"{Q}/plugins/platforms/libqvnc.so", "/x", "BINARY"),
    (f"{Q}/plugins/tls/libqopensslbackend.so", "/x", "BINARY"),
    (f"{Q}/plugins/imageformats/libqsvg.so", "/x", "BINARY"),
    (f"{Q}/plugins/imageformats/libqpdf.so", "/x", "BINARY"),
    (f"{Q}/plugins/imageformats/libqjpeg.so", "/x", "BINARY"),
    (f"{Q}/plugins/platformthemes/libqgtk3.so", "/x", "BINARY"),
    (f"{Q}/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so", "/x", "BINARY"),
    (f"{Q}/plugins/wayland-shell-integration/libxdg-shell.so", "/x", "BINARY"),
    (f"{Q}/lib/libQt6Pdf.so.6", "/x", "BINARY"),
    (f"{Q}/lib/libQt6Widgets.so.6", "/x", "BINARY"),
    ("libQt6OpenGL.so.6", f"{Q}/lib/libQt6OpenGL.so.6", "SYMLINK"),
]
DATAS = [
    (f"{Q}/translations/qtbase_de.qm", "/x", "DATA"),
]


def run_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, win: bool, darwin: bool
) -> dict[str, Any]:
    monkeypatch.setattr(compat, "is_win", win)
    monkeypatch.setattr(compat, "is_darwin", darwin)
    calls: list[Recorder] = []
    names = ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")
    classes = {
        name: type(name, (FakeAnalysis if name == "Analysis" else Recorder,), {"calls": calls})
        for name in names
    }
    namespace: dict[str, Any] = {
        "__file__": str(SPEC),
        "SPECPATH": str(ROOT),
        "DISTPATH": str(tmp_path / "dist"),
        "workpath": str(tmp_path / "build"),
        **classes,
    }
    exec(compile(SPEC.read_text(), str(SPEC), "exec"), namespace)
    namespace["_calls"] = {type(call).__name__: call for call in calls}
    return namespace


@pytest.fixture
def linux(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    yield run_spec(tmp_path, monkeypatch, win=False, darwin=False)


def test_onedir_windowed_executable(linux: dict[str, Any]) -> None:
    calls = linux["_calls"]
    exe = calls["EXE"].kwargs
    assert exe["name"] == "DomainCheck"
    assert exe["console"] is False
    assert exe["exclude_binaries"] is True  # onedir: binaries go to COLLECT
    assert exe["strip"] is True and exe["upx"] is False
    assert calls["COLLECT"].kwargs["name"] == "DomainCheck"
    assert "BUNDLE" not in calls


def test_entry_point_calls_freeze_support_first() -> None:
    entry = (ROOT / "packaging" / "entry.py").read_text()
    assert entry.index("multiprocessing.freeze_support()") < entry.index("from desktop")


def test_resources_and_runtime_data_are_bundled(linux: dict[str, Any]) -> None:
    analysis = linux["_calls"]["Analysis"].kwargs
    bundled = {(Path(src).name, dest) for src, dest in analysis["datas"]}
    # IANA's bootstrap: bundled from ../shared/data/ when the building machine has it.
    shared_copy = linux["SHARED_BOOTSTRAP"]
    assert shared_copy == ROOT.parent / "shared" / "data" / "iana-rdap-dns.json"
    assert (("iana-rdap-dns.json", "resources") in bundled) == shared_copy.is_file()
    if shared_copy.is_file():
        assert (str(shared_copy), "resources") in analysis["datas"]
    assert ("domaincheck.svg", "resources/icons") in bundled
    assert ("status-expired.svg", "resources/icons") in bundled
    assert ("tray-expiring-16.png", "resources/icons/tray") in bundled
    assert ("public_suffix_list.dat", "publicsuffixlist") in bundled
    assert any(dest.startswith("keyring-") and dest.endswith(".dist-info") for _, dest in bundled)
    assert "desktop.selftest" in analysis["hiddenimports"]
    assert "desktop.engine_process" in analysis["hiddenimports"]
    assert any(name.startswith("keyring.backends") for name in analysis["hiddenimports"])
    assert {"backend", "fastapi", "sqlalchemy", "tkinter"} <= set(analysis["excludes"])


def test_unused_qt_parts_are_dropped(linux: dict[str, Any]) -> None:
    analysis = linux["_calls"]["Analysis"]
    kept = {Path(dest).name for dest, _src, _kind in analysis.binaries + analysis.datas}
    assert {
        "libqxcb.so",
        "libqwayland.so",
        "libqoffscreen.so",
        "libqopensslbackend.so",
        "libqsvg.so",
        "libxdg-shell.so",
        "libQt6Widgets.so.6",
    } <= kept
    dropped = {
        "libqeglfs.so",
        "libqvnc.so",
        "libqpdf.so",
        "libqjpeg.so",
        "libqgtk3.so",
        "libqtvirtualkeyboardplugin.so",
        "libQt6Pdf.so.6",
        "libQt6OpenGL.so.6",
        "qtbase_de.qm",
    }
    assert not dropped & kept


def test_linux_desktop_entry_and_hicolor_icons(linux: dict[str, Any], tmp_path: Path) -> None:
    share = tmp_path / "dist" / "DomainCheck" / "share"
    entry = (share / "applications" / "domaincheck.desktop").read_text()
    assert "\nExec=DomainCheck %F\n" in entry
    assert "\nIcon=domaincheck\n" in entry
    for size in linux["HICOLOR_SIZES_PX"]:
        assert (
            share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "domaincheck.png"
        ).is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / "domaincheck.svg").is_file()


def test_windows_icon_and_version_resource(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = run_spec(tmp_path, monkeypatch, win=True, darwin=False)
    exe = namespace["_calls"]["EXE"].kwargs
    assert exe["icon"].endswith("domaincheck.ico")
    assert exe["strip"] is False
    version = Path(exe["version"]).read_text()
    assert f"StringStruct('ProductVersion', '{namespace['VERSION']}')" in version
    assert "filevers=(" in version
    assert not (tmp_path / "dist" / "DomainCheck" / "share").exists()


def test_macos_bundle_info_plist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = run_spec(tmp_path, monkeypatch, win=False, darwin=True)
    bundle = namespace["_calls"]["BUNDLE"].kwargs
    assert bundle["name"] == "Domain Check.app"
    assert bundle["icon"].endswith("domaincheck.icns")
    plist = bundle["info_plist"]
    plistlib.dumps(plist)  # serialisable as written into Info.plist
    assert plist["CFBundleIdentifier"] == bundle["bundle_identifier"]
    assert plist["CFBundleShortVersionString"] == namespace["VERSION"]
    assert plist["NSHighResolutionCapable"] is True
    (document,) = plist["CFBundleDocumentTypes"]
    assert set(document["CFBundleTypeExtensions"]) == {"txt", "csv"}
    assert "public.comma-separated-values-text" in document["LSItemContentTypes"]


def test_version_comes_from_core(linux: dict[str, Any]) -> None:
    import core

    assert linux["VERSION"] == core.__version__


def test_no_copy_of_the_rdap_bootstrap_is_part_of_the_project() -> None:
    """IANA's file is other people's data: fetched on first use, never committed."""
    assert not (ROOT / "resources" / "iana-rdap-dns.json").exists()
