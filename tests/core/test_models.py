"""Status arithmetic at its boundaries (core/models.py)."""

from __future__ import annotations

import dataclasses
import itertools
import pickle
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.models import (
    CertInfo,
    CheckResult,
    InputError,
    Registration,
    Status,
    Target,
    classify_days,
    days_left,
    expiry_phrase,
    registration_status,
    summarize,
    tls_status,
    worst,
)

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def cert(not_after: datetime, **kw: object) -> CertInfo:
    defaults: dict[str, object] = {
        # A long-lived certificate: the plain threshold decides (not its lifetime).
        "not_before": NOW - timedelta(days=365),
        "trusted": True,
        "hostname_match": True,
    }
    defaults.update(kw)
    return CertInfo(not_after=not_after, **defaults)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=-1), -1),
        (timedelta(days=-1), -1),
        (timedelta(days=-1, seconds=-1), -2),
        (timedelta(0), 0),
        (timedelta(hours=3), 0),
        (timedelta(hours=23, minutes=59, seconds=59), 0),
        (timedelta(days=1), 1),
        (timedelta(days=30, hours=12), 30),
        (timedelta(days=31), 31),
    ],
)
def test_days_left_is_floor_of_whole_days(delta: timedelta, expected: int) -> None:
    assert days_left(NOW + delta, NOW) == expected


def test_days_left_unknown_expiry() -> None:
    assert days_left(None, NOW) is None


@pytest.mark.parametrize(
    ("days", "threshold", "expected"),
    [
        (-1, 30, Status.EXPIRED),
        (0, 30, Status.EXPIRING),
        (30, 30, Status.EXPIRING),
        (31, 30, Status.VALID),
        (0, 0, Status.EXPIRING),
        (1, 0, Status.VALID),
    ],
)
def test_classify_days_boundaries(days: int, threshold: int, expected: Status) -> None:
    assert classify_days(days, threshold) is expected


@given(st.integers(-10_000, 10_000), st.integers(0, 3650))
def test_classify_days_is_monotonic(days: int, threshold: int) -> None:
    status = classify_days(days, threshold)
    assert status.severity >= classify_days(days + 1, threshold).severity


def test_tls_status_cases() -> None:
    assert tls_status(None, NOW, 30) is None
    assert tls_status(CertInfo(error="connection refused"), NOW, 30) is Status.ERROR
    assert tls_status(cert(NOW + timedelta(days=90)), NOW, 30) is Status.VALID
    assert tls_status(cert(NOW + timedelta(days=10)), NOW, 30) is Status.EXPIRING
    assert tls_status(cert(NOW - timedelta(seconds=1), trusted=False), NOW, 30) is Status.EXPIRED
    assert tls_status(cert(NOW + timedelta(days=90), trusted=False), NOW, 30) is Status.INVALID
    assert tls_status(cert(NOW + timedelta(days=90), hostname_match=False), NOW, 30) is (
        Status.INVALID
    )
    not_yet = cert(NOW + timedelta(days=90), not_before=NOW + timedelta(days=1))
    assert tls_status(not_yet, NOW, 30) is Status.INVALID


def test_chain_expiring_before_leaf_counts() -> None:
    info = cert(NOW + timedelta(days=300), chain_earliest_not_after=NOW + timedelta(days=5))
    result = CheckResult(Target("a.example"), info, None, NOW, 30)
    assert result.tls_days_left == 5
    assert result.status is Status.EXPIRING
    assert "a certificate in the chain expires on 2026-11-28 (in 5 days)" in result.problem


def test_registration_status_cases() -> None:
    assert registration_status(None, NOW, 30) is None
    unknown = Registration(error="not found", unknown=True)
    assert registration_status(unknown, NOW, 30) is Status.UNKNOWN
    assert registration_status(Registration(error="HTTP 500"), NOW, 30) is Status.ERROR
    soon = Registration(expires=NOW + timedelta(days=7))
    assert registration_status(soon, NOW, 30) is Status.EXPIRING


