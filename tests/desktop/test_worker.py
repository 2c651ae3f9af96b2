"""The worker thread: batched results, prompt cancel, clean shutdown."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QThread

from core.config import Settings
from core.models import Target
from desktop.worker import CheckRunner
from tests.desktop.fakes import FakeEngine


def targets(count: int, prefix: str = "h") -> list[Target]:
    return [Target(f"{prefix}{i}.test") for i in range(count)]


def test_results_arrive_in_batches_on_the_gui_thread(qtbot: Any) -> None:
    engine = FakeEngine(delay=0.001, concurrency=20)
    runner = CheckRunner(engine, batch_interval_ms=50)
    batches: list[int] = []
    threads: set[Any] = set()

    def on_batch(batch: list[Any]) -> None:
        batches.append(len(batch))
        threads.add(QThread.currentThread())

    runner.results_ready.connect(on_batch)
    progress: list[tuple[int, int]] = []
    runner.progress.connect(lambda done, total: progress.append((done, total)))
    with qtbot.waitSignal(runner.finished, timeout=10_000) as finished:
        assert runner.start(targets(2000), Settings())
        assert runner.is_running
        assert not runner.start(targets(1), Settings())  # one run at a time
    assert finished.args == [False]
    assert sum(batches) == 2000
    assert len(batches) < 200  # batched, not one signal per row
    assert threads == {QThread.currentThread()}
    assert progress[0] == (0, 2000) and progress[-1] == (2000, 2000)
    assert engine.entered == engine.exited == 1
    assert not runner.is_running


def test_cancel_is_prompt_and_keeps_finished_results(qtbot: Any) -> None:
    engine = FakeEngine(hang=[f"h{i}.test" for i in range(5, 100)])
    runner = CheckRunner(engine, batch_interval_ms=10)
    received: list[Any] = []
    runner.results_ready.connect(received.extend)
    with qtbot.waitSignal(runner.results_ready, timeout=5000):
        runner.start(targets(100), Settings())
    started = time.monotonic()
    with qtbot.waitSignal(runner.finished, timeout=5000) as finished:
        runner.cancel()
    assert time.monotonic() - started < 3.0  # the fake engine would hang forever
    assert finished.args == [True]
    assert len(received) == 5
    assert engine.exited == 1


def test_cancel_before_the_thread_runs(qtbot: Any) -> None:
    engine = FakeEngine()
    runner = CheckRunner(engine)
    with qtbot.waitSignal(runner.finished, timeout=5000) as finished:
        runner.start(targets(3), Settings())
        runner.cancel()
    assert finished.args[0] in (True, False)  # either way: it ends, nothing hangs
    assert not runner.is_running


def test_shutdown_during_a_run_stops_the_thread(qtbot: Any) -> None:
    engine = FakeEngine(hang=["h1.test"])
    runner = CheckRunner(engine)
    runner.start(targets(3), Settings())
    qtbot.wait(50)
    started = time.monotonic()
    assert runner.shutdown(timeout_ms=5000)
    assert time.monotonic() - started < 3.0  # the fake engine would hang forever
    qtbot.wait(10)  # the queued "finished" is delivered, the thread is deleted
    assert not runner.is_running


def test_engine_crash_is_reported(qtbot: Any) -> None:
    class Broken(FakeEngine):
        async def stream(self, targets: Any) -> Any:  # type: ignore[override]
            raise RuntimeError("boom")
            yield  # pragma: no cover

    runner = CheckRunner(Broken())
    with qtbot.waitSignals([runner.failed, runner.finished], timeout=5000):
        runner.start(targets(1), Settings())
