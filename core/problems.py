"""What is wrong with a result, in plain words: one place, so every front end says it alike.

The CLI's table, the desktop's Problem column and notifications, the backend's
reminders and the JSON's ``problem`` all come from :func:`describe_problem`:

* dates as people say them (:func:`core.models.expiry_phrase`): "expired 3 days
  ago", "expires in 10 hours", never "today" for something that ends after midnight;
* a certificate of the chain that expires first is named ("intermediate certificate
  'R11' expired on 2026-11-20 (3 days ago)"), not blamed on the leaf;
* verification failures say what happened and what to do
  (:class:`~core.models.TrustProblem`); OpenSSL's own words stay in
  ``CertInfo.verify_error``, for the details only;
* a name the certificate does not cover says which names it does cover;
* an expiring certificate says which rule fired: the plain threshold ("certificate
  expires in 10 days") or the lifetime rule of :mod:`core.thresholds` ("... (a third
  of its 45-day lifetime is left: renewal looks overdue)"); a CA's renewal window
  (ARI) that has ended, or that the CA moved into the past, is named with its date
  and explanation; a revoked certificate says when and why ("revoked on
  2026-05-12: keyCompromise").

:func:`looks_offline` tells a run where the machine has no network from a run
where domains are broken, so a front end can say "no network connection" once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from core.endpoints import endpoint_problem
from core.errors import ErrorKind
from core.models import (
    EXPIRED_EPP_STATUSES,
    HOLD_EPP_STATUSES,
    CertInfo,
    ChainRole,
    CheckResult,
    Registration,
    RevocationStatus,
    TrustProblem,
    days_left,
    effective_cert_expiry,
    expiry_phrase,
)
from core.thresholds import ExpiryRule, days_text, expiring_limit, fraction_text, is_expiring

__all__ = [
    "NO_NETWORK_MESSAGE",
    "describe_problem",
    "lifetime_text",
    "looks_offline",
    "revocation_text",
    "trust_problem_of",
    "trust_problem_text",
    "uncovered_name_text",
]

#: What a front end says, once, when :func:`looks_offline` is true.
NO_NETWORK_MESSAGE = "no network connection: no name could be looked up and no host reached"
#: How many of a certificate's names a problem lists before "and N more".
_NAMES_SHOWN = 3

_TRUST_TEXT = {
    TrustProblem.MISSING_INTERMEDIATE: (
        "the server does not send its intermediate certificate (browsers may fill it in,"
        " other clients fail): install the full chain on the server"
    ),
    TrustProblem.SELF_SIGNED: (
        "certificate is self-signed, so browsers do not trust it:"
        " use one from a public CA (such as Let's Encrypt)"
    ),
    TrustProblem.REVOKED: "certificate was revoked by its CA: install a new one",
    TrustProblem.BAD_SIGNATURE: (
        "a signature in the certificate chain does not verify:"
        " install the certificate and chain from your CA again"
    ),
    TrustProblem.WRONG_PURPOSE: (
        "certificate chain is not valid for a web server (wrong purpose or issuer):"
        " get a server certificate from your CA"
    ),
    TrustProblem.EXPIRED: (
        "a certificate in the chain has expired: install the renewed chain on the server"
    ),
    TrustProblem.NOT_YET_VALID: "a certificate in the chain is not valid yet",
    TrustProblem.OTHER: "certificate chain could not be verified (see the details)",
}

#: OpenSSL's words (results stored before ``verify_problem`` existed), most specific
#: first. "unable to get local issuer certificate" cannot tell a missing intermediate
#: from an unknown CA without the chain: it counts as an unknown CA.
_OPENSSL_WORDS = (
    ("self-signed certificate in certificate chain", TrustProblem.UNKNOWN_CA),
    ("self signed certificate in certificate chain", TrustProblem.UNKNOWN_CA),
    ("self-signed certificate", TrustProblem.SELF_SIGNED),
    ("self signed certificate", TrustProblem.SELF_SIGNED),
    ("issuer certificate", TrustProblem.UNKNOWN_CA),
    ("unable to verify the first certificate", TrustProblem.UNKNOWN_CA),
    ("has expired", TrustProblem.EXPIRED),
    ("not yet valid", TrustProblem.NOT_YET_VALID),
    ("revoked", TrustProblem.REVOKED),
    ("signature", TrustProblem.BAD_SIGNATURE),
    ("purpose", TrustProblem.WRONG_PURPOSE),
    ("invalid ca", TrustProblem.WRONG_PURPOSE),
)
#: OpenSSL's words that only restate the name check, which is described on its own.
_NAME_MISMATCH_WORDS = ("hostname mismatch", "ip address mismatch")


def describe_problem(result: CheckResult) -> str:
    """One line about what needs attention, most urgent first; ``""`` when nothing does."""
    problems: list[str] = []
    tls = result.tls
    if tls is not None:
        mixed = endpoint_problem(result, describe_problem) if tls.endpoints else None
        if mixed is not None:  # the addresses disagree: say how many share the worst
            problems.append(mixed)
        elif tls.error is not None:
            problems.append(tls.error)
        else:
            problems.extend(_certificate_problems(result, tls))
    if result.registration is not None:
        problems.extend(_registration_problems(result, result.registration))
    return "; ".join(problems)


def _certificate_problems(result: CheckResult, tls: CertInfo) -> list[str]:
    now = result.checked_at
    problems: list[str] = []
    expiry = effective_cert_expiry(tls)
    days = days_left(expiry, now)
    chain_named = expiry is not None and expiry != tls.not_after
    expired = days is not None and days < 0
    if expiry is not None and expired:
        if chain_named:
            problems.append(
                f"{_chain_element(tls)} expired on {_date(expiry)} ({_ago(expiry, now)}):"
                " install the renewed chain on the server"
            )
        else:
            problems.append(f"certificate {expiry_phrase(expiry, now)}")
    not_yet_valid = tls.not_before is not None and tls.not_before > now
    if not_yet_valid and tls.not_before is not None:
        problems.append(f"certificate is not valid yet (valid from {_date(tls.not_before)})")
    if tls.hostname_match is False:
        problems.append(uncovered_name_text(result.target.display, tls.sans))
    if tls.trusted is False:
        problem = trust_problem_of(tls)
        restated = (
            (problem is TrustProblem.EXPIRED and expired)
            or (problem is TrustProblem.NOT_YET_VALID and not_yet_valid)
            # Nothing more specific to add to a problem already named.
            or (problem is TrustProblem.OTHER and bool(problems))
        )
        if problem is not None and not restated:
            problems.append(trust_problem_text(problem, tls.issuer))
    revoked = revocation_text(tls)
    if revoked and not (tls.trusted is False and trust_problem_of(tls) is TrustProblem.REVOKED):
        problems.append(revoked)
    limit, rule = expiring_limit(result.threshold_days, tls.lifetime_days, result.lifetime_fraction)
    if expiry is not None and days is not None and is_expiring(days, limit):
        if chain_named:
            problems.append(
                f"{_chain_element(tls)} expires on {_date(expiry)} ({_ahead(expiry, now)})"
            )
        elif rule is ExpiryRule.LIFETIME and tls.lifetime_days is not None:
            problems.append(
                f"certificate {expiry_phrase(expiry, now)}"
                f" ({lifetime_text(tls.lifetime_days, result.lifetime_fraction)})"
            )
        else:
            problems.append(f"certificate {expiry_phrase(expiry, now)}")
    elif not expired and not problems:
        problems.extend(_renewal_problems(result, tls))
    return problems


def lifetime_text(lifetime: float, fraction: float) -> str:
    """Why the lifetime rule fired: "a third of its 45-day lifetime is left: renewal
    looks overdue"."""
    return (
        f"{fraction_text(fraction)} of its {days_text(lifetime)}-day lifetime is left:"
        " renewal looks overdue"
    )


