"""Which targets a reminder run checks, and how ``mx:`` subscriptions get their result.

A subscription is stored as the target it was given: its protocol (``tls``,
``smtp``, ``imaps``...), host and port. An ``mx:example.com`` subscription is kept
as given and its MX hosts are looked up at every run (:func:`core.mx.expand`,
through the resolver ``DOMAINCHECK_DNS_SERVER`` names), so a domain that moves its
mail keeps being watched without anyone editing the list. Each MX host is checked
once per run, however many subscriptions lead to it, and the subscription's result
is its worst MX host's (by status, then fewest days left): the one that needs
attention speaks for the domain's mail, as the worst address speaks for a name
(:mod:`core.endpoints`). A null MX, no MX or a failed lookup gives no result:
nothing is mailed and nothing is reset, like any failed check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence

from core.dns import DnsResolver
from core.domains import ParseResult
from core.models import MX_PROTOCOL, CheckResult, Target
from core.mx import expand

log = logging.getLogger(__name__)

TargetKey = tuple[str, int]
#: Sorts after every real figure: a result without days left is never "fewest".
_NO_DAYS = 1 << 30


async def expand_mail_targets(
    targets: Sequence[Target], resolver: DnsResolver
) -> tuple[list[Target], dict[TargetKey, list[TargetKey]]]:
    """The targets to check (``mx:`` entries replaced by their MX hosts, each once)
    and, per ``mx:`` key, the keys of its MX hosts."""
    plain: dict[TargetKey, Target] = {}
    mail = [target for target in targets if target.protocol == MX_PROTOCOL]
    for target in targets:
        if target.protocol != MX_PROTOCOL:
            plain.setdefault(target.key, target)
    expanded = await asyncio.gather(
        *(expand(ParseResult([target], []), resolver) for target in mail)
    )
    hosts: dict[TargetKey, list[TargetKey]] = {}
    unchecked = 0
    for target, result in zip(mail, expanded, strict=True):
        unchecked += bool(result.errors)
        for problem in result.errors:
            # The watched domain is a subscriber's: only at DEBUG (INFO says how many).
            log.debug("mail servers not checked: %s", problem.error)
        hosts[target.key] = [host.key for host in result.targets]
        for host in result.targets:
            plain.setdefault(host.key, host)
    if unchecked:
        log.info("mail servers not checked for %d mx: entries (no usable MX)", unchecked)
    return list(plain.values()), hosts


def worst_result(results: Iterable[CheckResult]) -> CheckResult | None:
    """The result that needs attention first (status, then fewest days left)."""

    def rank(result: CheckResult) -> tuple[int, int]:
        days = result.days_left
        return (-result.status.severity, _NO_DAYS if days is None else days)

    return min(results, key=rank, default=None)


def with_mail_results(
    results: Mapping[TargetKey, CheckResult], hosts: Mapping[TargetKey, list[TargetKey]]
) -> dict[TargetKey, CheckResult]:
    """``results`` plus one per ``mx:`` key: its worst MX host's result."""
    merged = dict(results)
    for key, host_keys in hosts.items():
        worst = worst_result(results[k] for k in host_keys if k in results)
        if worst is not None:
            merged[key] = worst
    return merged
