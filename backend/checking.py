"""How the backend checks targets with the core engine: one pipeline for every path.

The reminder run on SQLite (:mod:`backend.reminders`), the queue's batches on
PostgreSQL (:mod:`backend.queue`) and ``POST /api/check`` all build their RDAP and
WHOIS clients here, so a limit added for one path cannot be forgotten in another
(they had drifted apart: only the queue applied ``RDAP_PER_SERVER_LIMIT``).

* **RDAP**: at most ``rdap_per_server_limit`` queries in flight per server in this
  process, and ``rdap_gate`` (the workers' :class:`backend.registry_limits.SharedServerSlots`)
  around each query to share that limit across processes.
* **WHOIS**: the core's process-wide gate (one query in flight per server, a pace,
  a shared backoff) always applies; ``whois_gate`` extends it across processes.
  ``whois_deadline_seconds`` bounds the time all WHOIS lookups of one call may take
  together: a lookup still queued (or running) at the deadline answers "timed out"
  instead of holding the caller for minutes behind a slow server's pace.
* ``mx:`` entries are checked through their MX hosts (:mod:`backend.watch_checks`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from backend.watch_checks import expand_mail_targets, with_mail_results
from core.checker import Checker
from core.config import Settings as CoreSettings
from core.dns import DnsResolver
from core.errors import ErrorKind
from core.models import CheckResult, Registration, Target
from core.rdap import RdapClient, ServerGate
from core.whois import WhoisClient, WhoisServerGate

TargetKey = tuple[str, int]


class DeadlineWhoisClient(WhoisClient):
    """A WHOIS client whose lookups all end by one deadline (``asyncio`` loop time).

    A lookup that has not answered by then returns a "timed out" registration; the
    query behind it is cancelled when the client is closed. Build one per call.
    """

    def __init__(self, *, deadline: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._deadline = deadline

    async def lookup(self, domain: str) -> Registration:
        if asyncio.get_running_loop().time() < self._deadline:  # else: do not even start
            try:
                async with asyncio.timeout_at(self._deadline):
                    return await super().lookup(domain)
            except TimeoutError:
                pass
        return Registration(
            domain.lower().rstrip("."),
            error="the WHOIS lookup did not finish in the time this check allows",
            error_kind=ErrorKind.TIMEOUT,
            method="whois",
        )


def whois_client(
    settings: CoreSettings,
    *,
    server_gate: WhoisServerGate | None = None,
    deadline_seconds: float | None = None,
) -> WhoisClient | None:
    """The WHOIS fallback for ``settings`` (``None`` when RDAP or WHOIS is off)."""
    if not (settings.check_rdap and settings.check_whois):
        return None
    if deadline_seconds is None:
        return WhoisClient.from_settings(settings, server_gate=server_gate)
    deadline = asyncio.get_running_loop().time() + deadline_seconds
    client = DeadlineWhoisClient.from_settings(settings, server_gate=server_gate, deadline=deadline)
    assert isinstance(client, DeadlineWhoisClient)
    return client


def rdap_client(
    settings: CoreSettings,
    *,
    per_server_limit: int | None = None,
    server_gate: ServerGate | None = None,
) -> RdapClient | None:
    """The RDAP client for ``settings`` (``None`` when RDAP is off)."""
    if not settings.check_rdap:
        return None
    options: dict[str, Any] = {"server_gate": server_gate}
    if per_server_limit is not None:
        options["per_server_limit"] = per_server_limit
    return RdapClient.from_settings(settings, **options)


async def check_targets(
    targets: Sequence[Target],
    settings: CoreSettings,
    *,
    resolver: DnsResolver | None = None,
    rdap_per_server_limit: int | None = None,
    rdap_gate: ServerGate | None = None,
    whois_gate: WhoisServerGate | None = None,
) -> dict[TargetKey, CheckResult]:
    """Check ``targets`` (``mx:`` ones through their MX hosts), keyed by ``Target.key``."""
    results: dict[TargetKey, CheckResult] = {}
    if not targets:
        return results
    plain, mail_hosts = await expand_mail_targets(
        targets, resolver or DnsResolver.from_settings(settings)
    )
    rdap = rdap_client(settings, per_server_limit=rdap_per_server_limit, server_gate=rdap_gate)
    whois = whois_client(settings, server_gate=whois_gate) if rdap is not None else None
    try:
        async with Checker(settings, rdap=rdap, whois=whois) as checker:
            async for result in checker.stream(plain):
                results[result.target.key] = result
    finally:
        if rdap is not None:
            await rdap.aclose()
        if whois is not None:
            await whois.aclose()
    return with_mail_results(results, mail_hosts)
