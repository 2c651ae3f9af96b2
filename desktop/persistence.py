"""Saving check results (and the preferences) off the GUI thread.

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
from typing import Any, Generic, TypeVar

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


class _Batch:
    """Results to save, with their stored documents where they were made already."""

    __slots__ = ("documents", "results")

    def __init__(self, results: Sequence[CheckResult], documents: Sequence[str] | None) -> None:
        self.results = list(results)
        self.documents: list[str | None] = (
            [None] * len(self.results) if documents is None else list(documents)
        )
        if len(self.documents) != len(self.results):
            raise ValueError("one document per result")


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
        self._queue: queue.SimpleQueue[_Batch | Job | None] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        self._closed = False
        self._answered.connect(self._deliver)
        self._thread = threading.Thread(
            target=self._run, name="domaincheck-results-writer", daemon=True
        )
        self._thread.start()

    def save(self, results: Sequence[CheckResult], documents: Sequence[str] | None = None) -> None:
        """Queue ``results`` for saving; returns at once.

        ``documents``: their ``core.storage.result_document``, if made already.
        """
        if not results:
            return
        if self._closed:
            raise RuntimeError("the results writer is closed")
        with self._idle:
            self._pending += 1
        self._queue.put(_Batch(results, documents))

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
                batches: list[_Batch] = []
                for item in work:
                    if isinstance(item, _Batch):
                        batches.append(item)  # neighbouring batches: one transaction
                        continue
                    self._save(watchlist, batches)
                    batches = []
                    self._do(watchlist, item)
                self._save(watchlist, batches)
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

    def _save(self, watchlist: Watchlist | None, batches: list[_Batch]) -> None:
        if batches:
            results = [result for batch in batches for result in batch.results]
            documents = [document for batch in batches for document in batch.documents]
            self._do(watchlist, lambda store: store.save_results(results, documents))

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


T = TypeVar("T")


class LatestSaver(QObject, Generic[T]):
    """Writes the newest of a stream of values with ``write``, on a thread of its own.

    For the preferences file: every change is saved with an atomic replace and an
    ``fsync`` (tens of milliseconds on a slow disk, more on a network home), which
    must not hold up the window. Values that arrive while a write is under way are
    folded into the next write, so the file always ends up with the newest one. The
    thread starts with the first value.

    Signals:
        failed(str): a write failed (the reason, for people).
    """

    failed = Signal(str)

    def __init__(
        self, write: Callable[[T], None], name: str, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._write = write
        self._name = name
        self._changed = threading.Condition()
        self._latest: T | None = None
        self._wanted = 0  # values given so far
        self._written = 0  # the newest of them that is on disk (or failed)
        self._stopping = False
        self._thread: threading.Thread | None = None

    def save(self, value: T) -> None:
        """Queue ``value`` for writing; returns at once."""
        with self._changed:
            if self._stopping:
                raise RuntimeError(f"the {self._name} saver is closed")
            self._latest = value
            self._wanted += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def flush(self, timeout_s: float = CLOSE_TIMEOUT_SECONDS) -> bool:
        """Wait until the newest value is written (or failed); False on time-out."""
        with self._changed:
            return self._changed.wait_for(lambda: self._written == self._wanted, timeout_s)

    def close(self, timeout_s: float = CLOSE_TIMEOUT_SECONDS) -> bool:
        """Write what is pending, then stop the thread; False if that took too long."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_s)
        stopped = not thread.is_alive()
        if not stopped:
            log.error("the %s saver did not finish within %.0f s", self._name, timeout_s)
        return stopped

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._wanted > self._written or self._stopping)
                if self._wanted == self._written:  # stopping, nothing left to write
                    return
                value, number = self._latest, self._wanted
            try:
                self._write(value)  # type: ignore[arg-type]  # set with _wanted
            except Exception as exc:  # reported; the next change tries again
                log.exception("could not save the %s", self._name)
                self.failed.emit(str(exc))
            with self._changed:
                self._written = number
                self._changed.notify_all()
