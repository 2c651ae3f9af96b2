"""Start at login: the per-user entry that starts this install hidden in the tray.

A tray reminder app that does not start at login reminds nobody, so the app registers
itself once a first domain is watched. Each platform keeps the entry somewhere else;
one small backend per platform reads, writes and removes it, and :class:`Autostart`
is all the rest of the app sees:

- Linux and the BSDs: an XDG autostart entry, ``$XDG_CONFIG_HOME/autostart/domaincheck.desktop``
  (Desktop Entry spec quoting for ``Exec``; written atomically).
- Windows: a value in ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``.
- macOS: a LaunchAgent, ``~/Library/LaunchAgents/<bundle id>.plist`` (``RunAtLoad``).

The command names this install's executable by absolute path (the venv's
``domaincheck-desktop`` script or the frozen binary), because a login session has no
useful ``PATH``. An entry written by *another* install (a second checkout, an old
bundle) is reported by :meth:`Autostart.owner_command` and never overwritten unless
the caller says so. Nothing here imports Qt.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import plistlib
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from core import paths
from core._files import atomic_write_text

#: Starts the app with only its tray icon (or nothing visible where there is no tray).
BACKGROUND_FLAG = "--background"
#: The file name of the XDG entry, the same as the menu entry's.
DESKTOP_FILE_NAME = "domaincheck.desktop"
#: macOS: the app bundle's identifier (``build.spec``), also the LaunchAgent's label.
BUNDLE_ID = "org.domaincheck.DomainCheck"
#: Windows: the name of the value under the Run key.
RUN_VALUE_NAME = "Domain Check"
RUN_KEY_PATH = r"Software\Microsoft\Windows\CurrentVersion\Run"
_PUBLIC_FILE_MODE = 0o644
#: Characters that make an ``Exec`` argument need quotes (Desktop Entry spec).
_EXEC_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
#: Characters escaped with a backslash inside a quoted ``Exec`` argument.
_EXEC_ESCAPED_IN_QUOTES = frozenset('"`$\\')


class AutostartError(Exception):
    """The entry could not be read or changed; ``str()`` is a sentence for the user."""


def _is_windows(platform: str) -> bool:
    return platform.startswith(("win32", "cygwin"))


def launch_command(
    *,
    frozen: bool | None = None,
    executable: str | None = None,
    platform: str | None = None,
) -> list[str]:
    """The absolute command that starts this install hidden, for a login session.

    A frozen bundle is its own executable. From a source checkout or a venv it is the
    ``domaincheck-desktop`` script next to the interpreter (``bin/`` or ``Scripts\\``),
    or ``python -m desktop`` when the script is not installed.
    """
    frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    executable = os.path.abspath(sys.executable if executable is None else executable)
    platform = sys.platform if platform is None else platform
    if frozen:
        return [executable, BACKGROUND_FLAG]
    name = "domaincheck-desktop.exe" if _is_windows(platform) else "domaincheck-desktop"
    script = Path(executable).parent / name
    if script.is_file():
        return [str(script), BACKGROUND_FLAG]
    return [executable, "-m", "desktop", BACKGROUND_FLAG]


# ------------------------------------------------------------------ XDG (.desktop)


def quote_exec_argument(argument: str) -> str:
    """One ``Exec`` argument, quoted where the Desktop Entry spec requires it.

    The result still needs :func:`escape_string` (the spec applies the string escapes
    before the quoting rules), and a literal ``%`` is written ``%%``.
    """
    argument = argument.replace("%", "%%")
    if argument and not any(c in _EXEC_RESERVED for c in argument):
        return argument
    escaped = "".join("\\" + c if c in _EXEC_ESCAPED_IN_QUOTES else c for c in argument)
    return f'"{escaped}"'


def escape_string(value: str) -> str:
    """The Desktop Entry spec's escapes for a ``string`` value."""
    return (
        value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )


def unescape_string(value: str) -> str:
    out: list[str] = []
    escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\", ";": ";"}
    chars = iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append(escapes.get(following, "\\" + following))
        else:
            out.append(char)
    return "".join(out)