@pytest.mark.parametrize(
    ("tls_days", "reg", "expected"),
    [
        (90, Registration(error="404", unknown=True), Status.VALID),
        (90, Registration(error="HTTP 500"), Status.ERROR),
        (10, Registration(error="HTTP 500"), Status.EXPIRING),
        (90, Registration(expires=NOW - timedelta(days=2)), Status.EXPIRED),
        (-3, Registration(expires=NOW + timedelta(days=3)), Status.EXPIRED),
    ],
)
def test_overall_is_worst_and_unknown_registration_is_ignored(
    tls_days: int, reg: Registration, expected: Status
) -> None:
    result = CheckResult(Target("a.example"), cert(NOW + timedelta(days=tls_days)), reg, NOW, 30)
    assert result.status is expected


def test_overall_order() -> None:
    order = [Status.VALID, Status.ERROR, Status.EXPIRING, Status.INVALID, Status.EXPIRED]
    for lower, higher in itertools.pairwise(order):
        assert worst([lower, higher]) is higher
    assert worst([Status.UNKNOWN, Status.VALID]) is Status.VALID
    assert worst([]) is Status.UNKNOWN


def test_days_left_is_the_smaller_known_one() -> None:
    reg = Registration(expires=NOW + timedelta(days=12))
    result = CheckResult(Target("a.example"), cert(NOW + timedelta(days=40)), reg, NOW, 30)
    assert (result.tls_days_left, result.registration_days_left, result.days_left) == (40, 12, 12)
    assert result.problem == "domain registration expires in 12 days"
    only_reg = CheckResult(Target("a.example"), None, reg, NOW, 30)
    assert only_reg.days_left == 12


def test_problem_text_for_each_kind() -> None:
    expired = CheckResult(
        Target("a.example"),
        cert(NOW - timedelta(days=2), trusted=False, verify_error="certificate has expired"),
        None,
        NOW,
        30,
    )
    assert expired.problem == "certificate expired 2 days ago"
    wrong = CheckResult(
        Target("a.example"), cert(NOW + timedelta(days=90), hostname_match=False), None, NOW, 30
    )
    assert wrong.problem == "certificate does not cover a.example (it names no host)"
    selfsigned = CheckResult(
        Target("a.example"),
        cert(NOW + timedelta(days=90), trusted=False, verify_error="self-signed certificate"),
        None,
        NOW,
        30,
    )
    assert selfsigned.problem == (
        "certificate is self-signed, so browsers do not trust it:"
        " use one from a public CA (such as Let's Encrypt)"
    )
    today = CheckResult(Target("a.example"), cert(NOW + timedelta(hours=3)), None, NOW, 30)
    assert today.problem == "certificate expires in 3 hours"
    fine = CheckResult(Target("a.example"), cert(NOW + timedelta(days=90)), None, NOW, 30)
    assert fine.problem == ""


def test_target_identity_and_text() -> None:
    assert Target("xn--bcher-kva.example", display="bücher.example").display == "bücher.example"
    assert Target("example.com").display == "example.com"
    assert str(Target("example.com", 8443)) == "example.com:8443"
    assert str(Target("2001:db8::1", 443, is_ip=True)) == "[2001:db8::1]"
    assert Target("a.example", 443).key == Target("a.example", 443, display="x").key


def test_summarize_counts_every_status() -> None:
    counts = summarize([Status.VALID, Status.VALID, Status.ERROR])
    assert counts[Status.VALID] == 2 and counts[Status.ERROR] == 1 and counts[Status.EXPIRED] == 0


def test_problem_does_not_repeat_openssl_restating_dates() -> None:
    info = cert(
        NOW + timedelta(days=90),
        not_before=NOW + timedelta(days=2),
        trusted=False,
        verify_error="certificate is not yet valid",
    )
    assert CheckResult(Target("a.example"), info, None, NOW, 30).problem == (
        "certificate is not valid yet (valid from 2026-11-25)"
    )


def test_label_is_the_unicode_name_with_a_non_default_port() -> None:
    assert Target("xn--bcher-kva.example", 443, "bücher.example").label == "bücher.example"
    assert Target("xn--bcher-kva.example", 8443, "bücher.example").label == "bücher.example:8443"
    assert Target("2001:db8::1", 8443, is_ip=True).label == "[2001:db8::1]:8443"


