"""What is news for one subscription in one check result, and the mail that says it.

When to remind (per component, certificate or registration): on crossing the
threshold, again at 7, 3 and 1 days, once when expired, and once when a certificate
turns invalid. A new certificate (fingerprint) or a new expiry date resets this.
Whether a certificate is expiring follows the core's rules (:attr:`CheckResult.status`):
the threshold, a share of a short certificate's lifetime, the CA's renewal window
(ARI) and revocation; the mail says which rule fired.

The threshold is the domain's own (``Subscription.threshold_days``) or else the
subscriber's. A registration date typed by hand is used where the registry
publishes none (:func:`core.registration.manual_registration`), and the mail asks
to update it after renewing. Registration changes since this subscription's last
stored registry answer (a new registrar, name servers, hold or redemption
statuses; :func:`core.registration.registration_changes`) are news once each: the
stored answer moves on in the same transaction that queues the mail.

The changes and the hand-entered date are applied here, per subscription, rather
than by the checker's ``previous``/``manual_expiry``: two subscribers can watch one
name with different dates, and be checked in different batches of a run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from backend.email import render_template
from backend.models import Subscription
from backend.registrations import apply_manual, load_registration, store_registration
from core.endpoints import worst_endpoint
from core.models import (
    EXPIRED_EPP_STATUSES,
    HOLD_EPP_STATUSES,
    MX_PROTOCOL,
    CheckResult,
    Status,
    Target,
    expiry_phrase,
)
from core.problems import describe_problem, lifetime_text
from core.registration import registration_changes
from core.report import iso
from core.thresholds import ExpiryRule, expiring_limit

MILESTONE_DAYS = (7, 3, 1)
LEVEL_EXPIRED = -1
LEVEL_INVALID = 0
#: ``News.component`` of a registration change (shown as "Changed").
CHANGE = "change"


@dataclasses.dataclass(frozen=True, slots=True)
class News:
    """One thing to tell a subscriber about one domain."""

    domain: str
    component: str  # "certificate" | "registration" | "change"
    status: Status
    text: str
    #: Which certificate/registration it is about (the subscription's ``*_key``).
    key: str = ""
    #: The milestone reached (``None`` for a change): with ``key`` it identifies the
    #: news for the Message-ID, where the text's wording ("in 23 hours") may drift.
    level: int | None = None

    @property
    def identity(self) -> str:
        """Stable per news: the same news queued twice gets one Message-ID."""
        what = self.text if self.level is None else str(self.level)
        return f"{self.domain}|{self.component}|{self.key}|{what}"

    @property
    def heading(self) -> str:
        return "Changed" if self.component == CHANGE else self.status.label


def milestones(threshold_days: int) -> list[int]:
    """``[30, 7, 3, 1]`` for a 30-day threshold; ``[5, 3, 1]`` for 5; ``[0]`` for 0."""
    points = {threshold_days, *(d for d in MILESTONE_DAYS if d <= threshold_days)}
    return sorted(points, reverse=True)


def expiry_level(days_left: int, threshold_days: int) -> int | None:
    """The most urgent milestone ``days_left`` has reached (smaller = more urgent)."""
    if days_left < 0:
        return LEVEL_EXPIRED
    reached = [m for m in milestones(threshold_days) if days_left <= m]
    return min(reached) if reached else None


def watched_label(subscription: Subscription) -> str:
    """How the mail names what the subscriber watches (``smtp://mx.example.com``)."""
    target = Target(
        host=subscription.host,
        port=subscription.port,
        display=subscription.display,
        protocol=subscription.protocol or "tls",
    )
    return target.label


def place(result: CheckResult) -> str:
    """Where the certificate was served: the endpoint when a name's addresses
    disagree ("mx2.example.com (192.0.2.7) on port 25"), else the target
    ("smtp://mx1.example.com"), with the mail domain an MX host serves."""
    target = result.target
    shown = target.label
    tls = result.tls
    served = {(e.tls.fingerprint_sha256, e.tls.error) for e in tls.endpoints} if tls else set()
    if tls is not None and len(served) > 1:
        endpoint = worst_endpoint(tls)
        if endpoint is not None:
            shown = f"{target.display} ({endpoint.address}) on port {target.port}"
    if target.serves:
        shown += f", a mail server of {target.serves}"
    return shown


def _certificate_text(result: CheckResult, status: Status) -> str:
    expiry = result.tls_expiry
    tls = result.tls
    assert expiry is not None and tls is not None
    when = (iso(expiry) or "")[:10]
    phrase = f"certificate {expiry_phrase(expiry, result.checked_at)} ({when})"
    if status is Status.EXPIRED:
        return phrase
    if status is Status.INVALID:
        return f"certificate is not valid: {describe_problem(_tls_only(result))}"
    limit, rule = expiring_limit(result.threshold_days, tls.lifetime_days, result.lifetime_fraction)
    days = result.tls_days_left
    if days is not None and days > limit:  # the CA's renewal window ended (ARI)
        return describe_problem(_tls_only(result))
    if rule is ExpiryRule.LIFETIME and tls.lifetime_days is not None:
        return f"{phrase}: {lifetime_text(tls.lifetime_days, result.lifetime_fraction)}"
    return phrase


def _tls_only(result: CheckResult) -> CheckResult:
    return dataclasses.replace(result, registration=None)


def _assess_certificate(subscription: Subscription, result: CheckResult, label: str) -> list[News]:
    tls = result.tls
    days = result.tls_days_left
    if tls is None or tls.error is not None or not tls.fingerprint_sha256 or days is None:
        return []
    key = f"{tls.fingerprint_sha256}|{iso(result.tls_expiry)}"
    if key != subscription.tls_key:
        subscription.tls_key, subscription.tls_level = key, None
    status = result.tls_status
    level: int | None = None
    if status is Status.EXPIRED:
        level = LEVEL_EXPIRED
    elif status is Status.INVALID:
        level = LEVEL_INVALID
    elif status is Status.EXPIRING:
        # Expiring by a rule other than the plain threshold (lifetime, ARI) before
        # the threshold milestone: remind at the threshold's level.
        level = expiry_level(days, result.threshold_days)
        if level is None:
            level = result.threshold_days
    if level is None or status is None:
        return []
    if subscription.tls_level is not None and level >= subscription.tls_level:
        return []
    subscription.tls_level = level
    text = _certificate_text(result, status)
    where = place(result)
    if where != label:
        text += f" at {where}"
    return [News(label, "certificate", status, text, key, level)]


def _assess_registration(subscription: Subscription, result: CheckResult, label: str) -> list[News]:
    registration = result.registration
    if registration is None:
        return []
    news: list[News] = []
    now = result.checked_at
    epp = next(
        (s for s in registration.statuses if s in EXPIRED_EPP_STATUSES | HOLD_EPP_STATUSES), None
    )
    expires = registration.expires
    days = result.registration_days_left
    if expires is None and epp is None:
        return []
    key = (iso(expires) or "") + ("|manual" if registration.method == "manual" else "")
    if key != subscription.registration_key:
        subscription.registration_key, subscription.registration_level = key, None
    status = result.registration_status
    level: int | None
    if epp in EXPIRED_EPP_STATUSES:
        level = LEVEL_EXPIRED
        text = f"the registry has put the domain in {epp}: it has in effect expired"
    elif epp in HOLD_EPP_STATUSES:
        level = LEVEL_INVALID
        text = f"the registry has put the domain on {epp}: it is off the internet"
    else:
        assert expires is not None and days is not None
        level = expiry_level(days, result.threshold_days)
        text = f"domain registration {expiry_phrase(expires, now)} ({key[:10]})"
        if registration.method == "manual":
            text += "; the date was entered by hand: update it after renewal"
    if level is None or status is None:
        return news
    if subscription.registration_level is None or level < subscription.registration_level:
        subscription.registration_level = level
        news.append(News(label, "registration", status, text, key, level))
    return news


def assess(subscription: Subscription, result: CheckResult, threshold_days: int) -> list[News]:
    """What is news in ``result`` for this subscription; updates its reminder state.

    ``threshold_days`` is the subscriber's; the domain's own one wins.
    """
    own = subscription.threshold_days
    result = dataclasses.replace(result, threshold_days=threshold_days if own is None else own)
    label = watched_label(subscription)
    news: list[News] = []
    registry = result.registration
    if subscription.protocol == MX_PROTOCOL:
        # The MX hosts' registrations are their operators' (a mail provider's), not
        # the watched domain's: watch the domain itself for its registration.
        registry = None
    elif registry is not None:
        previous = load_registration(subscription.last_registration)
        # Only a real answer is compared (and kept): "not found", "no WHOIS service"
        # or a timeout says nothing about statuses or name servers, and comparing it
        # would announce every status as removed, then as new again.
        if previous is not None and registry.error is None and not registry.unknown:
            changes = registration_changes(previous, registry)
            status = result.registration_status or Status.UNKNOWN
            # The detection time is part of the identity: a change back and forth
            # (a -> b, b -> a, a -> b) is news each time, not one Message-ID.
            detected = iso(result.checked_at) or ""
            news.extend(
                News(label, CHANGE, status, change, f"{change}|{detected}") for change in changes
            )
        stored = store_registration(registry)
        if stored is not None:
            subscription.last_registration = stored
    manual = None if subscription.protocol == MX_PROTOCOL else subscription.registration_expires
    result = dataclasses.replace(result, registration=apply_manual(registry, manual))
    news[:0] = _assess_certificate(subscription, result, label)
    news.extend(_assess_registration(subscription, result, label))
    subscription.last_status = result.status.value
    subscription.last_days_left = result.days_left
    subscription.last_checked_at = result.checked_at
    return news


def compose(news: Sequence[News], unsubscribe_link: str) -> tuple[str, str]:
    """Subject and plain-text body of one reminder."""
    domains = list(dict.fromkeys(item.domain for item in news))
    if len(news) == 1:
        subject = f"Domain Check: {news[0].domain} {news[0].text.split(' (')[0]}"
    else:
        subject = (
            f"Domain Check: {len(domains)} domain{'s' if len(domains) != 1 else ''} need attention"
        )
    lines = []
    for domain in domains:
        lines.append(f"* {domain}")
        for item in news:
            if item.domain == domain:
                lines.append(f"    {item.heading}: {item.text}")
    body = render_template(
        "reminder_email.txt",
        count=len(domains),
        what="domain" if len(domains) == 1 else "domains",
        s="s" if len(domains) == 1 else "",
        items="\n".join(lines),
        unsubscribe_url=unsubscribe_link,
    )
    return subject[:300], body