def exec_line(command: Sequence[str]) -> str:
    """The ``Exec`` value for ``command``; the program is always quoted (uninstall.sh
    looks for ``Exec="<install>/DomainCheck"``)."""
    program, *arguments = command
    parts = [quote_exec_argument(program)]
    if not parts[0].startswith('"'):
        parts[0] = f'"{parts[0]}"'
    parts.extend(quote_exec_argument(a) for a in arguments)
    return escape_string(" ".join(parts))


def split_exec(value: str) -> list[str]:
    """The arguments of an ``Exec`` value (string escapes already undone), without
    field codes such as ``%f``; raises ``ValueError`` on an unterminated quote."""
    arguments: list[str] = []
    current: list[str] = []
    in_quotes = started = False
    chars = iter(value)
    for char in chars:
        if in_quotes:
            if char == '"':
                in_quotes = False
            elif char == "\\":
                current.append(next(chars, ""))
            else:
                current.append(char)
        elif char == '"':
            in_quotes = started = True
        elif char in " \t\n":
            if started:
                arguments.append("".join(current))
            current, started = [], False
        else:
            current.append(char)
            started = True
    if in_quotes:
        raise ValueError("unterminated quote in Exec")
    if started:
        arguments.append("".join(current))
    result = []
    for argument in arguments:
        if len(argument) == 2 and argument[0] == "%" and argument[1] != "%":
            continue  # a field code: nothing to pass at login
        result.append(argument.replace("%%", "%"))
    return result


def _read_desktop_entry(text: str) -> dict[str, str]:
    """The keys of the ``[Desktop Entry]`` group (unlocalised, string escapes undone)."""
    entry: dict[str, str] = {}
    group = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
            continue
        if group == "Desktop Entry" and "=" in line:
            key, value = line.split("=", 1)
            entry[key.strip()] = unescape_string(value.strip())
    return entry


class XdgAutostart:
    """``$XDG_CONFIG_HOME/autostart/domaincheck.desktop`` (freedesktop autostart spec)."""

    def __init__(self, config_home: Path, *, icon: str) -> None:
        self.path = config_home / "autostart" / DESKTOP_FILE_NAME
        self._icon = icon

    def location(self) -> str:
        return str(self.path)

    def read(self) -> list[str] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise AutostartError(f"Could not read {self.path}: {_reason(exc)}") from exc
        entry = _read_desktop_entry(text)
        # Hidden=true, or GNOME's switch turned off, means "do not start".
        if entry.get("Hidden", "").lower() == "true":
            return None
        if entry.get("X-GNOME-Autostart-enabled", "true").lower() == "false":
            return None
        try:
            command = split_exec(entry.get("Exec", ""))
        except ValueError:
            return None
        return command or None

    def write(self, command: Sequence[str]) -> None:
        text = (
            "[Desktop Entry]\n"
            "Type=Application\n"
            "Name=Domain Check\n"
            "Comment=Reminds you before TLS certificates and domain registrations expire\n"
            f"Exec={exec_line(command)}\n"
            f"Icon={escape_string(self._icon)}\n"
            "Terminal=false\n"
            "Categories=Network;Utility;\n"
            "X-GNOME-Autostart-enabled=true\n"
        )
        atomic_write_text(self.path, text, mode=_PUBLIC_FILE_MODE)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


# ------------------------------------------------------------------ macOS (LaunchAgent)


class LaunchAgentAutostart:
    """``~/Library/LaunchAgents/<bundle id>.plist``, loaded by launchd at login."""

    def __init__(self, home: Path, *, label: str = BUNDLE_ID) -> None:
        self.path = home / "Library" / "LaunchAgents" / f"{label}.plist"
        self._label = label

    def location(self) -> str:
        return str(self.path)

    def read(self) -> list[str] | None:
        try:
            data = plistlib.loads(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, plistlib.InvalidFileException, ValueError) as exc:
            raise AutostartError(f"Could not read {self.path}: {_reason(exc)}") from exc
        if not isinstance(data, dict) or data.get("Disabled") is True:
            return None
        arguments = data.get("ProgramArguments")
        if not isinstance(arguments, list) or not all(isinstance(a, str) for a in arguments):
            return None
        return list(arguments) or None

    def write(self, command: Sequence[str]) -> None:
        agent = {
            "Label": self._label,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            "ProcessType": "Interactive",
        }
        text = plistlib.dumps(agent).decode("utf-8")
        atomic_write_text(self.path, text, mode=_PUBLIC_FILE_MODE)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


