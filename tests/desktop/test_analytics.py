"""Usage statistics in the desktop, with the real PostHog SDK pointed at a loopback sink.

Events carry the persisted installation ID (they are sent from the analytics thread,
never the GUI thread); the first-run notice gates everything; opt-out, DO_NOT_TRACK
and a missing key mean zero requests; quitting never waits on a hanging host; and a
whole session leaks nothing personal (the privacy test at the end).
"""

# ruff: noqa: F811

from __future__ import annotations

import getpass
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QTimer, QUrl
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication

from core import analytics as core_analytics
from core import install_id
from core.analytics import OffReason
from desktop.analytics import DesktopAnalytics
from desktop.mainwindow import file_url_mime
from desktop.reminders import Page
from tests.desktop.fakes import FakeEngine
from tests.desktop.test_mainwindow import drag_and_drop
from tests.desktop.test_reminders import (  # noqa: F401
    EMAIL,
    Backend,
    _sqlite_template,
    backend,
    click,
    file_token_store,
    open_dialog,
    request_code,
    sqlite_url,
)
from tests.helpers.posthog_sink import PosthogSink

ROOT = Path(__file__).resolve().parents[2]
KEY = "phc_desktop_test"


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[PosthogSink]:
    with PosthogSink() as server:
        monkeypatch.setenv("POSTHOG_API_KEY", KEY)
        monkeypatch.setenv("POSTHOG_HOST", server.url)
        monkeypatch.delenv("DO_NOT_TRACK", raising=False)
        yield server


@pytest.fixture
def notice_answered() -> None:
    """Not the first run: the notice was answered before (statistics on)."""
    core_analytics.mark_notice_shown("desktop")


def ready(app: Any, qtbot: Any) -> DesktopAnalytics:
    analytics: DesktopAnalytics = app.analytics
    qtbot.waitUntil(lambda: analytics.analytics is not None, timeout=5000)
    return analytics


def finish(app: Any) -> None:
    """Quit the app and wait for the flush (as ``__main__`` does after the loop)."""
    app.quit()
    assert app.analytics.wait_for_shutdown()


