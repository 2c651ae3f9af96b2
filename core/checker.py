"""The concurrent engine: many targets, TLS and RDAP overlapped, results streamed.

``Checker.stream()`` runs a fixed pool of ``concurrency`` worker tasks that pull
targets from one shared iterator, so memory stays flat however many targets there
are: at most ``concurrency`` checks and ``concurrency`` finished results are alive at
once. Results come out in completion order, so a front end can show each row as
soon as it is known. Cancelling the consumer (or leaving the ``async for``) cancels
every check in flight.

After a handshake, :class:`core.followup.FollowUp` asks the CA about the
certificate (ARI renewal window, CRL/OCSP revocation); a target's own
``threshold_days`` (from a CSV list or the watchlist) overrides the run's default.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence, Sized
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING

from core.config import Settings
from core.endpoints import enrich as enrich_endpoints
from core.models import CertInfo, CheckResult, Registration, Target, utcnow
from core.registration import RegistrationChain, TargetKey
from core.tls import TlsChecker

if TYPE_CHECKING:  # imported when needed: httpx costs start-up time with --no-rdap
    from core.followup import FollowUp
    from core.rdap import RdapClient
    from core.whois import WhoisClient

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Progress:
    """How far a run has got; ``total`` is ``None`` for an unsized iterable."""

    done: int
    total: int | None


ProgressCallback = Callable[[Progress], None]


class Checker:
    """Checks targets with one shared TLS checker and RDAP client.

    Use as an async context manager so the clients are closed::

        async with Checker(settings) as checker:
            async for result in checker.stream(targets):
                ...

    ``tls``, ``rdap`` and ``whois`` can be injected (tests, the backend); injected
    clients are not closed by the checker. An injected ``rdap`` without ``whois``
    means no WHOIS fallback: a test's fake registry is never mixed with the real
    WHOIS. ``manual_expiry`` holds the registration dates typed by hand and
    ``previous`` the last stored registration per target (``Target.key``), for the
    ``changes`` of each result (:class:`core.registration.RegistrationChain`).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        tls: TlsChecker | None = None,
        rdap: RdapClient | None = None,
        followup: FollowUp | None = None,
        whois: WhoisClient | None = None,
        manual_expiry: Mapping[TargetKey, datetime] | None = None,
        previous: Mapping[TargetKey, Registration] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._owns_tls = tls is None and settings.check_tls
        self._owns_rdap = rdap is None and settings.check_rdap
        self._tls = (
            tls
            if tls is not None
            else (TlsChecker.from_settings(settings) if settings.check_tls else None)
        )
        self._owns_whois = whois is None and rdap is None
        self._rdap = rdap if rdap is not None else _default_rdap(settings)
        self._whois = (
            whois if whois is not None else (_default_whois(settings) if rdap is None else None)
        )
        self._registrations = RegistrationChain(
            rdap=self._rdap, whois=self._whois, manual_expiry=manual_expiry, previous=previous
        )
        self._owns_followup = followup is None and settings.check_tls
        self._followup = followup if followup is not None else _default_followup(settings)

    async def __aenter__(self) -> Checker:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_tls and self._tls is not None:
            self._tls.close()
        if self._owns_rdap and self._rdap is not None:
            await self._rdap.aclose()
        if self._owns_whois and self._whois is not None:
            await self._whois.aclose()
        if self._owns_followup and self._followup is not None:
            await self._followup.aclose()

    async def check(self, target: Target) -> CheckResult:
        """Check one target: TLS and RDAP at the same time. Never raises for a bad host."""
        checked_at = self._clock()
        tls_info, registration = await asyncio.gather(
            self._check_tls(target), self._lookup_registration(target)
        )
        return CheckResult(
            target=target,
            tls=tls_info,
            registration=registration,
            checked_at=checked_at,
            threshold_days=(
                self.settings.threshold_days
                if target.threshold_days is None
                else target.threshold_days
            ),
            lifetime_fraction=self.settings.lifetime_fraction,
        )

    async def _check_tls(self, target: Target) -> CertInfo | None:
        if self._tls is None:
            return None
        try:
            handshake = await self._tls.inspect(target)
            # Each address's certificate is followed up, then the worst picked again
            # with the target's own threshold (core.endpoints).
            return await enrich_endpoints(
                handshake,
                None if self._followup is None else self._followup.enrich,
                now=self._clock(),
                threshold_days=(
                    self.settings.threshold_days
                    if target.threshold_days is None
                    else target.threshold_days
                ),
                lifetime_fraction=self.settings.lifetime_fraction,
            )
        except asyncio.CancelledError:
            if _we_are_cancelled():
                raise
            return CertInfo(error="check was cancelled")
        except Exception as exc:  # a bug must cost one row, not the whole run
            log.exception("TLS check of %s failed unexpectedly", target)
            return CertInfo(error=f"unexpected error ({type(exc).__name__})")

    async def _lookup_registration(self, target: Target) -> Registration | None:
        if not self.settings.check_rdap or not self._registrations.enabled:
            return None
        try:
            return await self._registrations.lookup(target)
        except asyncio.CancelledError:  # e.g. a shared lookup cancelled elsewhere
            if _we_are_cancelled():
                raise
            return Registration(error="lookup was cancelled")
        except Exception as exc:
            log.exception("registration lookup of %s failed unexpectedly", target)
            return Registration(error=f"unexpected error ({type(exc).__name__})")

    async def stream(
        self, targets: Iterable[Target], *, on_progress: ProgressCallback | None = None
    ) -> AsyncIterator[CheckResult]:
        """Yield a result for every target as soon as it is known (completion order)."""
        total = len(targets) if isinstance(targets, Sized) else None
        pending = iter(targets)
        worker_count = (
            self.settings.concurrency if total is None else min(self.settings.concurrency, total)
        )
        if worker_count == 0:
            return
        finished: asyncio.Queue[CheckResult | None] = asyncio.Queue(maxsize=worker_count)

        async def worker() -> None:
            try:
                for target in pending:  # one shared iterator: each target taken once
                    await finished.put(await self.check(target))
            except Exception:  # check() never raises; this guards against a hang
                log.exception("checker worker stopped unexpectedly")
            await finished.put(None)  # "this worker is done"; not reached when cancelled

        workers = [asyncio.create_task(worker()) for _ in range(worker_count)]
        done = 0
        running = worker_count
        try:
            while running:
                item = await finished.get()
                if item is None:
                    running -= 1
                    continue
                done += 1
                if on_progress is not None:
                    on_progress(Progress(done, total))
                yield item
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)


