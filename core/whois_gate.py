"""WHOIS etiquette for a whole process: one query in flight, a pace, a shared backoff.

WHOIS servers throttle hard and some ban for days, and they count queries per
client address, not per :class:`core.whois.WhoisClient`. The backend makes a new
client for each ``/api/check`` request and each worker batch, and the desktop one
per run, so the etiquette cannot live in a client: it lives here, in one
:class:`WhoisGate` per process (:data:`PROCESS_GATE`) that every client shares.

Per server (``(host, port)``) the gate keeps:

* **one turn at a time.** :meth:`WhoisGate.turn` hands the server to one query;
  the others wait in line (first come, first served).
* **not before.** The moment before which the server may not be asked again: the
  pace after each answer, longer after a "limit exceeded" answer.
* **strikes.** "Limit exceeded" answers in a row; the backoff doubles with each,
  whichever client gets them, and a good answer resets it.

Clients run on different event loops (the desktop's worker threads, one loop per
test), so the state is guarded by a :class:`threading.Lock` and a waiting turn is a
future of its own loop, woken with ``call_soon_threadsafe``. Beyond one process (the
backend's workers), :class:`core.whois.WhoisClient` takes a ``server_gate`` as well.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import threading
import time
from collections.abc import AsyncIterator, Callable

__all__ = ["PROCESS_GATE", "ServerTurn", "WhoisGate"]


@dataclasses.dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


@dataclasses.dataclass
class _ServerState:
    holder: _Waiter | object | None = None
    waiters: collections.deque[_Waiter] = dataclasses.field(default_factory=collections.deque)
    #: Monotonic time before which the server is not asked again.
    not_before: float = 0.0
    #: "Limit exceeded" answers in a row.
    strikes: int = 0


class ServerTurn:
    """One query's turn at a server (from :meth:`WhoisGate.turn`)."""

    def __init__(self, gate: WhoisGate, state: _ServerState) -> None:
        self._gate = gate
        self._state = state

    @property
    def strikes(self) -> int:
        """ "Limit exceeded" answers in a row from this server, by any client."""
        with self._gate._mutex:
            return self._state.strikes

    def seconds_to_wait(self) -> float:
        """How long until the server may be asked (0 when it may be now)."""
        with self._gate._mutex:
            return max(0.0, self._state.not_before - self._gate._clock())

    async def wait(self) -> None:
        """Sleep until the server may be asked."""
        delay = self.seconds_to_wait()
        if delay > 0:
            await asyncio.sleep(delay)

    def answered(self, *, pace_seconds: float, rate_limited: bool, backoff_seconds: float) -> None:
        """Record an answer (or a failure): the server rests ``pace_seconds``, or
        ``max(backoff_seconds, pace_seconds)`` after "limit exceeded"."""
        with self._gate._mutex:
            state = self._state
            if rate_limited:
                state.strikes += 1
            else:
                state.strikes = 0
            rest = max(backoff_seconds, pace_seconds) if rate_limited else pace_seconds
            state.not_before = max(state.not_before, self._gate._clock() + rest)

    def failed(self, *, pace_seconds: float) -> None:
        """Record a query that got no answer: the server rests its pace; strikes stay."""
        with self._gate._mutex:
            state = self._state
            state.not_before = max(state.not_before, self._gate._clock() + pace_seconds)


class WhoisGate:
    """Per-server turns, pace and backoff shared by every client given this gate.

    Args:
        clock: Monotonic seconds (the same clock ``asyncio.sleep`` waits by).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._mutex = threading.Lock()
        self._servers: dict[tuple[str, int], _ServerState] = {}

    def seconds_to_wait(self, server: tuple[str, int]) -> float:
        """How long until ``server`` may be asked again (0: now)."""
        with self._mutex:
            state = self._servers.get(server)
            return 0.0 if state is None else max(0.0, state.not_before - self._clock())

    @contextlib.asynccontextmanager
    async def turn(self, server: tuple[str, int]) -> AsyncIterator[ServerTurn]:
        """Wait for ``server``'s turn (no other query of this gate in flight there)."""
        state = await self._acquire(server)
        try:
            yield ServerTurn(self, state)
        finally:
            self._release(state)

    async def _acquire(self, server: tuple[str, int]) -> _ServerState:
        loop = asyncio.get_running_loop()
        with self._mutex:
            state = self._servers.setdefault(server, _ServerState())
            if state.holder is None and not state.waiters:
                state.holder = object()
                return state
            waiter = _Waiter(loop, loop.create_future())
            state.waiters.append(waiter)
        try:
            await waiter.future
        except asyncio.CancelledError:
            with self._mutex:
                handed_over = state.holder is waiter
                if not handed_over:
                    state.waiters.remove(waiter)
            if handed_over:
                self._release(state)
            raise
        return state

    def _release(self, state: _ServerState) -> None:
        """End a turn and hand the server to the next waiter still alive."""
        with self._mutex:
            state.holder = None
            while state.waiters:
                waiter = state.waiters.popleft()
                if waiter.loop.is_closed() or waiter.future.done():
                    continue
                state.holder = waiter
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)
                return


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


#: The gate every :class:`core.whois.WhoisClient` of this process uses by default.
PROCESS_GATE = WhoisGate()