def revocation_text(tls: CertInfo) -> str:
    """``revoked on 2026-05-12: keyCompromise`` for a revoked certificate, else ``""``."""
    revocation = tls.revocation
    if revocation is None or revocation.status is not RevocationStatus.REVOKED:
        return ""
    when = f" on {_date(revocation.revoked_at)}" if revocation.revoked_at else ""
    why = f": {revocation.reason}" if revocation.reason else ""
    return f"revoked{when}{why}" if when else f"certificate was revoked{why}"


def _renewal_problems(result: CheckResult, tls: CertInfo) -> list[str]:
    """The CA's renewal window (ARI), when it has ended or was moved into the past."""
    renewal = tls.renewal
    if renewal is None or not renewal.ended(result.checked_at):
        return []
    ended = _date(renewal.window_end)
    if renewal.moved_into_past(tls.not_before):
        see = f", see {renewal.explanation_url}" if renewal.explanation_url else ""
        return [
            f"the CA moved its suggested renewal window into the past (ended on {ended}):"
            f" renew this certificate now{see}"
        ]
    return [f"the CA's suggested renewal window ended on {ended}: renewal looks overdue"]


def _registration_problems(result: CheckResult, registration: Registration) -> list[str]:
    problems = _registration_state_problems(result, registration)
    return problems + list(registration.changes)