def test_events_arrive_with_the_persisted_id(
    make_app: Callable[..., Any], sink: PosthogSink, notice_answered: None, qtbot: Any
) -> None:
    app = make_app(checker_factory=FakeEngine())
    analytics = ready(app, qtbot)
    assert analytics.enabled
    with qtbot.waitSignal(app.check_finished, timeout=10_000):
        app.check_input("one.test\ntwo.test\na..b\n")
    # Backend requests carry the same IDs, so the backend's events correlate.
    headers = app.reminder_service().client()._client.headers
    assert headers["x-posthog-distinct-id"] == install_id.peek()
    assert headers["x-posthog-session-id"] == analytics.analytics.session_id
    finish(app)

    stored = install_id.peek()
    assert stored is not None
    events = sink.events
    names = [e["event"] for e in events]
    for name in ("app_opened", "domains_imported", "check_started", "check_completed", "$set"):
        assert name in names
    assert {e["distinct_id"] for e in events} == {stored}
    assert len({e["properties"].get("$session_id") for e in events if e["event"] != "$set"}) == 1
    imported = sink.named("domains_imported")[0]["properties"]
    assert (imported["source"], imported["count"], imported["rejected"]) == ("paste", 2, 1)
    completed = sink.named("check_completed")[0]["properties"]
    assert completed["valid"] == 2 and completed["total"] == 2 and completed["cancelled"] is False
    assert completed["trigger"] == "manual" and completed["duration_ms"] >= 0
    person = sink.named("$set")[0]["$set"]
    assert person["qt_version"] and person["app_version"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_exceptions_from_worker_threads_keep_the_id(
    make_app: Callable[..., Any], sink: PosthogSink, notice_answered: None, qtbot: Any
) -> None:
    app = make_app(checker_factory=FakeEngine())
    ready(app, qtbot)

    def crash() -> None:
        raise RuntimeError("worker failed for jane@example.org")

    worker = threading.Thread(target=crash)
    worker.start()
    worker.join()
    sink.wait_for_events(2)  # app_opened + $exception (+ $set)
    finish(app)
    [exception] = sink.named("$exception")
    assert exception["distinct_id"] == install_id.peek()
    assert "jane@example.org" not in sink.payload_text()


def test_first_run_sends_nothing_until_the_notice_is_answered(
    make_app: Callable[..., Any], sink: PosthogSink, qtbot: Any
) -> None:
    app = make_app(checker_factory=FakeEngine())
    app.start()
    qtbot.waitUntil(lambda: app.window.analytics_notice.isVisible(), timeout=5000)
    assert app.analytics.reason is OffReason.FIRST_RUN
    app.check_input("one.test")
    qtbot.waitUntil(lambda: not app.is_checking, timeout=5000)
    time.sleep(0.6)  # longer than the SDK's flush interval
    assert sink.requests == []

    click_ok = app.window.analytics_notice.accept_button
    click_ok.click()
    assert not app.window.analytics_notice.isVisible()
    sink.wait_for_events(1)
    finish(app)
    [opened] = sink.named("app_opened")
    assert opened["properties"]["first_run"] is True
    assert core_analytics.notice_shown("desktop")


def test_no_thanks_opts_out_for_good(
    make_app: Callable[..., Any], sink: PosthogSink, qtbot: Any
) -> None:
    app = make_app(checker_factory=FakeEngine())
    app.start()
    qtbot.waitUntil(lambda: app.window.analytics_notice.isVisible(), timeout=5000)
    app.window.analytics_notice.turn_off.click()
    app.analytics.flush_queue()
    assert core_analytics.read_preferences().opted_out
    app.check_input("one.test")
    qtbot.waitUntil(lambda: not app.is_checking, timeout=5000)
    finish(app)
    assert sink.requests == []


@pytest.mark.parametrize("veto", ["opted_out", "DO_NOT_TRACK", "no_key", "toggle"])
def test_off_means_zero_requests(
    make_app: Callable[..., Any],
    sink: PosthogSink,
    notice_answered: None,
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
    veto: str,
) -> None:
    if veto == "opted_out":
        core_analytics.save_opted_out(True)
    elif veto == "DO_NOT_TRACK":
        monkeypatch.setenv("DO_NOT_TRACK", "1")
    elif veto == "no_key":
        monkeypatch.delenv("POSTHOG_API_KEY")
    app = make_app(checker_factory=FakeEngine())
    analytics = ready(app, qtbot)
    if veto == "toggle":  # the preferences checkbox, before anything was flushed
        dialog = app.open_preferences()
        assert dialog.statistics.isChecked() and dialog.statistics.isEnabled()
        dialog.statistics.setChecked(False)
        sink.mode = "fail"  # whatever was queued before the change may go; then nothing
        dialog.accept()
        analytics.flush_queue()
        assert core_analytics.read_preferences().opted_out
        current = analytics.analytics
        assert current is not None and not current.enabled
        for stopper in current._stoppers:  # hands over what was queued before, then stops
            stopper.join(10)
        before = len(sink.requests)
    else:
        before = 0
        assert not analytics.enabled
    app.check_input("one.test")
    qtbot.waitUntil(lambda: not app.is_checking, timeout=5000)
    with qtbot.waitSignal(app.exported, timeout=5000):
        app.export(Path(app._preferences_path).with_name("out.csv"))
    finish(app)
    time.sleep(0.6)
    assert len(sink.requests) == before
    if veto == "DO_NOT_TRACK":
        dialog = app.open_preferences()
        assert not dialog.statistics.isEnabled() and "DO_NOT_TRACK" in dialog.statistics_note.text()


def test_reset_id_from_the_preferences(
    make_app: Callable[..., Any], sink: PosthogSink, notice_answered: None, qtbot: Any
) -> None:
    app = make_app(checker_factory=FakeEngine())
    ready(app, qtbot)
    first = install_id.peek()
    dialog = app.open_preferences()
    dialog.reset_id.click()
    app.analytics.flush_queue()
    assert install_id.peek() not in (None, first)
    dialog.threshold.setValue(12)
    dialog.accept()
    finish(app)
    changed = sink.named("settings_changed")
    assert "threshold_days" in {e["properties"]["setting"] for e in changed}
    assert {e["distinct_id"] for e in changed} == {install_id.peek()}


def test_closing_the_window_returns_at_once_when_the_host_hangs(
    make_app: Callable[..., Any], sink: PosthogSink, notice_answered: None, qtbot: Any
) -> None:
    sink.mode = "hang"
    app = make_app(checker_factory=FakeEngine())
    app.start()
    ready(app, qtbot)
    sink.wait_for_requests(1)  # app_opened is on its way and will never be answered
    started = time.perf_counter()
    app.window.close()  # no tray: closing quits
    assert time.perf_counter() - started < 0.5
    started = time.perf_counter()
    app.analytics.wait_for_shutdown()
    assert time.perf_counter() - started < 2.5


def test_dock_drops_arrive_as_file_open_events(
    make_app: Callable[..., Any], tmp_path: Path, qtbot: Any
) -> None:
    listing = tmp_path / "dock.txt"
    listing.write_text("dock.test\n")
    engine = FakeEngine()
    app = make_app(checker_factory=engine)
    app.start()
    QCoreApplication.postEvent(
        QApplication.instance(), QFileOpenEvent(QUrl.fromLocalFile(str(listing)))
    )
    qtbot.waitUntil(
        lambda: [t.host for t in app.watchlist.targets()] == ["dock.test"], timeout=5000
    )
    qtbot.waitUntil(lambda: not app.is_checking, timeout=5000)
    assert [t.host for t in engine.checked] == ["dock.test"]


# --------------------------------------------------------------------------- the real app


@pytest.mark.slow
def test_the_real_app_exits_within_3_s_when_the_host_hangs(tmp_path: Path) -> None:
    with PosthogSink(mode="hang") as sink:
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "PYTHONPATH": str(ROOT),
            "POSTHOG_API_KEY": KEY,
            "POSTHOG_HOST": sink.url,
        }
        env.pop("DO_NOT_TRACK", None)
        core_analytics.mark_notice_shown("desktop")  # same XDG folders as the child
        log_path = tmp_path / "app.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "desktop"],
                env=env,
                cwd=tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                sink.wait_for_requests(1, timeout=20)  # app_opened sent; never answered
                started = time.monotonic()
                process.send_signal(signal.SIGTERM)  # quits like File → Quit
                assert process.wait(timeout=10) == 0
                elapsed = time.monotonic() - started
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        output = log_path.read_text()
        assert elapsed < 3.0, output
        assert "Traceback" not in output, output


