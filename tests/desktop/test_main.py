"""The real program: command-line files, single instance hand-off, SIGTERM, no tray,
``--background`` (start at login), and ``--help``/``--version`` without a display."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import core
from core import paths
from desktop.single_instance import InstanceServer, hand_off, server_name

ROOT = Path(__file__).resolve().parents[2]


def test_hand_off_reaches_the_running_instance(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A plain Python thread gets no wake-up for the reply; do not wait long for it.
    monkeypatch.setattr("desktop.single_instance.REPLY_TIMEOUT_MS", 200)
    server = InstanceServer(name=f"domaincheck-test-{os.getpid()}")
    assert server.listen()
    listing = tmp_path / "more.txt"
    results: list[bool] = []
    # The launching side blocks on the socket; run it off the GUI thread.
    with qtbot.waitSignal(server.launched, timeout=5000) as received:
        thread = threading.Thread(target=lambda: results.append(hand_off([listing], server.name)))
        thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=5000)
    assert results == [True]
    assert received.args == [[listing.resolve()], True]
    server.close()
    qtbot.wait(20)


def test_a_background_launch_asks_the_running_instance_to_stay_hidden(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("desktop.single_instance.REPLY_TIMEOUT_MS", 200)
    server = InstanceServer(name=f"domaincheck-test-bg-{os.getpid()}")
    assert server.listen()
    with qtbot.waitSignal(server.launched, timeout=5000) as received:
        thread = threading.Thread(target=lambda: hand_off([], server.name, show=False))
        thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=5000)
    assert received.args == [[], False]
    server.close()
    qtbot.wait(20)


def send_raw(name: str, message: bytes) -> None:
    """What an older (or broken) launcher sends: ``message`` as it is."""
    from PySide6.QtNetwork import QLocalSocket

    socket = QLocalSocket()
    socket.connectToServer(name)
    assert socket.waitForConnected(2000)
    socket.write(message)
    socket.flush()
    socket.waitForBytesWritten(2000)
    socket.waitForReadyRead(200)
    socket.disconnectFromServer()


def test_a_message_from_an_older_version_means_show(qtbot: Any) -> None:
    server = InstanceServer(name=f"domaincheck-test-old-{os.getpid()}")
    assert server.listen()
    with qtbot.waitSignal(server.launched, timeout=5000) as received:
        thread = threading.Thread(target=send_raw, args=(server.name, b'{"files": ["/x.txt"]}\n'))
        thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=5000)
    assert received.args == [[Path("/x.txt")], True]
    with qtbot.assertNotEmitted(server.launched, wait=100):
        thread = threading.Thread(
            target=send_raw, args=(server.name, b'{"files": [], "show": "yes"}\n')
        )
        thread.start()
        qtbot.waitUntil(lambda: not thread.is_alive(), timeout=5000)
    server.close()
    qtbot.wait(20)


def test_started_hidden_the_window_shows_only_for_a_normal_launch(
    qtbot: Any, make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.launcher import accept_launches

    monkeypatch.setattr("desktop.single_instance.REPLY_TIMEOUT_MS", 200)
    app = make_app(tray_available=False)
    server = InstanceServer(name=f"domaincheck-test-hidden-{os.getpid()}")
    assert server.listen()
    accept_launches(server, app)
    app.start(hidden=True)
    qtbot.wait(10)
    assert not app.window.isVisible()  # no tray, and still no window

    listing = tmp_path / "login.txt"
    listing.write_text("example.test\n")
    with qtbot.waitSignal(server.launched, timeout=5000):
        thread = threading.Thread(target=lambda: hand_off([listing], server.name, show=False))
        thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=5000)
    qtbot.waitUntil(lambda: "example.test" in [t.host for t in app.model.targets()], timeout=5000)
    assert not app.window.isVisible()  # a second --background start keeps it hidden

    with qtbot.waitSignal(server.launched, timeout=5000):
        thread = threading.Thread(target=lambda: hand_off([], server.name))
        thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=5000)
    qtbot.waitUntil(app.window.isVisible, timeout=5000)  # the user launched it again
    server.close()
    qtbot.wait(20)


def test_no_running_instance_means_no_hand_off(qapp: Any) -> None:
    started = time.monotonic()
    assert not hand_off([], f"domaincheck-nobody-{os.getpid()}")
    assert time.monotonic() - started < 3  # no waiting for a server that is not there


def test_server_name_depends_on_the_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    first = server_name()
    monkeypatch.setenv("XDG_DATA_HOME", "/somewhere/else")
    assert server_name() != first
    assert len(server_name()) < 40


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def watched(db: Path) -> dict[str, str | None]:
    """host -> status of the watchlist database of a running instance (or {})."""
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db) as connection:
            rows = connection.execute(
                "SELECT t.host, r.status FROM targets t LEFT JOIN results r ON r.target_id = t.id"
            ).fetchall()
    except sqlite3.Error:
        return {}
    return dict(rows)


@pytest.mark.slow
def test_second_launch_hands_over_and_sigterm_quits_cleanly(
    world: Any, tmp_path: Path, test_bootstrap: Path
) -> None:
    env = {
        **os.environ,
        **world.env,
        "QT_QPA_PLATFORM": "offscreen",
        "DOMAINCHECK_TIMEOUT": "60",
        "PYTHONPATH": str(ROOT),
    }
    env.setdefault("DOMAINCHECK_RDAP_BOOTSTRAP", str(test_bootstrap))
    first_list = tmp_path / "first.txt"
    first_list.write_text("valid.test\nhang.test\n")
    second_list = tmp_path / "second.txt"
    second_list.write_text("expired.test\n")
    db = paths.data_dir() / "watchlist.sqlite3"
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen(
        [sys.executable, "-m", "desktop", str(first_list)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: watched(db).get("valid.test") == "valid", 20, "the first check")
        assert watched(db)["hang.test"] is None  # still checking: hang.test never answers

        second = subprocess.run(
            [sys.executable, "-m", "desktop", str(second_list)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stderr
        wait_for(lambda: "expired.test" in watched(db), 10, "the handed-over file")

        started = time.monotonic()
        first.send_signal(signal.SIGTERM)  # in the middle of checking hang.test
        assert first.wait(timeout=15) == 0
        assert time.monotonic() - started < 5
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        log.close()
    output = (tmp_path / "first.log").read_text()
    assert "received SIGTERM" in output
    assert "QThread" not in output and "Traceback" not in output, output
    final = watched(db)
    assert final["valid.test"] == "valid"
    assert set(final) == {"valid.test", "hang.test", "expired.test"}


def test_no_display_gets_a_clear_message_instead_of_a_qt_abort() -> None:
    from desktop.__main__ import missing_display_message

    message = missing_display_message({}, platform="linux")
    assert message is not None
    assert "domaincheck check" in message and "xvfb-run" in message
    assert missing_display_message({"DISPLAY": ":0"}, platform="linux") is None
    assert missing_display_message({"WAYLAND_DISPLAY": "wayland-0"}, platform="linux") is None
    assert missing_display_message({"QT_QPA_PLATFORM": "offscreen"}, platform="linux") is None
    assert missing_display_message({}, platform="darwin") is None


def headless_env() -> dict[str, str]:
    """No display of any kind, and Qt not told to do without one."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY", "QT_QUICK_BACKEND")
    }
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_work_without_a_display(flag: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "desktop", flag],
        env=headless_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "qt.qpa" not in result.stderr
    if flag == "--help":
        assert result.stdout.startswith("usage: domaincheck-desktop")
        assert "--background" in result.stdout
    else:
        assert result.stdout.strip() == f"Domain Check {core.__version__}"