def _registration_state_problems(result: CheckResult, registration: Registration) -> list[str]:
    """The registry's EPP status first (it overrides the date), then the expiry."""
    for status in registration.statuses:
        if status in EXPIRED_EPP_STATUSES:
            return [f"the registry has put the domain in {status}: it has in effect expired"]
        if status in HOLD_EPP_STATUSES:
            return [f"the registry has put the domain on {status}: it is off the internet"]
    expires = registration.expires
    if expires is not None:
        days = days_left(expires, result.checked_at)
        assert days is not None
        if days <= result.threshold_days:
            phrase = f"domain registration {expiry_phrase(expires, result.checked_at)}"
            if registration.method == "manual":
                phrase += " (date entered by hand: update it after renewing)"
            return [phrase]
    elif not registration.unknown and registration.error:
        return [f"registration: {registration.error}"]
    return []


def trust_problem_text(problem: TrustProblem, issuer: str | None = None) -> str:
    """What a verification failure means and what to do, e.g. for a missing intermediate
    "the server does not send its intermediate certificate (...): install the full
    chain on the server". ``issuer`` names the authority of an unknown CA."""
    if problem is TrustProblem.UNKNOWN_CA:
        by = f" ({issuer})" if issuer else ""
        return (
            f"certificate is issued by an authority this system does not trust{by}:"
            " use one from a public CA, or add your own CA's root to the trusted CAs"
        )
    return _TRUST_TEXT[problem]


def uncovered_name_text(name: str, sans: Sequence[str]) -> str:
    """Which names a certificate covers, when ``name`` is not one of them.

    "certificate does not cover a.example (it covers b.example, c.example)".
    """
    if not sans:
        return f"certificate does not cover {name} (it names no host)"
    shown = ", ".join(sans[:_NAMES_SHOWN])
    more = len(sans) - _NAMES_SHOWN
    if more > 0:
        shown += f" and {more} more"
    return f"certificate does not cover {name} (it covers {shown})"


def trust_problem_of(tls: CertInfo) -> TrustProblem | None:
    """Why ``tls`` failed verification: ``verify_problem``, or for a result stored
    before that field existed, read from OpenSSL's words. ``None`` when those only
    restate a name mismatch (described by :func:`uncovered_name_text`)."""
    if tls.verify_problem is not None:
        return tls.verify_problem
    words = (tls.verify_error or "").lower()
    if not words:
        return TrustProblem.OTHER
    if any(mismatch in words for mismatch in _NAME_MISMATCH_WORDS):
        return None
    return next((problem for text, problem in _OPENSSL_WORDS if text in words), TrustProblem.OTHER)


def _chain_element(tls: CertInfo) -> str:
    """The chain element that expires first: "intermediate certificate 'R11'"."""
    if tls.chain_earliest_subject is None:
        return "a certificate in the chain"
    role = (tls.chain_earliest_role or ChainRole.INTERMEDIATE).value
    return f"{role} certificate '{tls.chain_earliest_subject}'"


def _date(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def _ago(moment: datetime, now: datetime) -> str:
    return expiry_phrase(moment, now).removeprefix("expired ")


def _ahead(moment: datetime, now: datetime) -> str:
    return expiry_phrase(moment, now).removeprefix("expires ")


# --------------------------------------------------------------------------- offline


def looks_offline(results: Sequence[CheckResult]) -> bool:
    """Whether a run's failures say "this machine has no network", not "these domains
    are broken".

    True when every result failed before reaching any server, the same way: every
    certificate check failed at the name lookup or for want of a route
    (:attr:`ErrorKind.network_level`), and no registration lookup got an answer. That
    is the offline signature on Linux too, where ``getaddrinfo`` answers EAI_AGAIN or
    EAI_NONAME for every name while nothing resolves.

    A lone "no such domain" is what a typo looks like as well: it counts only when
    there are at least two results, or when the result's registration lookup failed
    at the network level too. A lone "temporary DNS failure" or "no route" counts.
    """
    if not results:
        return False
    corroborated = len(results) >= 2
    for result in results:
        kinds = _failure_kinds(result)
        if kinds is None:
            return False
        if any(kind is not ErrorKind.NO_SUCH_DOMAIN for kind in kinds) or len(kinds) >= 2:
            corroborated = True
    return corroborated


def _failure_kinds(result: CheckResult) -> list[ErrorKind] | None:
    """The network-level failures of ``result``; ``None`` when anything was reached
    (or failed some other way)."""
    kinds: list[ErrorKind] = []
    tls = result.tls
    if tls is not None:
        if tls.error is None or tls.error_kind is None or not tls.error_kind.network_level:
            return None
        kinds.append(tls.error_kind)
    registration = result.registration
    if registration is not None and not registration.unknown:
        kind = registration.error_kind
        if registration.expires is not None or kind is None or not kind.network_level:
            return None
        kinds.append(kind)
    return kinds or None
