"""Results are saved off the GUI thread, in order, and reach the disk before quit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.storage import Watchlist
from desktop.persistence import ResultsWriter
from tests.desktop.fakes import make_result


def test_writer_saves_batches_in_order(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.sqlite3"
    Watchlist(path).close()
    writer = ResultsWriter(path)
    writer.save([make_result("a.test", days=50), make_result("b.test", days=60)])
    writer.save([make_result("a.test", days=5)])  # a newer result of the same target
    assert writer.flush(10)
    assert writer.close(10)
    with Watchlist(path) as watchlist:
        results = {e.target.host: e.result for e in watchlist.entries()}
    assert set(results) == {"a.test", "b.test"}
    assert results["a.test"] is not None and results["a.test"].days_left == 5


def test_writer_reports_a_database_it_cannot_open(tmp_path: Path, qtbot: Any) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    writer = ResultsWriter(blocker / "watchlist.sqlite3")
    with qtbot.waitSignal(writer.failed, timeout=5000) as failed:
        writer.save([make_result("a.test")])
    assert "cannot open" in failed.args[0]
    assert writer.flush(5)  # a failed batch still counts as done
    assert writer.close(5)


def test_results_reach_the_disk_once_the_app_quits(make_app: Any, qtbot: Any) -> None:
    from tests.desktop.fakes import FakeEngine

    app = make_app(checker_factory=FakeEngine(lambda t: make_result(t, days=12)))
    app.start()
    app.check_input("a.test\nb.test")
    qtbot.waitUntil(lambda: not app.is_checking, timeout=5000)
    path = app.watchlist.path
    app.quit()
    with Watchlist(path) as watchlist:
        assert [e.result.days_left for e in watchlist.entries() if e.result] == [12, 12]