def test_values_survive_pickling_whole() -> None:
    """The desktop sends targets and results between processes by pickle."""
    result = CheckResult(
        target=Target("xn--bcher-kva.test", 8443, "bücher.test"),
        tls=cert(NOW + timedelta(days=3), sans=("a.test", "b.test"), verify_error="expired"),
        registration=Registration("bücher.test", NOW + timedelta(days=300), "Registrar", "u"),
        checked_at=NOW,
        threshold_days=14,
    )
    values = [
        result,
        result.target,
        result.tls,
        result.registration,
        Target("a.test"),  # display filled in from host
        Target("::1", 443, is_ip=True),
        InputError("<paste>", 3, "bad..name", "empty label"),
        CheckResult(Target("off.test"), None, None, NOW),
    ]
    for value in values:
        assert value.__match_args__ == tuple(f.name for f in dataclasses.fields(value))
        copy = pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
        assert copy == value and type(copy) is type(value)
    assert pickle.loads(pickle.dumps(result)).status is result.status


# --- expiry_phrase: as people count -------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(0), "expires now"),
        (timedelta(seconds=59), "expires in under a minute"),
        (timedelta(minutes=1), "expires in 1 minute"),
        (timedelta(minutes=59, seconds=59), "expires in 59 minutes"),
        (timedelta(hours=1), "expires in 1 hour"),
        (timedelta(hours=10), "expires in 10 hours"),
        (timedelta(hours=23, minutes=59), "expires in 23 hours"),
        (timedelta(days=1), "expires in 1 day"),
        (timedelta(days=3, hours=23), "expires in 3 days"),
        (timedelta(days=1500), "expires in 1,500 days"),
        (timedelta(seconds=-1), "expired less than a minute ago"),
        (timedelta(minutes=-5), "expired 5 minutes ago"),
        (timedelta(hours=-1), "expired 1 hour ago"),
        (timedelta(hours=-23, minutes=-59), "expired 23 hours ago"),
        (timedelta(days=-1), "expired 1 day ago"),
        (timedelta(days=-3, hours=-1), "expired 3 days ago"),
        (timedelta(days=-4), "expired 4 days ago"),
    ],
)
def test_expiry_phrase_boundaries(delta: timedelta, expected: str) -> None:
    assert expiry_phrase(NOW + delta, NOW) == expected


def test_three_days_and_an_hour_ago_says_3_days_while_days_left_keeps_its_floor() -> None:
    expired = NOW - timedelta(days=3, hours=1)
    result = CheckResult(Target("a.example"), cert(expired, trusted=False), None, NOW, 30)

    assert result.problem == "certificate expired 3 days ago"
    assert result.tls_days_left == -4


def test_ten_hours_ahead_across_utc_midnight_is_not_today() -> None:
    evening = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    result = CheckResult(
        Target("a.example"), cert(evening + timedelta(hours=10)), None, evening, 30
    )

    assert result.problem == "certificate expires in 10 hours"
    assert result.tls_days_left == 0


def test_registration_days_are_counted_the_same_way() -> None:
    reg = Registration(expires=NOW - timedelta(days=1, hours=2))
    result = CheckResult(Target("a.example"), None, reg, NOW, 30)

    assert result.problem == "domain registration expired 1 day ago"
    assert result.registration_days_left == -2


_UNIT_SECONDS = {"day": 86_400, "hour": 3_600, "minute": 60}


@given(st.integers(-(10**9), 10**9))
def test_expiry_phrase_counts_whole_elapsed_units(seconds: int) -> None:
    """The largest unit that fits, counted down; days agree with days_left ahead."""
    phrase = expiry_phrase(NOW + timedelta(seconds=seconds), NOW)
    if seconds == 0:
        assert phrase == "expires now"
        return
    assert phrase.startswith("expires in " if seconds > 0 else "expired ")
    match = re.search(r"(\d[\d,]*) (day|hour|minute)s?\b", phrase)
    if abs(seconds) < 60:
        assert match is None and "minute" in phrase
        return
    assert match is not None
    count, unit = int(match.group(1).replace(",", "")), match.group(2)
    size = _UNIT_SECONDS[unit]
    assert count == abs(seconds) // size >= 1
    bigger = [s for s in _UNIT_SECONDS.values() if s > size]
    assert all(abs(seconds) < s for s in bigger)  # no larger unit would fit
    if seconds > 0 and unit == "day":
        assert count == days_left(NOW + timedelta(seconds=seconds), NOW)
