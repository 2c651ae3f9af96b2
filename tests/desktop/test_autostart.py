"""Start at login: the command, and every platform's entry (all run on Linux, in temp dirs)."""

from __future__ import annotations

import os
import plistlib
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop.autostart import (
    BACKGROUND_FLAG,
    BUNDLE_ID,
    RUN_VALUE_NAME,
    Autostart,
    AutostartError,
    escape_string,
    exec_line,
    launch_command,
    split_exec,
    split_windows_command,
    unescape_string,
)

ROOT = Path(__file__).resolve().parents[2]
THIS = ["/opt/Domain Check/DomainCheck", "--background"]
OTHER = ["/home/me/old-checkout/.venv/bin/domaincheck-desktop", "--background"]


class FakeRunKey:
    """The per-user Run key as a dict."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)


def xdg(tmp_path: Path, command: list[str] = THIS) -> Autostart:
    return Autostart(platform="linux", home=tmp_path, config_home=tmp_path / "config",
                     command=command, icon="domaincheck")  # fmt: skip


def entry_path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "autostart" / "domaincheck.desktop"


# ------------------------------------------------------------------ launch_command


def test_frozen_bundle_starts_its_own_binary(tmp_path: Path) -> None:
    binary = tmp_path / "DomainCheck"
    assert launch_command(frozen=True, executable=str(binary)) == [str(binary), BACKGROUND_FLAG]


def test_venv_starts_the_script_next_to_the_interpreter(tmp_path: Path) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").touch()
    (bin_dir / "domaincheck-desktop").touch()
    command = launch_command(frozen=False, executable=str(bin_dir / "python"), platform="linux")
    assert command == [str(bin_dir / "domaincheck-desktop"), BACKGROUND_FLAG]


def test_windows_venv_uses_the_exe_in_scripts(tmp_path: Path) -> None:
    scripts = tmp_path / "venv" / "Scripts"
    scripts.mkdir(parents=True)
    (scripts / "domaincheck-desktop.exe").touch()
    command = launch_command(frozen=False, executable=str(scripts / "python.exe"), platform="win32")
    assert command == [str(scripts / "domaincheck-desktop.exe"), BACKGROUND_FLAG]


def test_without_the_script_it_runs_the_module(tmp_path: Path) -> None:
    python = tmp_path / "python3"
    command = launch_command(frozen=False, executable=str(python), platform="linux")
    assert command == [str(python), "-m", "desktop", BACKGROUND_FLAG]


def test_the_command_is_absolute_even_from_a_relative_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    command = launch_command(frozen=True, executable="dist/DomainCheck")
    assert command[0] == str(tmp_path / "dist" / "DomainCheck")


def test_this_venv_gets_its_own_installed_script() -> None:
    command = launch_command()
    assert Path(command[0]).is_absolute()
    assert command[0] == str(Path(os.path.abspath(sys.executable)).parent / "domaincheck-desktop")
    assert command[-1] == BACKGROUND_FLAG


# ------------------------------------------------------------------ Linux / XDG


def test_xdg_entry_is_written_read_back_and_removed(tmp_path: Path) -> None:
    autostart = xdg(tmp_path)
    assert not autostart.is_enabled() and autostart.owner_command() is None
    autostart.set_enabled(True)
    path = entry_path(tmp_path)
    assert autostart.location() == str(path)
    text = path.read_text()
    assert text.startswith("[Desktop Entry]\nType=Application\n")
    assert '\nExec="/opt/Domain Check/DomainCheck" --background\n' in text
    assert "\nX-GNOME-Autostart-enabled=true\n" in text
    assert "\nIcon=domaincheck\n" in text and "\nName=Domain Check\n" in text
    assert "\nComment=" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not [p for p in path.parent.iterdir() if p != path]  # no temporary file left
    assert autostart.is_enabled() and autostart.owner_command() == THIS

    autostart.set_enabled(False)
    assert not path.exists() and not autostart.is_enabled()
    autostart.set_enabled(False)  # turning off twice is fine


def test_xdg_entry_passes_desktop_file_validate(tmp_path: Path) -> None:
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate is not installed")
    xdg(tmp_path, ['/tmp/we"ird $dir/100%/back\\slash/DomainCheck', "--background"]).set_enabled(
        True
    )
    result = subprocess.run([validator, str(entry_path(tmp_path))], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_xdg_exec_quoting_follows_the_desktop_entry_spec() -> None:
    # The spec's own example: a literal backslash in a quoted argument is four.
    assert exec_line(["/a\\b/app"]) == '"/a\\\\\\\\b/app"'
    assert exec_line(["/bin/app", "100%"]) == '"/bin/app" 100%%'
    assert exec_line(["/my apps/app", "two words", "$HOME"]) == (
        '"/my apps/app" "two words" "\\\\$HOME"'
    )
    assert split_exec(unescape_string('"/my apps/app" %F --x')) == ["/my apps/app", "--x"]
    with pytest.raises(ValueError):
        split_exec('"/unterminated')


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"))), min_size=1))
def test_xdg_exec_round_trips_any_command(command: list[str]) -> None:
    assert split_exec(unescape_string(exec_line(command))) == command


def test_string_escapes_round_trip() -> None:
    value = "tab\there\nnew\\line"
    assert "\n" not in escape_string(value)
    assert unescape_string(escape_string(value)) == value


def test_xdg_config_home_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    autostart = Autostart(platform="linux", home=tmp_path, command=THIS)
    assert autostart.location() == str(tmp_path / "cfg" / "autostart" / "domaincheck.desktop")
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")
    autostart = Autostart(platform="freebsd14", home=tmp_path, command=THIS)
    assert autostart.location() == str(tmp_path / ".config" / "autostart" / "domaincheck.desktop")


@pytest.mark.parametrize("switch", ["Hidden=true", "X-GNOME-Autostart-enabled=false"])
def test_an_entry_switched_off_by_the_desktop_is_not_enabled(tmp_path: Path, switch: str) -> None:
    autostart = xdg(tmp_path)
    autostart.set_enabled(True)
    path = entry_path(tmp_path)
    path.write_text(path.read_text().replace("X-GNOME-Autostart-enabled=true", switch))
    assert not autostart.is_enabled()
    autostart.set_enabled(True)
    assert autostart.is_enabled()
    assert "X-GNOME-Autostart-enabled=true" in path.read_text()


def test_another_installs_entry_is_reported_not_overwritten(tmp_path: Path) -> None:
    xdg(tmp_path, OTHER).set_enabled(True)
    before = entry_path(tmp_path).read_text()
    autostart = xdg(tmp_path)
    assert not autostart.is_enabled()
    assert autostart.owner_command() == OTHER
    status = autostart.status()
    assert not status.enabled and status.other_command == tuple(OTHER)

    with pytest.raises(AutostartError, match="Another copy of Domain Check") as raised:
        autostart.set_enabled(True)
    assert OTHER[0] in str(raised.value)
    autostart.set_enabled(False)  # not ours to remove
    assert entry_path(tmp_path).read_text() == before

    autostart.set_enabled(False, replace_other=True)  # removing is never a replacement
    assert entry_path(tmp_path).read_text() == before

    autostart.set_enabled(True, replace_other=True)  # the user chose this install
    assert autostart.is_enabled() and autostart.status().other_command is None


def test_an_older_entry_of_this_install_is_ours_and_gets_rewritten(tmp_path: Path) -> None:
    xdg(tmp_path, [THIS[0], "--old-flag"]).set_enabled(True)
    autostart = xdg(tmp_path)
    assert autostart.is_enabled()
    autostart.set_enabled(True)
    assert autostart.owner_command() == THIS


def test_module_fallback_must_match_the_module_too(tmp_path: Path) -> None:
    python = "/usr/bin/python3"
    xdg(tmp_path, [python, "-m", "something_else"]).set_enabled(True)
    assert not xdg(tmp_path, [python, "-m", "desktop", BACKGROUND_FLAG]).is_enabled()


def test_failures_are_sentences_for_the_user(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "autostart").write_text("a file where a folder should be")
    autostart = xdg(tmp_path)
    with pytest.raises(AutostartError) as raised:
        autostart.set_enabled(True)
    message = str(raised.value)
    assert message.startswith("Could not turn on starting at login")
    assert str(tmp_path / "config" / "autostart") in message
    assert "Errno" not in message and "Traceback" not in message


def test_an_unreadable_entry_shows_in_the_status(tmp_path: Path) -> None:
    path = entry_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xfe not utf-8")
    autostart = xdg(tmp_path)
    status = autostart.status()
    assert not status.enabled and status.error.startswith("Could not read")
    assert not autostart.is_enabled()  # an answer, not an exception
    autostart.set_enabled(True)  # a broken entry is replaced by a good one
    assert autostart.is_enabled()


# ------------------------------------------------------------------ macOS


def test_launch_agent_plist(tmp_path: Path) -> None:
    autostart = Autostart(platform="darwin", home=tmp_path, command=THIS)
    path = tmp_path / "Library" / "LaunchAgents" / f"{BUNDLE_ID}.plist"
    assert autostart.location() == str(path)
    assert not autostart.is_enabled()
    autostart.set_enabled(True)
    agent = plistlib.loads(path.read_bytes())
    assert agent["Label"] == BUNDLE_ID
    assert agent["ProgramArguments"] == THIS
    assert agent["RunAtLoad"] is True
    assert autostart.is_enabled()
    autostart.set_enabled(False)
    assert not path.exists()


def test_launch_agent_of_another_install_and_a_broken_one(tmp_path: Path) -> None:
    Autostart(platform="darwin", home=tmp_path, command=OTHER).set_enabled(True)
    autostart = Autostart(platform="darwin", home=tmp_path, command=THIS)
    assert autostart.owner_command() == OTHER and not autostart.is_enabled()
    path = Path(autostart.location())
    path.write_bytes(b"not a plist")
    assert autostart.status().error.startswith("Could not read")


# ------------------------------------------------------------------ Windows


def test_run_key_value_is_the_quoted_command() -> None:
    registry = FakeRunKey()
    command = [r"C:\Program Files\Domain Check\DomainCheck.exe", BACKGROUND_FLAG]
    autostart = Autostart(platform="win32", command=command, registry=registry)
    assert autostart.location().endswith(
        r"\Software\Microsoft\Windows\CurrentVersion\Run" + "\\" + RUN_VALUE_NAME
    )
    assert not autostart.is_enabled()
    autostart.set_enabled(True)
    assert registry.values == {
        RUN_VALUE_NAME: r'"C:\Program Files\Domain Check\DomainCheck.exe" --background'
    }
    assert autostart.is_enabled() and autostart.owner_command() == command
    autostart.set_enabled(False)
    assert registry.values == {}


def test_run_key_compares_windows_paths_without_case(tmp_path: Path) -> None:
    registry = FakeRunKey()
    registry.values[RUN_VALUE_NAME] = r'"C:\PROGRAM FILES\Domain Check\DomainCheck.exe"'
    command = ["C:/Program Files/Domain Check/DomainCheck.exe", BACKGROUND_FLAG]
    assert Autostart(platform="win32", command=command, registry=registry).is_enabled()
    # Elsewhere, a different case is a different file.
    xdg(tmp_path, ["/Opt/App"]).set_enabled(True)
    assert not xdg(tmp_path, ["/opt/app"]).is_enabled()


def test_run_key_of_another_install_is_kept() -> None:
    registry = FakeRunKey()
    registry.values[RUN_VALUE_NAME] = r'"D:\Old\DomainCheck.exe" --background'
    autostart = Autostart(platform="win32", command=[r"C:\New\DomainCheck.exe"], registry=registry)
    assert autostart.owner_command() == [r"D:\Old\DomainCheck.exe", "--background"]
    with pytest.raises(AutostartError):
        autostart.set_enabled(True)
    assert registry.values[RUN_VALUE_NAME].startswith('"D:\\Old')


def test_without_winreg_the_error_is_readable() -> None:
    autostart = Autostart(platform="win32", command=THIS)  # real winreg: absent on Linux
    with pytest.raises(AutostartError, match="registry is not available"):
        autostart.set_enabled(True)


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"))), min_size=1))
def test_windows_command_lines_round_trip(command: list[str]) -> None:
    assert split_windows_command(subprocess.list2cmdline(command)) == command


# ------------------------------------------------------------------ boundaries


def test_autostart_needs_no_qt() -> None:
    code = (
        "import sys, desktop.autostart\n"
        "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
