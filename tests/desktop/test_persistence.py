"""Results and preferences are saved off the GUI thread, in order, before quit."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from core.storage import Watchlist
from desktop.persistence import LatestSaver, ResultsWriter
from tests.desktop.fakes import make_result


def test_writer_saves_batches_in_order(tmp_path: Path) -> None:
    from core.models import Target

    path = tmp_path / "watchlist.sqlite3"
    with Watchlist(path) as watchlist:  # results are only stored for watched targets
        watchlist.add([Target("a.test"), Target("b.test")])
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


def test_jobs_and_result_batches_reach_the_disk_in_order(tmp_path: Path) -> None:
    """A removal queued after a batch for the same target is not undone by it."""
    from core.models import Target

    path = tmp_path / "w.sqlite3"
    Watchlist(path).close()
    writer = ResultsWriter(path)
    writer.run(lambda store: store.add([Target("a.test"), Target("b.test")]))
    writer.save([make_result("a.test", days=10)])
    writer.run(lambda store: store.remove([("a.test", 443)]))
    writer.run(lambda store: store.set_meta("note", "written"))
    assert writer.close()
    with Watchlist(path) as store:
        assert [t.host for t in store.targets()] == ["b.test"]
        assert store.get_meta("note") == "written"


def test_a_failing_job_is_reported_and_the_writer_goes_on(qtbot: Any, tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite3"
    Watchlist(path).close()
    writer = ResultsWriter(path)
    failures: list[str] = []
    writer.failed.connect(failures.append)

    def broken(store: Watchlist) -> None:
        raise OSError("disk full")

    writer.run(broken)
    writer.run(lambda store: store.set_meta("after", "yes"))
    assert writer.flush()
    qtbot.waitUntil(lambda: failures == ["disk full"], timeout=2000)
    assert writer.close()
    with Watchlist(path) as store:
        assert store.get_meta("after") == "yes"


def test_ask_answers_in_the_gui_thread_even_when_the_database_is_gone(
    qtbot: Any, tmp_path: Path
) -> None:
    import threading

    path = tmp_path / "w.sqlite3"
    Watchlist(path).close()
    writer = ResultsWriter(path)
    answers: list[tuple[object, object, str]] = []

    def on_answer(value: object, error: BaseException | None) -> None:
        answers.append((value, error, threading.current_thread().name))

    writer.run(lambda store: store.set_meta("k", "v"))
    writer.ask(lambda store: store.get_meta("k"), on_answer)
    qtbot.waitUntil(lambda: len(answers) == 1, timeout=2000)
    assert answers[0] == ("v", None, threading.main_thread().name)
    assert writer.close()

    unusable = ResultsWriter(tmp_path)  # a folder: no database can be opened there
    unusable.ask(lambda store: store.get_meta("k"), on_answer)
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=2000)
    value, error, _ = answers[1]
    assert value is None and isinstance(error, RuntimeError)
    assert unusable.close()


def test_latest_saver_writes_the_newest_value_off_the_calling_thread(qtbot: Any) -> None:
    writing, release = threading.Event(), threading.Event()
    written: list[tuple[int, str]] = []

    def write(value: int) -> None:
        writing.set()
        release.wait(10)
        written.append((value, threading.current_thread().name))

    saver: LatestSaver[int] = LatestSaver(write, "numbers")
    saver.save(1)
    assert writing.wait(10)  # the thread took 1 and waits in write()
    saver.save(2)
    saver.save(3)  # 2 is overtaken before it is written
    assert not saver.flush(0.05)  # still waiting for write(1)
    release.set()
    assert saver.flush(10)
    assert [value for value, _ in written] == [1, 3]
    assert {name for _, name in written} == {"numbers"}
    assert saver.close()
    with pytest.raises(RuntimeError, match="closed"):
        saver.save(4)


def test_latest_saver_reports_failures_and_keeps_going(qtbot: Any, tmp_path: Path) -> None:
    attempts: list[int] = []

    def write(value: int) -> None:
        attempts.append(value)
        if value == 1:
            raise OSError("disk full")

    saver: LatestSaver[int] = LatestSaver(write, "numbers")
    with qtbot.waitSignal(saver.failed, timeout=2000) as failed:
        saver.save(1)
    assert failed.args == ["disk full"]
    saver.save(2)
    assert saver.flush(10) and attempts[-1] == 2
    assert saver.close()
    assert LatestSaver(write, "unused").close()  # never started: nothing to stop
