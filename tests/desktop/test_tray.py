"""Background schedule and reminders, driven by a fake timer and a fake clock."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication

from core.models import Status, Target
from core.storage import Watchlist
from desktop.tray import (
    STARTUP_DELAY,
    TICK_INTERVAL_MS,
    Scheduler,
    notification_text,
    reminder_for,
)
from tests.desktop.fakes import START, FakeClock, FakeEngine, FakeTimer, make_result

HOUR = timedelta(hours=1)


def scheduler(clock: FakeClock, timer: FakeTimer, last: Any = None) -> Scheduler:
    return Scheduler(interval=12 * HOUR, last_check_at=last, timer=timer, clock=clock)


def test_first_check_shortly_after_start_when_never_checked(
    clock: FakeClock, timer: FakeTimer, qtbot: Any
) -> None:
    sched = scheduler(clock, timer)
    due: list[int] = []
    sched.check_due.connect(lambda: due.append(1))
    sched.start()
    # The first tick comes after STARTUP_DELAY, then the usual pace.
    assert timer.active and timer.interval_ms == STARTUP_DELAY.total_seconds() * 1000
    assert sched.next_due == START + STARTUP_DELAY
    clock.advance(STARTUP_DELAY)
    timer.fire()
    assert timer.interval_ms == TICK_INTERVAL_MS
    assert due == [1]
    timer.fire()
    assert due == [1]  # not again every tick while the run goes on
    sched.mark_checked(clock())
    clock.advance(11 * HOUR)
    timer.fire()
    assert due == [1]
    clock.advance(HOUR)
    timer.fire()
    assert due == [1, 1]


def test_recent_check_waits_for_the_interval(clock: FakeClock, timer: FakeTimer) -> None:
    sched = scheduler(clock, timer, last=START - 2 * HOUR)
    sched.start()
    assert sched.next_due == START + 10 * HOUR


def test_overdue_check_runs_shortly_after_start(clock: FakeClock, timer: FakeTimer) -> None:
    sched = scheduler(clock, timer, last=START - 30 * HOUR)
    sched.start()
    assert sched.next_due == START + STARTUP_DELAY


def test_missed_run_after_sleep_happens_on_wake(
    clock: FakeClock, timer: FakeTimer, qtbot: Any
) -> None:
    sched = scheduler(clock, timer, last=START)
    sched.start()
    due: list[int] = []
    woke: list[float] = []
    sched.check_due.connect(lambda: due.append(1))
    sched.woke_up.connect(woke.append)
    clock.advance(timedelta(minutes=1))
    timer.fire()
    clock.advance(20 * HOUR)  # the lid was closed; no ticks meanwhile
    timer.fire()
    assert woke == [20 * 3600]
    assert due == [1]


def test_startup_due_on_the_first_tick_only(clock: FakeClock, timer: FakeTimer) -> None:
    sched = scheduler(clock, timer, last=START - HOUR)  # a full check is not due
    started: list[int] = []
    due: list[int] = []
    sched.startup_due.connect(lambda: started.append(1))
    sched.check_due.connect(lambda: due.append(1))
    sched.start()
    assert timer.interval_ms is not None and timer.interval_ms <= 15_000
    clock.advance(STARTUP_DELAY)
    timer.fire()
    assert started == [1] and due == []
    clock.advance(timedelta(minutes=1))
    timer.fire()
    assert started == [1]  # once per start


def test_a_slightly_early_first_tick_still_runs_the_overdue_check(
    clock: FakeClock, timer: FakeTimer
) -> None:
    sched = scheduler(clock, timer)  # never checked
    due: list[int] = []
    sched.check_due.connect(lambda: due.append(1))
    sched.start()
    clock.advance(STARTUP_DELAY - timedelta(milliseconds=400))  # coarse timers run early
    timer.fire()
    assert due == [1]


def test_interval_change_reschedules(clock: FakeClock, timer: FakeTimer) -> None:
    sched = scheduler(clock, timer, last=START)
    sched.start()
    sched.set_interval(2 * HOUR)
    assert sched.next_due == START + 2 * HOUR


# -- the reminder decision ------------------------------------------------------------


def test_reminder_when_newly_needing_attention_or_worse() -> None:
    valid = make_result("a.test", days=100)
    expiring = make_result("a.test", days=10)
    expired = make_result("a.test", days=-1)
    assert reminder_for(None, valid) is None
    assert reminder_for(valid, valid) is None
    first = reminder_for(None, expiring)
    assert first is not None and first.status is Status.EXPIRING
    assert first.text == "a.test: certificate expires in 10 days"
    assert reminder_for(valid, expiring) is not None
    assert reminder_for(expiring, expiring) is None  # no news
    assert reminder_for(expiring, expired) is not None  # worse
    assert reminder_for(expired, expiring) is None  # better
    down = make_result("a.test", error="connection refused")
    assert reminder_for(None, down) is None  # could-not-check is not an alert
    assert reminder_for(down, expiring) is not None  # error -> expiring is worse
    invalid = make_result("a.test", trusted=False)
    assert reminder_for(valid, invalid) is not None


def test_reminder_when_the_certificate_changes_but_still_needs_attention() -> None:
    old = make_result("a.test", days=10, fingerprint="aa" * 32)
    new = make_result("a.test", days=12, fingerprint="bb" * 32)
    reminder = reminder_for(old, new)
    assert reminder is not None
    assert reminder.fingerprint == "bb" * 32
    assert "new certificate" in reminder.text
    renewed = make_result("a.test", days=90, fingerprint="cc" * 32)
    assert reminder_for(old, renewed) is None  # renewed and fine: nothing to warn about


def test_notification_text() -> None:
    expired = make_result("a.test", days=-2)
    one = reminder_for(None, expired)
    assert one is not None
    assert notification_text([one]) == ("a.test is expired", f"a.test: {expired.problem}")
    assert "expired" in expired.problem
    many = [r for h in "abcdef" if (r := reminder_for(None, make_result(f"{h}.test", days=5)))]
    title, body = notification_text(many)
    assert title == "6 domains need attention"
    assert body.splitlines() == [
        "a.test: certificate expires in 5 days",
        "b.test: certificate expires in 5 days",
        "c.test: certificate expires in 5 days",
        "…and 3 more",
    ]


# -- reminders in the app: once per domain, status and day ----------------------------


def days_engine(days: dict[str, int], fingerprints: dict[str, str] | None = None) -> FakeEngine:
    fps = fingerprints if fingerprints is not None else {}
    return FakeEngine(
        lambda t: make_result(t, days=days[t.host], fingerprint=fps.get(t.host, "aa" * 32))
    )


def run_check(app: Any, qtbot: Any, trigger: str = "scheduled") -> list[tuple[str, str]]:
    notes: list[tuple[str, str]] = []
    app.notified.connect(lambda title, body: notes.append((title, body)))
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        assert app.check_all(trigger=trigger)
    # Reminders are recorded on the writer's thread; its answer is already posted
    # once the writer is idle, and the next processEvents delivers it.
    assert app.flush_writes()
    QCoreApplication.processEvents()
    app.notified.disconnect()
    return notes


def test_app_reminds_once_per_domain_status_and_day(
    make_app: Any, qtbot: Any, clock: FakeClock
) -> None:
    days = {"a.test": 100, "b.test": 100}
    fingerprints: dict[str, str] = {}
    app = make_app(checker_factory=days_engine(days, fingerprints), tray_available=True)
    shown: list[tuple[str, str]] = []
    app.tray.notify = lambda title, body, icon=None: shown.append((title, body))  # type: ignore[method-assign]
    app.start()
    app._watch([Target("a.test"), Target("b.test")])
    assert run_check(app, qtbot) == []

    days["a.test"] = 10
    expected = [("a.test is expiring", "a.test: certificate expires in 10 days")]
    assert run_check(app, qtbot) == expected
    assert shown == expected
    assert run_check(app, qtbot) == []  # still expiring: no news

    # Flapping back and forth on the same day: still only once.
    days["a.test"] = 100
    run_check(app, qtbot)
    days["a.test"] = 10
    assert run_check(app, qtbot) == []

    # The certificate is replaced but still expiring: tell again.
    fingerprints["a.test"] = "bb" * 32
    notes = run_check(app, qtbot)
    assert len(notes) == 1 and "new certificate" in notes[0][1]

    # Next day it expires: worse, so tell.
    clock.advance(timedelta(days=1))
    days["a.test"] = -1
    assert run_check(app, qtbot)[0][0] == "a.test is expired"


def test_notification_click_opens_the_window_on_that_row(make_app: Any, qtbot: Any) -> None:
    days = {"a.test": 100, "b.test": 100, "c.test": 100}
    app = make_app(checker_factory=days_engine(days), tray_available=True)
    app.tray.notify = lambda title, body, icon=None: None  # type: ignore[method-assign]
    app.start()
    app._watch([Target(h) for h in days])
    run_check(app, qtbot)
    app.window.hide()
    days["b.test"] = -5
    days["c.test"] = 5
    assert run_check(app, qtbot)[0][0] == "2 domains need attention"
    app.tray.icon.messageClicked.emit()
    assert app.window.isVisible()
    selected = app.window.selected_rows()
    assert sorted(row.target.host for row in selected) == ["b.test", "c.test"]  # those named


def test_paused_or_disabled_reminders_stay_quiet(
    make_app: Any, qtbot: Any, clock: FakeClock
) -> None:
    days = {"a.test": 5}
    app = make_app(checker_factory=days_engine(days), tray_available=True)
    app.tray.notify = lambda title, body, icon=None: None  # type: ignore[method-assign]
    app.start()
    app._watch([Target("a.test")])
    app.tray.pause_requested.emit(True)
    assert app.reminders_paused_until == clock() + 24 * HOUR
    assert run_check(app, qtbot) == []
    clock.advance(25 * HOUR)
    assert app.reminders_paused_until is None
    app.apply_preferences(dataclasses.replace(app.preferences, reminders_enabled=False))
    days["a.test"] = -1
    assert run_check(app, qtbot) == []


def test_no_tray_reminders_go_to_the_status_bar(make_app: Any, qtbot: Any) -> None:
    app = make_app(checker_factory=days_engine({"a.test": 3}), tray_available=False)
    app.start()
    app._watch([Target("a.test")])
    messages: list[Any] = []
    app.messages.shown.connect(messages.append)
    assert run_check(app, qtbot)
    assert any("a.test is expiring" in m.text for m in messages)


def test_scheduler_runs_background_checks_of_the_watchlist(
    make_app: Any, qtbot: Any, clock: FakeClock, timer: FakeTimer
) -> None:
    engine = days_engine({"a.test": 100})
    app = make_app(checker_factory=engine)
    app._watch([Target("a.test")])
    app.start()
    clock.advance(STARTUP_DELAY)
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        timer.fire()
    assert app.flush_writes()
    assert app.watchlist.get_time("last_full_check_at") == clock()
    assert app.scheduler.next_due == clock() + 12 * HOUR
    clock.advance(12 * HOUR)
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        timer.fire()
    assert engine.entered == 2


def test_a_locked_database_does_not_swallow_the_end_of_a_run(
    make_app: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The results writer's connection may hold the write lock past the busy timeout:
    the run must still finish (message, ``check_finished``) and the reminder be shown."""
    import sqlite3

    days = {"a.test": 100}
    app = make_app(checker_factory=days_engine(days))
    app.start()
    app._watch([Target("a.test")])
    run_check(app, qtbot)

    def locked(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(Watchlist, "record_new_notifications", locked)  # every connection
    days["a.test"] = 10
    assert run_check(app, qtbot) == [
        ("a.test is expiring", "a.test: certificate expires in 10 days")
    ]
    assert not app.is_checking
