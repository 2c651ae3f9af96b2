"""One registration lookup per domain at a time, and answers remembered for a while.

Both registry clients (:mod:`core.rdap`, :mod:`core.whois`) ask the same of this:
callers asking for one domain at once share one lookup (a list with ``www.x`` and
``x`` asks the registry once); an answer is reused until its own time runs out; one
impatient caller's cancellation does not cancel the lookup the others wait on; and
closing the client cancels what is still running.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime

from core.models import Registration


class SharedLookups:
    """Per-domain in-flight sharing and a memo of answers with their expiry."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._inflight: dict[str, asyncio.Task[Registration]] = {}
        self._memo: dict[str, tuple[datetime, Registration]] = {}

    def remember(self, domain: str, until: datetime, registration: Registration) -> Registration:
        """Reuse ``registration`` for ``domain`` until ``until``; returns it."""
        self._memo[domain] = (until, registration)
        return registration

    async def get(
        self, domain: str, lookup: Callable[[str], Awaitable[Registration]]
    ) -> Registration:
        """The remembered answer while it holds, else the running or a new ``lookup``."""
        memo = self._memo.get(domain)
        if memo is not None and self._clock() < memo[0]:
            return memo[1]
        task = self._inflight.get(domain)
        if task is None:
            task = asyncio.ensure_future(lookup(domain))
            self._inflight[domain] = task
            task.add_done_callback(functools.partial(self._forget, domain))
        # shield: one impatient caller must not cancel the lookup the others share.
        return await asyncio.shield(task)

    def _forget(self, domain: str, task: asyncio.Task[Registration]) -> None:
        if self._inflight.get(domain) is task:
            del self._inflight[domain]

    async def cancel_all(self) -> None:
        """Cancel the lookups still running and wait until they have ended."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