# ------------------------------------------------------------------ Windows (Run key)


class RunKey(Protocol):
    """The values of ``HKCU\\...\\Run`` (a fake in tests, :class:`WinregRunKey` for real)."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...


class WinregRunKey:
    """The real Run key through ``winreg`` (Windows only); raises ``OSError``."""

    def __init__(self) -> None:
        self._winreg: Any = importlib.import_module("winreg")

    def get(self, name: str) -> str | None:
        winreg = self._winreg
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY_PATH) as key:
                value, _kind = winreg.QueryValueEx(key, name)
        except FileNotFoundError:
            return None
        return value if isinstance(value, str) else None

    def set(self, name: str, value: str) -> None:
        winreg = self._winreg
        with winreg.CreateKeyEx(
            winreg.HKEY_CURRENT_USER, RUN_KEY_PATH, 0, winreg.KEY_SET_VALUE
        ) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

    def delete(self, name: str) -> None:
        winreg = self._winreg
        try:
            with winreg.OpenKey(
                winreg.HKEY_CURRENT_USER, RUN_KEY_PATH, 0, winreg.KEY_SET_VALUE
            ) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            pass


def split_windows_command(line: str) -> list[str]:
    """Arguments of a Windows command line, as ``CommandLineToArgvW`` reads them
    (the inverse of :func:`subprocess.list2cmdline`)."""
    arguments: list[str] = []
    current: list[str] = []
    in_quotes = started = False
    backslashes = 0
    for char in line:
        if char == "\\":
            backslashes += 1
            started = True
            continue
        if char == '"':
            current.append("\\" * (backslashes // 2))
            if backslashes % 2:
                current.append('"')
            else:
                in_quotes = not in_quotes
            backslashes = 0
            started = True
            continue
        current.append("\\" * backslashes)
        backslashes = 0
        if char in " \t" and not in_quotes:
            if started:
                arguments.append("".join(current))
            current, started = [], False
        else:
            current.append(char)
            started = True
    current.append("\\" * backslashes)
    if started:
        arguments.append("".join(current))
    return arguments


class RunKeyAutostart:
    """A value named "Domain Check" under the per-user Run key."""

    def __init__(self, registry: RunKey | None = None, *, name: str = RUN_VALUE_NAME) -> None:
        self._registry = registry
        self._name = name

    def _key(self) -> RunKey:
        if self._registry is None:
            try:
                self._registry = WinregRunKey()
            except ImportError as exc:
                raise AutostartError("The Windows registry is not available here.") from exc
        return self._registry

    def location(self) -> str:
        return f"HKEY_CURRENT_USER\\{RUN_KEY_PATH}\\{self._name}"

    def read(self) -> list[str] | None:
        try:
            value = self._key().get(self._name)
        except OSError as exc:
            raise AutostartError(f"Could not read {self.location()}: {_reason(exc)}") from exc
        if not value:
            return None
        return split_windows_command(value) or None

    def write(self, command: Sequence[str]) -> None:
        self._key().set(self._name, subprocess.list2cmdline(list(command)))

    def remove(self) -> None:
        self._key().delete(self._name)


# ------------------------------------------------------------------ the one front door


class _Backend(Protocol):
    def location(self) -> str: ...

    def read(self) -> list[str] | None: ...

    def write(self, command: Sequence[str]) -> None: ...

    def remove(self) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class AutostartStatus:
    """What the "Start at login" toggle shows (read off the GUI thread, then passed on)."""

    #: This install starts at login.
    enabled: bool
    #: Where the entry lives (a file or registry path), for a tooltip.
    location: str
    #: The command of an entry that starts *another* install, or ``None``.
    other_command: tuple[str, ...] | None = None
    #: Why the entry could not be read, or "".
    error: str = ""


class Autostart:
    """Turns "start this install at login, hidden" on and off, on every platform.

    Args:
        platform: ``sys.platform`` style name; picks the backend.
        home: the user's home folder (macOS LaunchAgents, the XDG default).
        config_home: ``$XDG_CONFIG_HOME`` (default from the environment, then ``~/.config``).
        command: what to start (default :func:`launch_command`).
        registry: the Run key on Windows (a fake in tests).
        icon: the XDG entry's ``Icon`` (a theme name or an absolute path).
    """

    def __init__(
        self,
        *,
        platform: str | None = None,
        home: Path | None = None,
        config_home: Path | None = None,
        command: Sequence[str] | None = None,
        registry: RunKey | None = None,
        icon: str | None = None,
    ) -> None:
        platform = sys.platform if platform is None else platform
        home = Path.home() if home is None else home
        self.command: list[str] = list(command) if command is not None else launch_command()
        if not self.command:
            raise ValueError("the autostart command is empty")
        self._windows = _is_windows(platform)
        self._backend: _Backend
        if self._windows:
            self._backend = RunKeyAutostart(registry)
        elif platform.startswith("darwin"):
            self._backend = LaunchAgentAutostart(home)
        else:
            if config_home is None:
                configured = os.environ.get("XDG_CONFIG_HOME", "")
                # The spec ignores a relative XDG_CONFIG_HOME.
                config_home = Path(configured) if os.path.isabs(configured) else home / ".config"
            self._backend = XdgAutostart(config_home, icon=icon or _default_icon())

    def location(self) -> str:
        """Where the entry lives (a file path, or the registry value)."""
        return self._backend.location()

    def owner_command(self) -> list[str] | None:
        """The command the current entry starts (maybe another install's), or ``None``."""
        return self._backend.read()

    def is_enabled(self) -> bool:
        """True only if an entry exists *and* starts this install (an unreadable entry
        counts as off; :meth:`status` says why)."""
        try:
            owner = self.owner_command()
        except AutostartError:
            return False
        return owner is not None and self._is_ours(owner)

    def set_enabled(self, enabled: bool, *, replace_other: bool = False) -> None:
        """Write or remove this install's entry.

        Another install's entry is never removed, and replaced only when
        ``replace_other`` is true (the user ticked the box knowing it); otherwise
        turning on raises :class:`AutostartError` naming it.
        """
        try:
            owner = self.owner_command()
        except AutostartError:
            owner = None  # an unreadable entry is ours to replace or remove
        if owner is not None and not self._is_ours(owner):
            if not enabled:
                return  # not ours to remove
            if not replace_other:
                raise AutostartError(
                    "Another copy of Domain Check already starts at login "
                    f"({owner[0]}); it was left as it is."
                )
        try:
            if enabled:
                self._backend.write(self.command)
            else:
                self._backend.remove()
        except OSError as exc:
            verb = "turn on" if enabled else "turn off"
            raise AutostartError(
                f"Could not {verb} starting at login ({self.location()}): {_reason(exc)}"
            ) from exc

    def status(self) -> AutostartStatus:
        """Everything the toggle shows, in one read (call it off the GUI thread)."""
        try:
            owner = self.owner_command()
        except AutostartError as exc:
            return AutostartStatus(enabled=False, location=self.location(), error=str(exc))
        ours = owner is not None and self._is_ours(owner)
        return AutostartStatus(
            enabled=ours,
            location=self.location(),
            other_command=None if owner is None or ours else tuple(owner),
        )

    def _is_ours(self, owner: Sequence[str]) -> bool:
        """Same program (an older entry of this install with other flags is still ours)."""
        if not owner:
            return False
        if self._path_key(owner[0]) != self._path_key(self.command[0]):
            return False
        # ``python -m desktop``: the module must match too, not only the interpreter.
        return list(owner[1:3]) == self.command[1:3] if "-m" in self.command[1:2] else True

    def _path_key(self, path: str) -> str:
        """Windows paths are compared without regard to case or slash direction."""
        return path.replace("/", "\\").casefold() if self._windows else path


def _default_icon() -> str:
    """A frozen install has its icon in the theme (install.sh); a checkout uses the SVG."""
    if getattr(sys, "frozen", False):
        return "domaincheck"
    svg = paths.resource("icons/domaincheck.svg")
    return str(svg) if svg.is_file() else "domaincheck"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