def test_help_does_not_even_import_qt() -> None:
    code = (
        "import sys\n"
        "from desktop.__main__ import main\n"
        "try:\n"
        "    main(['domaincheck-desktop', '--help'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0\n"
        "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=headless_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_start_at_login_command_answers_without_a_display() -> None:
    from desktop.autostart import launch_command

    program = launch_command()[0]  # the venv's own domaincheck-desktop script
    result = subprocess.run(
        [program, "--help"], env=headless_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--background" in result.stdout


def test_bad_options_get_usage_not_a_traceback() -> None:
    env = {**headless_env(), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "desktop", "--no-such-option"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unrecognized arguments: --no-such-option" in result.stderr
    assert "Traceback" not in result.stderr


def test_background_flag_and_qt_options_are_parsed() -> None:
    from desktop.__main__ import build_parser, parse_args

    args = parse_args(["--background", "a.txt"])
    assert args.background and args.files == [Path("a.txt")]
    assert not parse_args([]).background
    known, rest = build_parser().parse_known_args(["-platform", "offscreen", "--background"])
    assert known.background and rest == ["-platform"]


@pytest.mark.slow
def test_a_background_start_checks_hidden_and_shows_on_the_next_launch(
    world: Any, tmp_path: Path, test_bootstrap: Path
) -> None:
    env = {
        **os.environ,
        **world.env,
        "QT_QPA_PLATFORM": "offscreen",  # no system tray here
        "DOMAINCHECK_TIMEOUT": "60",
        "PYTHONPATH": str(ROOT),
        # Prints a marker and quits as soon as the main window paints.
        "DOMAINCHECK_STARTUP_PROBE": "1",
        "DOMAINCHECK_TRAY_WAIT_SECONDS": "0",  # offscreen never gets a tray
    }
    env.setdefault("DOMAINCHECK_RDAP_BOOTSTRAP", str(test_bootstrap))
    listing = tmp_path / "login.txt"
    listing.write_text("valid.test\n")
    db = paths.data_dir() / "watchlist.sqlite3"
    log_path = tmp_path / "first.log"
    log = log_path.open("w")
    first = subprocess.Popen(
        [sys.executable, "-m", "desktop", "--background", str(listing)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def launch(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "desktop", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )

    try:
        # It checks and stores without a window (a painted window would have quit it).
        wait_for(lambda: watched(db).get("valid.test") == "valid", 20, "the hidden check")
        assert first.poll() is None, log_path.read_text()

        again = launch("--background")  # at login, while it runs: quiet, stays hidden
        assert again.returncode == 0 and again.stdout == ""
        assert "already running" not in again.stderr
        assert first.poll() is None
        assert "DOMAINCHECK_WINDOW_SHOWN" not in log_path.read_text()

        shown = launch()  # the user starts it: the running one shows its window
        assert shown.returncode == 0 and "already running" in shown.stderr
        assert first.wait(timeout=15) == 0  # the probe quits once the window painted
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        log.close()
    output = log_path.read_text()
    assert "DOMAINCHECK_WINDOW_SHOWN" in output
    assert "Traceback" not in output, output


def test_tray_wait_comes_from_the_environment() -> None:
    from desktop.launcher import DEFAULT_TRAY_WAIT_SECONDS, TRAY_WAIT_ENV, tray_wait_ms

    assert tray_wait_ms({}) == DEFAULT_TRAY_WAIT_SECONDS * 1000
    assert tray_wait_ms({TRAY_WAIT_ENV: "2.5"}) == 2500
    assert tray_wait_ms({TRAY_WAIT_ENV: "0"}) == 0
    assert tray_wait_ms({TRAY_WAIT_ENV: "-3"}) == 0
    assert tray_wait_ms({TRAY_WAIT_ENV: "soon"}) == DEFAULT_TRAY_WAIT_SECONDS * 1000


@pytest.fixture
def test_server(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr("desktop.single_instance.REPLY_TIMEOUT_MS", 200)
    server = InstanceServer(name=f"domaincheck-test-tray-{os.getpid()}")
    assert server.listen()
    yield server
    server.close()
    qtbot.wait(20)


def test_background_start_waits_for_the_tray_to_appear(test_server: Any) -> None:
    from desktop.launcher import wait_for_tray

    polls: list[int] = []

    def available() -> bool:
        polls.append(1)
        return len(polls) >= 4  # the panel comes up a moment after login

    assert wait_for_tray(test_server, timeout_ms=60_000, poll_ms=1, available=available) == (
        [],
        True,
    )
    assert len(polls) == 4


def test_no_waiting_when_the_tray_is_there_or_the_wait_is_off(test_server: Any) -> None:
    from desktop.launcher import wait_for_tray

    assert wait_for_tray(test_server, timeout_ms=60_000, available=lambda: True) == ([], True)
    assert wait_for_tray(test_server, timeout_ms=0, available=lambda: False) == ([], True)


def test_without_a_tray_the_wait_ends_after_its_time(test_server: Any) -> None:
    from desktop.launcher import wait_for_tray

    assert wait_for_tray(test_server, timeout_ms=20, poll_ms=1, available=lambda: False) == (
        [],
        True,
    )


def test_launches_during_the_wait_are_kept_and_a_normal_one_ends_it(
    test_server: Any, tmp_path: Path
) -> None:
    from desktop.launcher import wait_for_tray

    listing = tmp_path / "later.txt"

    def launch_twice() -> None:
        hand_off([listing], test_server.name, show=False)  # login again: keeps waiting
        hand_off([], test_server.name)  # the user opens the app: stop waiting

    thread = threading.Thread(target=launch_twice)
    thread.start()
    launches, go_on = wait_for_tray(
        test_server, timeout_ms=60_000, poll_ms=5, available=lambda: False
    )
    thread.join(timeout=10)
    assert go_on
    assert launches == [([listing.resolve()], False), ([], True)]


def test_a_signal_during_the_wait_quits(test_server: Any) -> None:
    from PySide6.QtCore import QTimer

    from desktop.launcher import SignalWatcher, wait_for_tray

    watcher = SignalWatcher(lambda: None)
    try:
        QTimer.singleShot(0, lambda: watcher.on_signal())  # as SIGTERM would, queued
        launches, go_on = wait_for_tray(
            test_server, timeout_ms=60_000, poll_ms=5, available=lambda: False, watcher=watcher
        )
    finally:
        watcher.close()
    assert (launches, go_on) == ([], False)


@pytest.mark.slow
def test_opening_the_app_while_a_login_start_waits_for_the_tray_shows_it(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",  # no tray will ever appear
        "PYTHONPATH": str(ROOT),
        "DOMAINCHECK_STARTUP_PROBE": "1",  # marker and quit once the window paints
        "DOMAINCHECK_TRAY_WAIT_SECONDS": "600",
    }
    log_path = tmp_path / "first.log"
    with log_path.open("w") as log:
        first = subprocess.Popen(
            [sys.executable, "-m", "desktop", "--background"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: "waiting up to" in log_path.read_text(), 20, "the wait for the tray")
            opened = subprocess.run(
                [sys.executable, "-m", "desktop"],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert opened.returncode == 0 and "already running" in opened.stderr
            assert first.wait(timeout=30) == 0  # the window painted long before 600 s
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
    output = log_path.read_text()
    assert "DOMAINCHECK_WINDOW_SHOWN" in output
    assert "Traceback" not in output, output
