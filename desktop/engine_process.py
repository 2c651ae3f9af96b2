"""The check engine in a child process (no Qt here: the child imports only core).

Why a process and not only a thread: the engine is CPU-bound at thousands of hosts
(TLS, X.509 parsing, asyncio), and a busy thread in the GUI's process takes the GIL
from the GUI thread every few milliseconds; every ``data()`` call of a repaint then
waits for it, and the window stutters. In its own process the engine has its own GIL.

Protocol over a ``multiprocessing`` pipe, child to parent: ``("results", [CheckResult])``
batches every ``batch_interval_s``, ``("failed", message)``, and finally
``("done", cancelled)``. Parent to child: ``"cancel"``. A closed pipe counts as cancel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, Protocol

from core.config import Settings
from core.models import CheckResult, Target

log = logging.getLogger(__name__)

ENGINE_NICENESS = 5


def main(
    conn: Connection, targets: Sequence[Target], settings: Settings, batch_interval_s: float
) -> None:
    """Entry point of the child process."""
    # Ctrl+C in a terminal reaches the whole process group: the parent decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Background work: when CPU is short, the window the user is looking at wins.
    with contextlib.suppress(AttributeError, OSError):
        os.nice(ENGINE_NICENESS)
    try:
        cancelled = asyncio.run(_check(conn, list(targets), settings, batch_interval_s))
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
    conn: Connection, targets: list[Target], settings: Settings, batch_interval_s: float
) -> bool:
    from core.checker import Checker

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
            Checker(settings),  # type: ignore[arg-type]  # stream() takes more options
            targets,
            batch_interval_s,
            lambda batch: _send(conn, ("results", batch)),
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
