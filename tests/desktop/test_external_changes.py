"""Changes made by another process (``domaincheck watch``) and targets stale at start."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication

from core.models import Target
from core.storage import Watchlist
from desktop.scheduler import STARTUP_DELAY
from tests.desktop.fakes import FakeClock, FakeEngine, FakeTimer, make_result


def hosts(app: Any) -> list[str]:
    return [t.host for t in app.model.targets()]


def test_targets_added_and_removed_elsewhere_are_picked_up(
    make_app: Any, qtbot: Any, tmp_path: Path
) -> None:
    engine = FakeEngine()
    poll = FakeTimer()
    app = make_app(checker_factory=engine, poll_timer=poll)
    app.watch([Target("a.test"), Target("b.test")])
    app.start()
    assert poll.active and poll.interval_ms == 2_000  # looks every 2 s, off the GUI thread
    assert app.flush_writes()

    with Watchlist(tmp_path / "watchlist.sqlite3") as other:  # a terminal, meanwhile
        other.add([Target("new.test")], group="Client")
        other.remove([("a.test", 443)])
    with qtbot.waitSignal(app.check_finished, timeout=5000):  # new.test, checked at once
        poll.fire()
    assert sorted(hosts(app)) == ["b.test", "new.test"]
    assert [t.host for t in engine.checked] == ["new.test"]
    row = app.model.row_at(app.model.row_of(("new.test", 443)))
    assert row.group == "Client" and row.result is not None

    # A full check afterwards never brings the removed one back.
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        app.check_all()
    assert sorted(hosts(app)) == ["b.test", "new.test"]
    assert app.flush_writes()
    with Watchlist(tmp_path / "watchlist.sqlite3") as other:
        assert [t.host for t in other.targets()] == ["b.test", "new.test"]


def test_a_poll_without_changes_changes_nothing(make_app: Any, qtbot: Any) -> None:
    poll = FakeTimer()
    app = make_app(checker_factory=FakeEngine(), poll_timer=poll)
    app.watch([Target("a.test")])
    app.start()
    reloads: list[int] = []
    app.watchlist_reloaded.connect(lambda: reloads.append(1))

    def poll_once() -> None:
        poll.fire()
        assert app.flush_writes()  # the poll ran on the writer's thread...
        QCoreApplication.processEvents()  # ...and its answer is delivered

    poll_once()  # our own add moved the revision: the entries are read once
    assert len(reloads) <= 1
    reloads.clear()
    poll_once()
    assert reloads == []  # the revision did not move: the entries were not even read
    assert hosts(app) == ["a.test"] and not app.is_checking


def test_group_changed_elsewhere_is_shown(make_app: Any, qtbot: Any, tmp_path: Path) -> None:
    poll = FakeTimer()
    app = make_app(checker_factory=FakeEngine(), poll_timer=poll)
    app.watch([Target("a.test")])
    app.start()
    assert app.flush_writes()
    with Watchlist(tmp_path / "watchlist.sqlite3") as other:
        other.set_group([("a.test", 443)], "Shop")
    with qtbot.waitSignal(app.watchlist_reloaded, timeout=5000):
        poll.fire()
    assert app.model.row_at(0).group == "Shop"
    assert not app.is_checking


def test_stale_targets_are_checked_within_15_seconds_of_start(
    make_app: Any, qtbot: Any, tmp_path: Path, clock: FakeClock, timer: FakeTimer
) -> None:
    now = clock()
    with Watchlist(tmp_path / "watchlist.sqlite3") as watchlist:
        watchlist.add([Target(h) for h in ("old.test", "never.test", "fresh.test")])
        watchlist.save_results(
            [
                make_result("old.test", checked_at=now - timedelta(hours=13)),
                make_result("fresh.test", checked_at=now - timedelta(hours=1)),
            ]
        )
        # The whole watchlist was checked recently: no full check is due.
        watchlist.set_time("last_full_check_at", now - timedelta(hours=1))
    engine = FakeEngine()
    app = make_app(checker_factory=engine, watchlist=Watchlist(tmp_path / "watchlist.sqlite3"))
    app.start()
    assert timer.interval_ms is not None and timer.interval_ms <= 15_000
    clock.advance(STARTUP_DELAY)
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        timer.fire()
    assert sorted(t.host for t in engine.checked) == ["never.test", "old.test"]


def test_nothing_stale_at_start_means_no_check(
    make_app: Any, qtbot: Any, tmp_path: Path, clock: FakeClock, timer: FakeTimer
) -> None:
    with Watchlist(tmp_path / "watchlist.sqlite3") as watchlist:
        watchlist.add([Target("fresh.test")])
        watchlist.save_results([make_result("fresh.test", checked_at=clock())])
        watchlist.set_time("last_full_check_at", clock())
    app = make_app(
        checker_factory=FakeEngine(), watchlist=Watchlist(tmp_path / "watchlist.sqlite3")
    )
    app.start()
    clock.advance(STARTUP_DELAY)
    timer.fire()
    assert not app.is_checking
