"""Saving check results off the GUI thread.

Why: saving a batch of results is a SQLite transaction (JSON encoding plus a commit to
disk): 3-6 ms for 40 results on an idle machine, tens of milliseconds on a busy one
or a slow disk. Done in the GUI thread after every batch, that was a visible stutter
while thousands of rows came in. ``ResultsWriter`` hands the batches to a thread with
its own connection to the same database file (WAL mode lets both connections work
side by side) and writes them in the order they came.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.models import CheckResult
from core.storage import Watchlist

log = logging.getLogger(__name__)

#: How long closing waits for queued batches to reach the disk.
CLOSE_TIMEOUT_SECONDS = 30.0
_STOP = None

#: Any other write to the watchlist, run on the writer's own connection, in order.
Job = Callable[[Watchlist], object]
#: Gets a question's answer (or ``None``) and its error (or ``None``) in the GUI thread.
AnswerCallback = Callable[[Any, BaseException | None], None]


class _Question:
    """A job whose answer goes back to the GUI thread (see ``ResultsWriter.ask``)."""

    def __init__(self, job: Job, on_answer: AnswerCallback, reply: Callable[..., None]) -> None:
        self._job, self._on_answer, self._reply = job, on_answer, reply

    def __call__(self, store: Watchlist) -> None:
        try:
            value = self._job(store)
        except Exception as exc:
            self.fail(exc)
        else:
            self._reply(self._on_answer, value, None)

    def fail(self, error: BaseException) -> None:
        self._reply(self._on_answer, None, error)


class ResultsWriter(QObject):
    """Writes result batches to the watchlist database in a background thread.

    Batches are written in the order they were given; batches that queue up while a
    commit is under way go into the next transaction together.

    Signals:
        failed(str): a batch could not be saved (the reason, for people).
    """

    failed = Signal(str)
    #: (callback, answer, error), emitted by the thread, delivered in the GUI thread.
    _answered = Signal(object, object, object)

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self._queue: queue.SimpleQueue[list[CheckResult] | Job | None] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        self._closed = False
        self._answered.connect(self._deliver)
        self._thread = threading.Thread(
            target=self._run, name="domaincheck-results-writer", daemon=True
        )
        self._thread.start()

    def save(self, results: Sequence[CheckResult]) -> None:
        """Queue ``results`` for saving; returns at once."""
        if not results:
            return
        if self._closed:
            raise RuntimeError("the results writer is closed")
        with self._idle:
            self._pending += 1
        self._queue.put(list(results))

    def run(self, job: Job) -> None:
        """Queue any other write (add or remove targets, set a time); returns at once.

        Jobs and result batches reach the disk in the order they were queued, so a
        removal queued after a batch is never undone by it.
        """
        if self._closed:
            raise RuntimeError("the results writer is closed")
        with self._idle:
            self._pending += 1
        self._queue.put(job)

    def ask(self, job: Job, on_answer: AnswerCallback) -> None:
        """Like ``run``, but ``on_answer(value, error)`` gets the job's answer in the GUI
        thread (an error too when the database cannot be opened)."""
        self.run(_Question(job, on_answer, self._answered.emit))

    def _deliver(self, on_answer: AnswerCallback, value: object, error: object) -> None:
        on_answer(value, error if isinstance(error, BaseException) else None)

    def flush(self, timeout_s: float = CLOSE_TIMEOUT_SECONDS) -> bool:
        """Wait until every queued batch is written (or failed); False on time-out."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout_s)

    def close(self, timeout_s: float = CLOSE_TIMEOUT_SECONDS) -> bool:
        """Write what is queued, then stop the thread; False if it did not stop in time."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout_s)
        stopped = not self._thread.is_alive()
        if not stopped:
            log.error("the results writer did not finish within %.0f s", timeout_s)
        return stopped

    def _run(self) -> None:
        watchlist: Watchlist | None = None
        try:
            stopping = False
            while not stopping:
                items = [self._queue.get()]
                while True:  # everything queued meanwhile is handled in this round
                    try:
                        items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stopping = _STOP in items
                work = [item for item in items if item is not None]
                if watchlist is None and work:
                    watchlist = self._open()
                results: list[CheckResult] = []
                for item in work:
                    if isinstance(item, list):
                        results.extend(item)  # neighbouring batches: one transaction
                        continue
                    self._save(watchlist, results)
                    results = []
                    self._do(watchlist, item)
                self._save(watchlist, results)
                with self._idle:
                    self._pending -= len(work)
                    self._idle.notify_all()
        finally:
            if watchlist is not None:
                watchlist.close()

    def _open(self) -> Watchlist | None:
        try:
            return Watchlist(self.path)
        except Exception as exc:
            log.exception("could not open the watchlist for writing")
            self.failed.emit(str(exc))
            return None

    def _save(self, watchlist: Watchlist | None, results: list[CheckResult]) -> None:
        if results:
            self._do(watchlist, lambda store: store.save_results(results))

    def _do(self, watchlist: Watchlist | None, job: Job) -> None:
        if watchlist is None:
            if isinstance(job, _Question):
                job.fail(RuntimeError("the watchlist database cannot be opened"))
            return
        try:
            job(watchlist)
        except Exception as exc:  # a full disk must not stop the check
            log.exception("could not write to the watchlist")
            self.failed.emit(str(exc))