def _we_are_cancelled() -> bool:
    """Tell our own cancellation (re-raise it) from one leaking out of a shared future.

    Only a cancellation of the current task may stop a worker: a stray one from a
    lookup shared with another task would end the worker without its "done" marker
    and leave ``stream()`` waiting for ever.
    """
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


def _default_followup(settings: Settings) -> FollowUp | None:
    if not settings.check_tls:
        return None
    from core.followup import FollowUp

    return FollowUp.from_settings(settings)


def _default_rdap(settings: Settings) -> RdapClient | None:
    if not settings.check_rdap:
        return None
    from core.rdap import RdapClient

    return RdapClient.from_settings(settings)


def _default_whois(settings: Settings) -> WhoisClient | None:
    if not (settings.check_rdap and settings.check_whois):
        return None
    from core.whois import WhoisClient

    return WhoisClient.from_settings(settings)


async def check_all(
    targets: Sequence[Target],
    settings: Settings,
    *,
    on_progress: ProgressCallback | None = None,
    **checker_kwargs: object,
) -> list[CheckResult]:
    """Check every target and return the results in input order."""
    order = {target.key: index for index, target in enumerate(targets)}
    results: list[CheckResult] = []
    async with Checker(settings, **checker_kwargs) as checker:  # type: ignore[arg-type]
        async for result in checker.stream(targets, on_progress=on_progress):
            results.append(result)
    results.sort(key=lambda r: order.get(r.target.key, len(order)))
    return results
