"""install.sh / uninstall.sh against a fake bundle and a throw-away HOME."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.packaging.conftest import PACKAGING

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
SIZES = ("16x16", "48x48", "256x256")


def fake_release(root: Path) -> Path:
    """An unpacked release folder: a stand-in app plus the real scripts."""
    release = root / "DomainCheck-0.0.0-linux-x86_64"
    app = release / "DomainCheck"
    (app / "_internal").mkdir(parents=True)
    executable = app / "DomainCheck"
    executable.write_text('#!/bin/sh\necho fake Domain Check "$@"\n')
    executable.chmod(0o755)
    (app / "_internal" / "libfake.so").write_bytes(b"\0" * 10)
    applications = app / "share" / "applications"
    applications.mkdir(parents=True)
    applications.joinpath("domaincheck.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=Domain Check\nExec=DomainCheck %F\n"
        "Icon=domaincheck\nTerminal=false\n"
    )
    for size in SIZES:
        icon_dir = app / "share" / "icons" / "hicolor" / size / "apps"
        icon_dir.mkdir(parents=True)
        icon_dir.joinpath("domaincheck.png").write_bytes(b"png " + size.encode())
    scalable = app / "share" / "icons" / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True)
    scalable.joinpath("domaincheck.svg").write_text("<svg/>")
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy(PACKAGING / script, release / script)
    return release


def run(script: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    return subprocess.run(
        ["sh", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def test_install_places_app_launcher_and_icons(tmp_path: Path, home: Path) -> None:
    release = fake_release(tmp_path)
    result = run(release / "install.sh", home)
    assert result.returncode == 0, result.stderr

    app = home / ".local" / "opt" / "DomainCheck"
    executable = app / "DomainCheck"
    assert executable.stat().st_mode & stat.S_IXUSR
    assert (app / "_internal" / "libfake.so").is_file()
    assert (app / "uninstall.sh").stat().st_mode & stat.S_IXUSR

    entry = (home / ".local" / "share" / "applications" / "domaincheck.desktop").read_text()
    assert f'\nExec="{executable}" %F\n' in entry
    assert f"\nTryExec={executable}\n" in entry
    assert "\nIcon=domaincheck\n" in entry
    icons = home / ".local" / "share" / "icons" / "hicolor"
    for size in SIZES:
        assert (icons / size / "apps" / "domaincheck.png").read_bytes() == b"png " + size.encode()
    assert (icons / "scalable" / "apps" / "domaincheck.svg").is_file()
    assert subprocess.run([str(executable)], capture_output=True, text=True).stdout.startswith(
        "fake Domain Check"
    )


def test_desktop_entry_validates(tmp_path: Path, home: Path) -> None:
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate is not installed")
    run(fake_release(tmp_path) / "install.sh", home)
    entry = home / ".local" / "share" / "applications" / "domaincheck.desktop"
    result = subprocess.run([validator, str(entry)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_reinstall_upgrades_in_place(tmp_path: Path, home: Path) -> None:
    release = fake_release(tmp_path)
    assert run(release / "install.sh", home).returncode == 0
    stale = home / ".local" / "opt" / "DomainCheck" / "_internal" / "from-old-version.so"
    stale.write_bytes(b"old")
    assert run(release / "install.sh", home).returncode == 0
    assert not stale.exists()
    assert not list((home / ".local" / "opt").glob(".DomainCheck.installing*"))


def test_uninstall_removes_everything_but_user_data(tmp_path: Path, home: Path) -> None:
    release = fake_release(tmp_path)
    assert run(release / "install.sh", home).returncode == 0
    user_data = home / ".local" / "share" / "domaincheck" / "watchlist.sqlite3"
    user_data.parent.mkdir(parents=True)
    user_data.write_bytes(b"precious")

    result = run(home / ".local" / "opt" / "DomainCheck" / "uninstall.sh", home)
    assert result.returncode == 0, result.stderr
    assert not (home / ".local" / "opt").exists()
    assert not (home / ".local" / "share" / "applications" / "domaincheck.desktop").exists()
    assert not list((home / ".local" / "share" / "icons").rglob("domaincheck.*"))
    assert user_data.read_bytes() == b"precious"


def test_install_refuses_without_a_bundle(tmp_path: Path, home: Path) -> None:
    release = fake_release(tmp_path)
    shutil.rmtree(release / "DomainCheck")
    result = run(release / "install.sh", home)
    assert result.returncode != 0
    assert "no app" in result.stderr
    assert not (home / ".local").exists()


def login_entry(home: Path) -> Path:
    return home / ".config" / "autostart" / "domaincheck.desktop"


def test_uninstall_removes_the_login_entry_of_this_install(tmp_path: Path, home: Path) -> None:
    from desktop.autostart import Autostart, launch_command

    assert run(fake_release(tmp_path) / "install.sh", home).returncode == 0
    installed = home / ".local" / "opt" / "DomainCheck" / "DomainCheck"
    # What the frozen app itself writes at its first watched domain.
    command = launch_command(frozen=True, executable=str(installed))
    autostart = Autostart(
        platform="linux", home=home, config_home=home / ".config", command=command
    )
    autostart.set_enabled(True)
    assert autostart.location() == str(login_entry(home))

    result = run(home / ".local" / "opt" / "DomainCheck" / "uninstall.sh", home)
    assert result.returncode == 0, result.stderr
    assert not login_entry(home).exists()
    assert not installed.exists()


def test_uninstall_keeps_another_installs_login_entry(tmp_path: Path, home: Path) -> None:
    from desktop.autostart import Autostart

    assert run(fake_release(tmp_path) / "install.sh", home).returncode == 0
    other = [str(home / "src" / "domaincheck" / ".venv" / "bin" / "domaincheck-desktop")]
    Autostart(platform="linux", home=home, config_home=home / ".config", command=other).set_enabled(
        True
    )
    before = login_entry(home).read_text()

    result = run(home / ".local" / "opt" / "DomainCheck" / "uninstall.sh", home)
    assert result.returncode == 0, result.stderr
    assert login_entry(home).read_text() == before  # it starts a source checkout, not us


def test_uninstall_knows_the_install_by_its_resolved_path_too(tmp_path: Path) -> None:
    from desktop.autostart import Autostart

    real_home = tmp_path / "real-home"
    real_home.mkdir()
    home = tmp_path / "home-link"  # e.g. /home -> /usr/home
    home.symlink_to(real_home)
    assert run(fake_release(tmp_path) / "install.sh", home).returncode == 0
    # A frozen app may see its own path with the links resolved.
    resolved = real_home / ".local" / "opt" / "DomainCheck" / "DomainCheck"
    Autostart(
        platform="linux", home=home, config_home=home / ".config", command=[str(resolved)]
    ).set_enabled(True)

    result = run(home / ".local" / "opt" / "DomainCheck" / "uninstall.sh", home)
    assert result.returncode == 0, result.stderr
    assert not login_entry(home).exists()
