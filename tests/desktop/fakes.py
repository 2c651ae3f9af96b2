"""Fakes for desktop tests: an engine with scripted results, a timer and a clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.config import Settings
from core.models import CertInfo, CheckResult, Registration, Target

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class FakeTimer(QObject):
    """Stands in for QTimer: records start/stop, fires only on ``fire()``."""

    timeout = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.interval_ms: int | None = None
        self.active = False

    def start(self, msec: int) -> None:
        self.interval_ms = msec
        self.active = True

    def stop(self) -> None:
        self.active = False

    def fire(self) -> None:
        self.timeout.emit()


def make_result(
    target: Target | str,
    *,
    days: int | None = 90,
    checked_at: datetime = START,
    fingerprint: str = "aa" * 32,
    error: str | None = None,
    trusted: bool = True,
    threshold_days: int = 30,
) -> CheckResult:
    """A result whose certificate has ``days`` left (``error`` = could not check)."""
    if isinstance(target, str):
        target = Target(target)
    if error is not None or days is None:
        tls = CertInfo(error=error or "connection refused")
    else:
        not_after = checked_at + timedelta(days=days, hours=2)
        # A realistic lifetime (90 days, longer when needed): the lifetime rule of
        # core.thresholds stays out of tests about the threshold.
        lifetime = timedelta(days=max(90, days + 30, 3 * threshold_days))
        tls = CertInfo(
            not_after=not_after,
            not_before=not_after - lifetime,
            subject=target.host,
            issuer="Fake CA",
            sans=(target.host,),
            fingerprint_sha256=fingerprint,
            trusted=trusted,
            hostname_match=True,
            verify_error=None if trusted else "self-signed certificate",
        )
    return CheckResult(
        target=target,
        tls=tls,
        registration=Registration(unknown=True, error="no RDAP service for .test"),
        checked_at=checked_at,
        threshold_days=threshold_days,
    )


class FakeEngine:
    """A checker factory: ``results(target) -> CheckResult`` after ``delay`` seconds.

    Targets named in ``hang`` never finish (until cancelled). ``entered``/``exited``
    count context-manager use, so tests can see a run closed its engine.
    """

    def __init__(
        self,
        results: Callable[[Target], CheckResult] | None = None,
        *,
        delay: float = 0.0,
        hang: Sequence[str] = (),
        concurrency: int = 50,
    ) -> None:
        self.results = results or (lambda target: make_result(target))
        self.delay = delay
        self.hang = set(hang)
        self.concurrency = concurrency
        self.entered = 0
        self.exited = 0
        self.checked: list[Target] = []
        self.settings: list[Settings] = []

    def __call__(self, settings: Settings) -> FakeEngine:
        self.settings.append(settings)
        return self

    async def __aenter__(self) -> FakeEngine:
        self.entered += 1
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.exited += 1

    async def _one(self, target: Target) -> CheckResult:
        if target.host in self.hang:
            await asyncio.Event().wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        self.checked.append(target)
        return self.results(target)

    async def stream(self, targets: Sequence[Target]) -> AsyncIterator[CheckResult]:
        semaphore = asyncio.Semaphore(self.concurrency)

        async def run(target: Target) -> CheckResult:
            async with semaphore:
                return await self._one(target)

        tasks = [asyncio.ensure_future(run(t)) for t in targets]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
