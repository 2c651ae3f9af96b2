"""The real program: command-line files, single instance hand-off, SIGTERM, no tray."""

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
    with qtbot.waitSignal(server.files_received, timeout=5000) as received:
        thread = threading.Thread(target=lambda: results.append(hand_off([listing], server.name)))
        thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=5000)
    assert results == [True]
    assert received.args == [[listing.resolve()]]
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
def test_second_launch_hands_over_and_sigterm_quits_cleanly(world: Any, tmp_path: Path) -> None:
    env = {
        **os.environ,
        **world.env,
        "QT_QPA_PLATFORM": "offscreen",
        "DOMAINCHECK_TIMEOUT": "60",
        "PYTHONPATH": str(ROOT),
    }
    env.setdefault("DOMAINCHECK_RDAP_BOOTSTRAP", str(paths.resource("iana-rdap-dns.json")))
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
