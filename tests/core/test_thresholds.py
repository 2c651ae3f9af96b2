"""The status arithmetic of issue 15: lifetime-aware thresholds, ARI windows, revocation.

Boundaries are probed exactly (a 45-day certificate at 15 and 16 days left, a 6-day
one at 2 and 3) and as properties over any lifetime, threshold and fraction.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.models import (
    CertInfo,
    CheckResult,
    RenewalInfo,
    Revocation,
    RevocationMethod,
    RevocationStatus,
    Status,
    Target,
    tls_status,
)
from core.thresholds import (
    DEFAULT_LIFETIME_FRACTION,
    ExpiryRule,
    expiring_limit,
    fraction_text,
    is_expiring,
    lifetime_days,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def cert_of_life(lifetime: float, left: float, **kw: object) -> CertInfo:
    """A trusted certificate valid ``lifetime`` days in all, ``left`` of them to go."""
    not_after = NOW + timedelta(days=left)
    fields: dict[str, object] = {
        "not_before": not_after - timedelta(days=lifetime),
        "trusted": True,
        "hostname_match": True,
    }
    fields.update(kw)
    return CertInfo(not_after=not_after, **fields)  # type: ignore[arg-type]


def result(
    tls: CertInfo, threshold: int = 30, fraction: float = DEFAULT_LIFETIME_FRACTION
) -> CheckResult:
    return CheckResult(Target("a.example"), tls, None, NOW, threshold, fraction)


# --------------------------------------------------------------------------- lifetime


def test_lifetime_counts_both_ends_like_rfc_5280() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # Let's Encrypt's "90 days": not_after is one second short of the 90th midnight.
    assert lifetime_days(start, start + 90 * DAY - timedelta(seconds=1)) == 90.0
    assert lifetime_days(start, start + 45 * DAY) == 45.0  # +1 s rounds away
    assert lifetime_days(start, start + timedelta(hours=160)) == 6.67  # LE's short-lived
    assert lifetime_days(None, start) is None
    assert lifetime_days(start, start - DAY) is None


@pytest.mark.parametrize(
    ("lifetime", "left", "expected"),
    [
        (45, 15.5, Status.EXPIRING),  # 15 whole days left: a third of 45
        (45, 16.5, Status.VALID),  # 16 days left: the plain 30 would have said expiring
        (45, 16, Status.VALID),
        (6, 2.9, Status.EXPIRING),  # 2 days left: a third of 6
        (6, 3.0, Status.VALID),
        (90, 30.5, Status.EXPIRING),  # a third of 90 is the threshold itself
        (90, 31, Status.VALID),
        (398, 30.5, Status.EXPIRING),  # long-lived: the plain threshold, as before
        (398, 31, Status.VALID),
        (45, -0.5, Status.EXPIRED),
    ],
)
def test_lifetime_rule_boundaries(lifetime: float, left: float, expected: Status) -> None:
    assert result(cert_of_life(lifetime, left)).status is expected


def test_fraction_zero_turns_the_lifetime_rule_off() -> None:
    assert result(cert_of_life(45, 20.5), fraction=0).status is Status.EXPIRING
    assert result(cert_of_life(45, 20.5)).status is Status.VALID


def test_a_smaller_per_target_threshold_still_wins() -> None:
    assert result(cert_of_life(45, 10.5), threshold=7).status is Status.VALID
    assert result(cert_of_life(45, 6.5), threshold=7).status is Status.EXPIRING


def test_the_problem_says_which_rule_fired() -> None:
    lifetime_rule = result(cert_of_life(45, 13.5))
    assert lifetime_rule.problem == (
        "certificate expires in 13 days"
        " (a third of its 45-day lifetime is left: renewal looks overdue)"
    )
    threshold_rule = result(cert_of_life(398, 20.5))
    assert threshold_rule.problem == "certificate expires in 20 days"
    custom = result(cert_of_life(10, 3.5), fraction=0.4)
    assert custom.problem == (
        "certificate expires in 3 days (40% of its 10-day lifetime is left: renewal looks overdue)"
    )
    assert result(cert_of_life(45, 20.5)).problem == ""


def test_fraction_words() -> None:
    assert fraction_text(1 / 3) == "a third"
    assert fraction_text(0.5) == "half"
    assert fraction_text(0.25) == "a quarter"
    assert fraction_text(0.33) == "33%"


@given(
    lifetime=st.floats(min_value=0.01, max_value=3000, allow_nan=False),
    threshold=st.integers(min_value=0, max_value=400),
    fraction=st.floats(min_value=0, max_value=1, allow_nan=False),
    days=st.integers(min_value=-5, max_value=3000),
)
def test_expiring_is_exactly_min_of_threshold_and_share(
    lifetime: float, threshold: int, fraction: float, days: int
) -> None:
    limit, rule = expiring_limit(threshold, lifetime, fraction)
    share = lifetime * fraction if fraction > 0 else math.inf
    assert math.isclose(limit, min(threshold, share), abs_tol=1e-6)
    assert (rule is ExpiryRule.LIFETIME) == (share < threshold - 1e-9)
    expected = days >= 0 and (days <= threshold and days <= share + 1e-9)
    assert is_expiring(days, limit) == expected


@given(
    lifetime=st.integers(min_value=1, max_value=400),
    left=st.integers(min_value=0, max_value=400),
    threshold=st.integers(min_value=0, max_value=60),
)
def test_the_lifetime_rule_never_makes_more_certificates_expiring(
    lifetime: int, left: int, threshold: int
) -> None:
    """It quiets short-lived certificates; it never raises an alarm the threshold would not."""
    tls = cert_of_life(lifetime, left + 0.5)
    with_rule = tls_status(tls, NOW, threshold)
    without = tls_status(tls, NOW, threshold, lifetime_fraction=0)
    if with_rule is Status.EXPIRING:
        assert without is Status.EXPIRING
    if without is Status.VALID:
        assert with_rule is Status.VALID


# --------------------------------------------------------------------------- ARI


def test_a_renewal_window_in_the_future_changes_nothing() -> None:
    window = RenewalInfo(NOW + 20 * DAY, NOW + 22 * DAY)
    outcome = result(cert_of_life(90, 50.5, renewal=window))
    assert outcome.status is Status.VALID
    assert outcome.problem == ""


def test_inside_the_window_is_not_yet_a_problem() -> None:
    window = RenewalInfo(NOW - DAY, NOW + DAY)
    assert result(cert_of_life(90, 50.5, renewal=window)).status is Status.VALID


def test_a_window_that_ended_makes_the_certificate_expiring() -> None:
    window = RenewalInfo(NOW - 3 * DAY, NOW - DAY)
    outcome = result(cert_of_life(90, 50.5, renewal=window))
    assert outcome.status is Status.EXPIRING
    assert outcome.problem == (
        "the CA's suggested renewal window ended on 2026-11-22: renewal looks overdue"
    )


def test_a_window_moved_into_the_past_says_renew_now_with_the_explanation() -> None:
    window = RenewalInfo(NOW - 2 * DAY, NOW - DAY, "https://ca.example/incident")
    outcome = result(cert_of_life(90, 80.5, renewal=window))
    assert outcome.status is Status.EXPIRING
    assert outcome.problem == (
        "the CA moved its suggested renewal window into the past (ended on 2026-11-22):"
        " renew this certificate now, see https://ca.example/incident"
    )
    # Without an explanation: a window ending before the certificate was issued.
    early = RenewalInfo(NOW - 30 * DAY, NOW - 29 * DAY)
    moved = result(cert_of_life(90, 80.5, renewal=early))
    assert moved.problem.startswith("the CA moved its suggested renewal window into the past")


def test_an_expired_certificate_is_expired_whatever_the_window() -> None:
    window = RenewalInfo(NOW - 3 * DAY, NOW - 2 * DAY)
    outcome = result(cert_of_life(90, -1, renewal=window))
    assert outcome.status is Status.EXPIRED
    assert "renewal window" not in outcome.problem


# --------------------------------------------------------------------------- revocation


def test_a_revoked_certificate_is_invalid_with_date_and_reason() -> None:
    revoked = Revocation(
        RevocationStatus.REVOKED,
        RevocationMethod.CRL,
        datetime(2026, 5, 12, 8, 30, tzinfo=UTC),
        "keyCompromise",
    )
    outcome = result(cert_of_life(398, 200.5, revocation=revoked))
    assert outcome.status is Status.INVALID
    assert outcome.problem == "revoked on 2026-05-12: keyCompromise"
    bare = Revocation(RevocationStatus.REVOKED, RevocationMethod.OCSP)
    assert result(cert_of_life(398, 200.5, revocation=bare)).problem == "certificate was revoked"


@pytest.mark.parametrize("status", [RevocationStatus.GOOD, RevocationStatus.UNKNOWN])
def test_good_or_unknown_revocation_changes_nothing(status: RevocationStatus) -> None:
    outcome = result(cert_of_life(398, 200.5, revocation=Revocation(status)))
    assert outcome.status is Status.VALID
    assert outcome.problem == ""


@given(
    lifetime=st.integers(min_value=1, max_value=400),
    left=st.integers(min_value=-3, max_value=400),
    threshold=st.integers(min_value=0, max_value=60),
    revoked=st.booleans(),
    window_days=st.none() | st.integers(min_value=-10, max_value=10),
)
def test_valid_results_have_an_empty_problem(
    lifetime: int, left: int, threshold: int, revoked: bool, window_days: int | None
) -> None:
    renewal = (
        None
        if window_days is None
        else RenewalInfo(NOW + (window_days - 1) * DAY, NOW + window_days * DAY)
    )
    revocation = Revocation(RevocationStatus.REVOKED if revoked else RevocationStatus.GOOD)
    outcome = result(
        cert_of_life(lifetime, left + 0.5, renewal=renewal, revocation=revocation), threshold
    )
    assert (outcome.status is Status.VALID) == (outcome.problem == "")