# --------------------------------------------------------------------------- privacy


@pytest.mark.qt_no_exception_capture
def test_a_whole_session_and_a_cli_run_send_nothing_personal(
    make_app: Callable[..., Any],
    world: Any,
    world_settings: Any,
    test_bootstrap: Path,
    sink: PosthogSink,
    notice_answered: None,
    backend: Backend,
    file_token_store: Any,
    tmp_path: Path,
    qtbot: Any,
) -> None:
    names = ["valid.test", "expiring.test", "expired.test", "wronghost.test", "xn--bcher-kva.test"]
    listing = tmp_path / "customers-of-jane.txt"
    listing.write_text("\n".join(names) + "\nnot a domain\n")
    app = make_app(settings=world_settings(timeout_seconds=5.0), token_store=file_token_store)
    app.apply_preferences(app.preferences.__class__(backend_url=backend.url))
    app.start()
    ready(app, qtbot)

    # Drop the list; it is checked against the loopback world.
    with qtbot.waitSignal(app.check_finished, timeout=30_000):
        assert drag_and_drop(app.window.input.viewport(), file_url_mime([listing]))
    export = tmp_path / "jane-results.json"
    with qtbot.waitSignal(app.exported, timeout=5000) as written:
        app.export(export)
    assert written.args == [True]

    # Sign up with an email through the dialog.
    dialog = open_dialog(app, qtbot)
    request_code(dialog, qtbot)
    backend.inbox.wait_for(1)
    dialog.code_page.code_edit.setText(backend.inbox.code())
    click(qtbot, dialog.code_page.register_button)
    qtbot.waitUntil(lambda: dialog.page is Page.MANAGE and not dialog.busy, timeout=15_000)
    assert app.analytics.distinct_id if hasattr(app.analytics, "distinct_id") else True
    stored = install_id.peek()
    assert (stored, app.analytics.analytics.session_id) in backend.recorder.contexts

    # An exception in a slot, its message full of personal data.
    def fail() -> None:
        raise ValueError(f"could not read {listing} for {EMAIL} ({names[0]})")

    QTimer.singleShot(0, fail)
    qtbot.wait(50)
    finish(app)

    # A CLI run with analytics on (its notice already shown).
    core_analytics.mark_notice_shown("cli")
    cli = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from core.cli import main; sys.exit(main())",
            "check",
            "-f",
            str(listing),
        ],
        env={
            **os.environ,
            **world.env,
            "PYTHONPATH": str(ROOT),
            "DOMAINCHECK_TIMEOUT": "5",
            "DOMAINCHECK_RDAP_BOOTSTRAP": str(test_bootstrap),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode in (0, 1, 2), cli.stderr
    sink.wait_for_events(1)

    sent = {e["event"] for e in sink.events}
    for expected in (
        "app_opened",
        "domains_imported",
        "check_started",
        "check_completed",
        "results_exported",
        "signup_code_requested",
        "signup_completed",
        "$exception",
        "cli_check_completed",
    ):
        assert expected in sent, sorted(sent)
    payload = sink.payload_text()
    raw = b"".join(r.raw for r in sink.requests)
    forbidden = [
        EMAIL,
        str(listing),
        listing.name,
        str(export),
        export.name,
        str(tmp_path),
        getpass.getuser(),
        "bücher",
        *names,
        *[n.split(".")[0] + ".test" for n in names],
    ]
    for secret in forbidden:
        assert secret not in payload, secret
        assert secret.encode() not in raw, secret
    exception = sink.named("$exception")[0]
    assert json.dumps(exception).count("could not read") == 0
