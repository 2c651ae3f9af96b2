"""Checks run off the GUI thread: a QThread owning an asyncio loop that drives core.

The one thin adapter between the desktop and the network (everything else in
``desktop`` only sees :class:`~core.models.CheckResult` values). Wiring follows Mu:
``worker.moveToThread(thread)``, ``thread.started.connect(worker.run)``, and
``deleteLater`` on ``finished``.

Results reach the GUI in batches through queued signals, at most one batch per
``BATCH_INTERVAL_MS``, so thousands of rows cost tens of signals, not thousands.
Cancel is thread-safe and prompt: it cancels the asyncio task consuming the core
engine's stream, which cancels every check in flight.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from core.config import Settings
from core.models import CheckResult, Target
from desktop.engine_process import CheckBatch, CheckContext, CheckerLike, check_in_batches

log = logging.getLogger(__name__)

BATCH_INTERVAL_MS = 50
#: A run's thread starts this long after ``CheckRunner.start``: in a turn of the
#: event loop after the one that asked, so the window first paints what the caller
#: just changed (thousands of new rows, after a drop). Starting the engine process is
#: the busiest half-second of a check; on that first paint it made the window stutter.
START_DELAY_MS = 1
SHUTDOWN_TIMEOUT_MS = 10_000
#: How often the thread looks at the engine process's pipe (and for a cancel).
_POLL_INTERVAL_S = 0.02
#: After "cancel", how long the engine process gets before it is terminated.
_CANCEL_GRACE_S = 2.0


_Checker = CheckerLike


CheckerFactory = Callable[[Settings], _Checker]


def default_checker_factory(settings: Settings) -> _Checker:
    from core.checker import Checker  # imported lazily: keeps app start fast

    return Checker(settings)  # type: ignore[return-value]  # stream() takes more options


#: The default engine: ``core.checker.Checker`` in a child process
#: (:mod:`desktop.engine_process`). Any other factory runs in the worker thread.
PROCESS_ENGINE: CheckerFactory = default_checker_factory


class CheckWorker(QObject):
    """Runs one check of ``targets`` inside the thread it was moved to.

    Signals:
        results_ready(CheckBatch): a batch of finished results (with their row values
            and watchlist documents, made in the engine process or this thread).
        progress(int, int): results so far, total.
        failed(str): the run stopped on an unexpected error (message for people).
        finished(bool): the run is over; ``True`` when it was cancelled.
    """

    results_ready = Signal(object)
    progress = Signal(int, int)
    failed = Signal(str)
    finished = Signal(bool)

    def __init__(
        self,
        targets: Sequence[Target],
        settings: Settings,
        checker_factory: CheckerFactory,
        batch_interval_ms: int = BATCH_INTERVAL_MS,
        context: CheckContext | None = None,
    ) -> None:
        super().__init__()
        self._context = context or CheckContext()
        self._targets = list(targets)
        self._settings = settings
        self._checker_factory = checker_factory
        self._batch_interval_s = batch_interval_ms / 1000
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[bool] | None = None
        self._cancel_requested = False

    def cancel(self) -> None:
        """Stop the run as soon as possible; safe to call from any thread, any time."""
        self._cancel_requested = True  # the process loop polls this flag
        with self._lock:
            self._cancel_requested = True
            if self._loop is not None and self._task is not None:
                with contextlib.suppress(RuntimeError):  # loop already closed
                    self._loop.call_soon_threadsafe(self._task.cancel)

    def run(self) -> None:
        """Slot for ``QThread.started``: run the whole check, then emit ``finished``."""
        if self._checker_factory is PROCESS_ENGINE:
            cancelled = True
            try:
                cancelled = self._run_in_process()
            except Exception as exc:
                log.exception("check run failed")
                self.failed.emit(f"The check could not start: {exc}")
                cancelled = False
            finally:
                self._finish(cancelled)
            return
        self._run_in_thread()

    def _finish(self, cancelled: bool) -> None:
        self.finished.emit(cancelled)
        # Leave the thread's event loop as soon as run() returns; done here, not
        # through a queued quit(), so a GUI thread blocked in wait() is never stuck.
        thread = self.thread()
        if thread is not None:
            thread.quit()

    def _run_in_process(self) -> bool:
        """Drive :mod:`desktop.engine_process` and relay its batches as signals."""
        from desktop import engine_process

        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=engine_process.main,
            args=(theirs, self._targets, self._settings, self._batch_interval_s, self._context),
            name="domaincheck-engine",
            daemon=True,
        )
        total = len(self._targets)
        done = 0
        self.progress.emit(0, total)
        if self._cancel_requested:
            return True
        process.start()
        theirs.close()
        cancelled: bool | None = None
        cancel_sent_at: float | None = None
        try:
            while cancelled is None:
                if self._cancel_requested and cancel_sent_at is None:
                    with contextlib.suppress(OSError):
                        ours.send("cancel")
                    cancel_sent_at = time.monotonic()
                if cancel_sent_at is not None and (
                    time.monotonic() - cancel_sent_at > _CANCEL_GRACE_S
                ):
                    log.warning("engine process did not stop on cancel; terminating it")
                    cancelled = True
                    break
                if not ours.poll(_POLL_INTERVAL_S):
                    if not process.is_alive() and not ours.poll(0):
                        cancelled = self._cancel_requested
                        if not cancelled:
                            self.failed.emit("The check stopped unexpectedly.")
                    continue
                try:
                    kind, payload = ours.recv()
                except (EOFError, OSError):
                    cancelled = self._cancel_requested
                    continue
                if kind == "results":
                    done += len(payload)
                    self.results_ready.emit(payload)
                    self.progress.emit(done, total)
                elif kind == "failed":
                    self.failed.emit(payload)
                elif kind == "done":
                    cancelled = bool(payload) or self._cancel_requested
        finally:
            ours.close()
            process.join(_CANCEL_GRACE_S)
            if process.is_alive():
                process.terminate()
                process.join(1)
            if process.is_alive():
                process.kill()
                process.join()
        return cancelled

    def _run_in_thread(self) -> None:
        loop = asyncio.new_event_loop()
        # Our own executor, so a stuck DNS lookup can never hold up the shutdown.
        executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="domaincheck-dns")
        loop.set_default_executor(executor)
        cancelled = True
        try:
            with self._lock:
                if not self._cancel_requested:
                    self._loop = loop
                    self._task = loop.create_task(self._check())
            if self._task is not None:
                cancelled = loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            cancelled = True
        except Exception as exc:
            log.exception("check run failed")
            self.failed.emit(f"The check stopped unexpectedly: {exc}")
            cancelled = False
        finally:
            with self._lock:
                self._loop = None
            _close_loop(loop)
            executor.shutdown(wait=False, cancel_futures=True)
            self._finish(cancelled)

    async def _check(self) -> bool:
        total = len(self._targets)
        done = 0

        def send(batch: list[CheckResult]) -> None:
            nonlocal done
            done += len(batch)
            self.results_ready.emit(CheckBatch.prepare(batch))
            self.progress.emit(done, total)

        self.progress.emit(0, total)
        return await check_in_batches(
            make_checker(self._checker_factory, self._settings, self._context),
            self._targets,
            self._batch_interval_s,
            send,
        )


def make_checker(factory: CheckerFactory, settings: Settings, context: CheckContext) -> _Checker:
    """An engine from ``factory``; one marked ``takes_context`` also gets the run's
    context (typed registration dates, previous registrations)."""
    if getattr(factory, "takes_context", False):
        return factory(settings, context)  # type: ignore[call-arg]
    return factory(settings)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    try:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


class CheckRunner(QObject):
    """Starts, cancels and shuts down check runs; lives in the GUI thread.

    One run at a time. Each run gets a fresh ``QThread`` + ``CheckWorker``, deleted
    when it ends.

    Signals:
        started(int): a run of this many targets began.
        results_ready(CheckBatch): a batch of results (GUI thread).
        progress(int, int): done, total.
        failed(str): the run hit an unexpected error.
        finished(bool): the run ended; ``True`` if it was cancelled.
    """

    started = Signal(int)
    results_ready = Signal(object)
    progress = Signal(int, int)
    failed = Signal(str)
    finished = Signal(bool)

    def __init__(
        self,
        checker_factory: CheckerFactory = default_checker_factory,
        *,
        batch_interval_ms: int = BATCH_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._checker_factory = checker_factory
        self._batch_interval_ms = batch_interval_ms
        self._thread: QThread | None = None
        self._worker: CheckWorker | None = None
        self._start_timer = QTimer(self)
        self._start_timer.setSingleShot(True)
        self._start_timer.setInterval(START_DELAY_MS)
        self._start_timer.timeout.connect(self._start_thread)

    @property
    def is_running(self) -> bool:
        return self._worker is not None

    def start(
        self, targets: Sequence[Target], settings: Settings, context: CheckContext | None = None
    ) -> bool:
        """Check ``targets``; returns False (and does nothing) if a run is going on."""
        if self.is_running or not targets:
            return False
        thread = QThread()
        thread.setObjectName("domaincheck-checker")
        worker = CheckWorker(
            targets, settings, self._checker_factory, self._batch_interval_ms, context
        )
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.results_ready.connect(self.results_ready)
        worker.progress.connect(self.progress)
        worker.failed.connect(self.failed)
        worker.finished.connect(self._on_worker_finished)
        thread.finished.connect(worker.deleteLater)
        thread.finished.connect(thread.deleteLater)
        self._thread, self._worker = thread, worker
        self._start_timer.start()
        self.started.emit(len(targets))
        return True

    def _start_thread(self) -> None:
        if self._thread is not None and not self._thread.isRunning():
            self._thread.start()

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def shutdown(self, timeout_ms: int = SHUTDOWN_TIMEOUT_MS) -> bool:
        """Cancel any run and wait for its thread to end (application quit)."""
        thread, worker = self._thread, self._worker
        if thread is None or worker is None:
            return True
        worker.cancel()
        if self._start_timer.isActive():  # never started: it ends without checking
            self._start_timer.stop()
            self._start_thread()
        stopped = thread.wait(timeout_ms)
        if not stopped:
            log.error("the checker thread did not stop within %d ms", timeout_ms)
        return stopped

    def _on_worker_finished(self, cancelled: bool) -> None:
        thread = self._thread
        if thread is not None:
            thread.wait()  # it is only returning from run(); never long
        self._thread = None
        self._worker = None
        self.finished.emit(cancelled)
