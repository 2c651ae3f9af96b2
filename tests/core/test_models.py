"""Status arithmetic at its boundaries (core/models.py)."""

from __future__ import annotations

import dataclasses
import itertools
import pickle
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
    registration_status,
    summarize,
    tls_status,
    worst,
)

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def cert(not_after: datetime, **kw: object) -> CertInfo:
    defaults: dict[str, object] = {
        "not_before": NOW - timedelta(days=30),
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
    assert "a certificate in the chain expires in 5 days" in result.problem


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
    assert wrong.problem == "certificate does not cover a.example"
    selfsigned = CheckResult(
        Target("a.example"),
        cert(NOW + timedelta(days=90), trusted=False, verify_error="self-signed certificate"),
        None,
        NOW,
        30,
    )
    assert selfsigned.problem == "self-signed certificate"
    today = CheckResult(Target("a.example"), cert(NOW + timedelta(hours=3)), None, NOW, 30)
    assert today.problem == "certificate expires today"
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
        "certificate is not valid yet"
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
