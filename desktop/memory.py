"""Keeping Python's garbage collector out of the GUI thread's way, and off the others.

Two rules, both about Qt objects that Python's cyclic collector frees:

* A pass of the collector runs on whichever thread happens to allocate past its
  threshold: the analytics thread, the results writer, a background call. When
  that pass frees a Qt wrapper, the C++ object is destroyed on that thread; its
  ``QObject::disconnect`` takes Qt's connection lock and then waits for the GIL,
  while the GUI thread, holding the GIL in a signal emission, waits for the same
  lock: a deadlock (seen in the test suite: ``endInsertRows`` on the GUI thread,
  ``gc_collect_main`` → ``QObject::disconnect`` on the analytics thread). So the
  app turns automatic collection off and collects on the GUI thread, from a timer
  (:class:`GarbageCollector`; qutebrowser does the same for the same reason).
* Objects alive once the window is up live as long as the app does: they are
  frozen out of later passes (:func:`settle_memory`).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

#: How often the GUI thread looks whether a collection is due. Python's own
#: thresholds decide which generation; a young-generation pass costs well under a
#: millisecond, so this is frequent enough to keep memory where automatic
#: collection would.
GC_CHECK_INTERVAL_MS = 1000


class GarbageCollector(QObject):
    """Python's cyclic garbage collection, on the GUI thread only.

    :meth:`start` turns automatic collection off (for every thread) and checks
    every :data:`GC_CHECK_INTERVAL_MS` whether Python's thresholds say a
    generation is due; :meth:`stop` gives collection back to Python.
    """

    def __init__(self, parent: QObject | None = None, *, interval_ms: int = GC_CHECK_INTERVAL_MS):
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self.passes = 0

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()

    def collect_due(self) -> int:
        """Collect the oldest generation whose threshold is passed; objects freed."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        if counts[0] <= thresholds[0]:
            return 0
        generation = 0
        if counts[1] > thresholds[1]:
            generation = 2 if counts[2] > thresholds[2] else 1
        self.passes += 1
        return gc.collect(generation)


def settle_memory() -> None:
    """Collect once, then leave everything alive now out of later garbage collections.

    Python's full collection walks every object the process holds: with Qt's
    wrappers, the modules and the watchlist loaded, a pass of 20-30 ms in the GUI
    thread, at a moment nobody chooses (mid-check, mid-scroll). What exists once the
    window is up lives as long as the app does, so it is frozen out of the passes
    (``gc.freeze``) and a full collection only walks what came later. Called by the
    app's entry point once the window is up (not by ``DomainCheckApp``: tests make
    many of those in one process, and frozen objects are never collected).
    """
    gc.collect()
    gc.freeze()
