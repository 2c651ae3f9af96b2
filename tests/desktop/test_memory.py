"""Garbage collection on the GUI thread only (desktop/memory.py)."""

from __future__ import annotations

import gc
import threading
from typing import Any

from desktop.memory import GarbageCollector


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_collection_is_off_for_other_threads_and_done_by_the_timer(qtbot: Any) -> None:
    collector = GarbageCollector(interval_ms=10)
    collector.start()
    try:
        assert not gc.isenabled()
        collected_elsewhere: list[int] = []

        def allocate() -> None:  # a background thread allocating past the threshold
            before = gc.get_count()[0]
            for _ in range(gc.get_threshold()[0] * 2):
                _Cycle()
            collected_elsewhere.append(gc.get_count()[0] - before)

        worker = threading.Thread(target=allocate)
        worker.start()
        worker.join()
        assert collected_elsewhere[0] > gc.get_threshold()[0]  # no pass ran on that thread
        qtbot.waitUntil(lambda: collector.passes > 0, timeout=5000)  # the GUI thread's timer
        assert gc.get_count()[0] <= gc.get_threshold()[0]
    finally:
        collector.stop()
    assert gc.isenabled()
    gc.disable()  # as the desktop tests' own fixture left it


def test_nothing_due_means_no_pass() -> None:
    collector = GarbageCollector()
    gc.collect()
    assert collector.collect_due() == 0
    assert collector.passes == 0
