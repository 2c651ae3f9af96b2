"""Every address a name serves, as one result: the worst endpoint speaks for all.

A load balancer with two nodes can serve a renewed certificate on one address and
the old one on the other until it expires; checking only the first address that
answers hides that. :class:`core.tls.TlsChecker` therefore checks every address of
a name (in parallel, within the one deadline) and this module combines what they
served:

* the result's ``tls`` is the worst endpoint's, by status (expired > invalid >
  expiring > error > valid), then by earliest expiry, then by address, so exit
  codes, reminders and the one-line problem keep their meaning;
* ``CertInfo.endpoints`` keeps every address with its own ``CertInfo``, ordered by
  address (IPv4 before IPv6, numerically);
* when the endpoints do not all say the same thing, the problem names how many
  addresses the worst one stands for: "2 of 3 addresses serve a certificate that
  expires in 4 days" (:func:`endpoint_problem`).

Follow-up checks (renewal window, revocation) ask about each distinct certificate
once (:func:`enrich`), and the endpoints are combined again with the target's own
threshold.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from core.models import (
    CertInfo,
    CheckResult,
    Endpoint,
    effective_cert_expiry,
    tls_status,
)

if TYPE_CHECKING:
    from core.tls import Handshake

__all__ = ["combine", "endpoint_problem", "enrich", "worst_endpoint", "worst_index"]

#: Sorts after every real expiry: an endpoint without one is never "earliest".
_NO_EXPIRY = datetime.max


def worst_index(
    infos: Sequence[CertInfo], *, now: datetime, threshold_days: int, lifetime_fraction: float
) -> int:
    """Index of the worst of ``infos`` (status, then earliest expiry, then first)."""

    def rank(index: int) -> tuple[int, datetime, int]:
        info = infos[index]
        status = tls_status(info, now, threshold_days, lifetime_fraction)
        severity = status.severity if status is not None else 0
        expiry = effective_cert_expiry(info)
        return (-severity, _NO_EXPIRY if expiry is None else expiry.replace(tzinfo=None), index)

    return min(range(len(infos)), key=rank)


def combine(
    endpoints: Sequence[tuple[str, Handshake]],
    *,
    now: datetime,
    threshold_days: int,
    lifetime_fraction: float,
) -> Handshake:
    """One handshake for a name: the worst endpoint's, listing every endpoint.

    ``endpoints`` is ``(address, handshake)`` in address order and not empty.
    """
    infos = [handshake.info for _, handshake in endpoints]
    worst = endpoints[
        worst_index(
            infos, now=now, threshold_days=threshold_days, lifetime_fraction=lifetime_fraction
        )
    ][1]
    listed = tuple(Endpoint(address, handshake.info) for address, handshake in endpoints)
    return dataclasses.replace(
        worst, info=dataclasses.replace(worst.info, endpoints=listed), endpoints=tuple(endpoints)
    )


async def enrich(
    handshake: Handshake,
    enrich_one: Callable[[Handshake], Awaitable[CertInfo]] | None,
    *,
    now: datetime,
    threshold_days: int,
    lifetime_fraction: float,
) -> CertInfo:
    """The follow-up checks for every distinct certificate, then the worst again.

    ``enrich_one`` is :meth:`core.followup.FollowUp.enrich` (``None``: no follow-up):
    it is called once per certificate (by fingerprint), and its renewal window and
    revocation answer are given to every endpoint that served that certificate.
    """
    if not handshake.endpoints:
        return handshake.info if enrich_one is None else await enrich_one(handshake)
    if enrich_one is None:
        return combine(
            handshake.endpoints,
            now=now,
            threshold_days=threshold_days,
            lifetime_fraction=lifetime_fraction,
        ).info
    # One question per certificate, all at once (the follow-up shares the deadline).
    first_of: dict[str, Handshake] = {}
    for _, one in handshake.endpoints:
        fingerprint = one.info.fingerprint_sha256
        if one.leaf is not None and fingerprint is not None:
            first_of.setdefault(fingerprint, one)
    answers = dict(
        zip(
            first_of,
            await asyncio.gather(*(enrich_one(one) for one in first_of.values())),
            strict=True,
        )
    )
    enriched: list[tuple[str, Handshake]] = []
    for address, one in handshake.endpoints:
        answer = answers.get(one.info.fingerprint_sha256 or "") if one.leaf is not None else None
        if answer is not None:
            info = dataclasses.replace(
                one.info, renewal=answer.renewal, revocation=answer.revocation
            )
            one = dataclasses.replace(one, info=info)
        enriched.append((address, one))
    return combine(
        enriched, now=now, threshold_days=threshold_days, lifetime_fraction=lifetime_fraction
    ).info


def worst_endpoint(tls: CertInfo) -> Endpoint | None:
    """The endpoint the result speaks for (its ``tls`` is that one's), for naming it
    ("mx2.example.com (192.0.2.7) on port 25"); ``None`` without endpoints."""
    alone = dataclasses.replace(tls, endpoints=())
    return next((endpoint for endpoint in tls.endpoints if endpoint.tls == alone), None)


def endpoint_problem(result: CheckResult, describe: Callable[[CheckResult], str]) -> str | None:
    """The problem of a result whose endpoints disagree, ``None`` when they agree.

    ``describe`` is :func:`core.problems.describe_problem` (passed in: that module
    builds on this one). Each endpoint is described on its own; when they all say
    the same, the result's usual problem stands. Otherwise the worst endpoint's
    problem is said with how many addresses share it.
    """
    tls = result.tls
    if tls is None or len(tls.endpoints) < 2:
        return None
    alone = dataclasses.replace(result, registration=None)
    texts = [describe(dataclasses.replace(alone, tls=e.tls)) for e in tls.endpoints]
    worst_text = describe(dataclasses.replace(alone, tls=dataclasses.replace(tls, endpoints=())))
    if not worst_text or all(text == texts[0] for text in texts):
        return None
    shared = sum(1 for text in texts if text == worst_text)
    count = f"{shared} of {len(texts)} addresses"
    first, rest = worst_text.split(" ", 1) if " " in worst_text else (worst_text, "")
    if first == "certificate" and rest:
        return f"{count} serve a certificate that {rest}"
    return f"{count}: {worst_text}"
