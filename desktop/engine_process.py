"""The check engine in a child process (no Qt here: the child imports only core).

Why a process and not only a thread: the engine is CPU-bound at thousands of hosts
(TLS, X.509 parsing, asyncio), and a busy thread in the GUI's process takes the GIL
from the GUI thread every few milliseconds; every ``data()`` call of a repaint then
waits for it, and the window stutters. In its own process the engine has its own GIL.

Protocol over a ``multiprocessing`` pipe, child to parent: ``("results", CheckBatch)``
every ``batch_interval_s``, ``("failed", message)``, and finally ``("done", cancelled)``.
Parent to child: ``"cancel"``. A closed pipe counts as cancel.

A ``CheckBatch`` carries, next to each result, what the GUI's process would otherwise
work out for it: the table row's texts and sort keys and the watchlist's stored JSON.
The engine has the spare time; the GUI's process does not (every millisecond its
threads spend there is a millisecond the window is not repainted).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any, Protocol, overload

from core.config import Settings
from core.models import CheckResult, Registration, Target
from core.storage import result_document
from desktop.rows import RowValues, row_values

log = logging.getLogger(__name__)

ENGINE_NICENESS = 5


Key = tuple[str, int]


@dataclasses.dataclass(frozen=True, slots=True)
class CheckContext:
    """What a check needs from the watchlist besides the targets: plain, picklable
    data, gathered by the GUI's process without touching the disk on its GUI thread
    (see ``desktop.watchlist_service.WatchlistService.manual_expiries``).
    """

    #: Registration expiries typed by hand, by ``Target.key`` (method ``manual``).
    manual_expiry: Mapping[Key, datetime] = dataclasses.field(default_factory=dict)
    #: The last registration known per target, so core reports what changed.
    previous: Mapping[Key, Registration] = dataclasses.field(default_factory=dict)

    @classmethod
    def for_targets(
        cls,
        targets: Iterable[Target],
        manual_expiry: Mapping[Key, datetime],
        previous_registration: Callable[[Key], Registration | None],
    ) -> CheckContext:
        """The context of a run of ``targets``: only their entries."""
        manual: dict[Key, datetime] = {}
        previous: dict[Key, Registration] = {}
        for target in targets:
            key = target.key
            if key in manual_expiry:
                manual[key] = manual_expiry[key]
            registration = previous_registration(key)
            if registration is not None:
                previous[key] = registration
        return cls(manual, previous)

    def checker(self, settings: Settings) -> Any:
        """``core.checker.Checker`` with this context (imported late: core only)."""
        from core.checker import Checker

        return Checker(
            settings, manual_expiry=dict(self.manual_expiry), previous=dict(self.previous)
        )


class CheckBatch(Sequence[CheckResult]):
    """Results, each with its table row's ``RowValues`` and its watchlist document.

    A sequence of the results themselves; ``values`` and ``documents`` run alongside.
    Made with ``prepare`` where there is time to spare (the engine process), taken
    apart by the GUI with no more work than storing what is there.
    """

    __slots__ = ("documents", "results", "values")

    def __init__(
        self,
        results: Sequence[CheckResult],
        values: Sequence[RowValues],
        documents: Sequence[str],
    ) -> None:
        if not len(results) == len(values) == len(documents):
            raise ValueError("a value and a document for every result")
        self.results = list(results)
        self.values = list(values)
        self.documents = list(documents)

    @classmethod
    def prepare(cls, results: Iterable[CheckResult]) -> CheckBatch:
        if isinstance(results, CheckBatch):
            return results
        results = list(results)
        return cls(results, [row_values(r) for r in results], [result_document(r) for r in results])

    @classmethod
    def join(cls, batches: Iterable[CheckBatch]) -> CheckBatch:
        joined = cls([], [], [])
        for batch in batches:
            joined.results += batch.results
            joined.values += batch.values
            joined.documents += batch.documents
        return joined

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.results)

    @overload
    def __getitem__(self, index: int) -> CheckResult: ...
    @overload
    def __getitem__(self, index: slice) -> CheckBatch: ...
    def __getitem__(self, index: int | slice) -> CheckResult | CheckBatch:
        if isinstance(index, slice):
            return CheckBatch(self.results[index], self.values[index], self.documents[index])
        return self.results[index]

    def __reduce__(self) -> tuple[Any, ...]:  # __slots__ and no __dict__: say how
        return (CheckBatch, (self.results, self.values, self.documents))


def main(
    conn: Connection,
    targets: Sequence[Target],
    settings: Settings,
    batch_interval_s: float,
    context: CheckContext | None = None,
) -> None:
    """Entry point of the child process."""
    # Ctrl+C in a terminal reaches the whole process group: the parent decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Background work: when CPU is short, the window the user is looking at wins.
    with contextlib.suppress(AttributeError, OSError):
        os.nice(ENGINE_NICENESS)
    try:
        cancelled = asyncio.run(
            _check(conn, list(targets), settings, batch_interval_s, context or CheckContext())
        )
        _send(conn, ("done", cancelled))
    except Exception as exc:  # anything unexpected is reported, never a silent death
        log.exception("engine process failed")
        _send(conn, ("failed", f"The check stopped unexpectedly: {exc}"))
        _send(conn, ("done", False))
    finally:
        conn.close()


def _send(conn: Connection, message: object) -> None:
    with contextlib.suppress(OSError, ValueError):  # parent gone: nobody to tell
        conn.send(message)


async def _check(
    conn: Connection,
    targets: list[Target],
    settings: Settings,
    batch_interval_s: float,
    context: CheckContext,
) -> bool:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def on_message() -> None:
        with contextlib.suppress(EOFError, OSError):
            conn.recv()  # "cancel" is the only message
        loop.remove_reader(conn.fileno())
        task.cancel()

    loop.add_reader(conn.fileno(), on_message)
    try:
        return await check_in_batches(
            context.checker(settings),
            targets,
            batch_interval_s,
            lambda batch: _send(conn, ("results", CheckBatch.prepare(batch))),
        )
    finally:
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(conn.fileno())


class CheckerLike(Protocol):  # what desktop needs of core.checker.Checker
    async def __aenter__(self) -> Any: ...
    async def __aexit__(self, *exc_info: object) -> None: ...
    def stream(self, targets: Sequence[Target]) -> Any: ...


async def check_in_batches(
    checker: CheckerLike,
    targets: Sequence[Target],
    interval_s: float,
    send: Callable[[list[CheckResult]], None],
) -> bool:
    """Run ``checker`` over ``targets``, handing results to ``send`` at most every
    ``interval_s`` (and the rest at the end); ``True`` if the run was cancelled.

    Shared by the engine process (``send`` writes to the pipe) and the worker
    thread that runs injected engines (``send`` emits a signal).
    """
    batch: list[CheckResult] = []

    async def flush_periodically() -> None:
        nonlocal batch
        while True:
            await asyncio.sleep(interval_s)
            if batch:
                send(batch)
                batch = []

    flusher = asyncio.create_task(flush_periodically())
    try:
        async with checker:
            async for result in checker.stream(targets):
                batch.append(result)
    except asyncio.CancelledError:
        return True
    finally:
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher
        if batch:
            send(batch)
    return False
