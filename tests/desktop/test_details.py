"""The details pane: each component's own dates, OpenSSL's words, nothing clipped."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from core.models import CertInfo, ChainRole, CheckResult, Registration, Target, TrustProblem
from core.problems import trust_problem_text
from desktop.details import DetailsPane, breakable, details_of, details_texts, format_fingerprint
from desktop.details_values import endpoint_lines
from desktop.rows import WatchRow, format_date
from tests.desktop.fakes import START, make_result
from tests.desktop.sample_rows import sample_results
from tests.helpers.layout import assert_no_overlap


def _row(display: str) -> WatchRow:
    target, result = next((t, r) for t, r in sample_results() if t.display == display)
    return WatchRow(target, result)


def test_each_component_shows_its_own_dates_and_days() -> None:
    tls = CertInfo(
        not_after=START + timedelta(days=200),
        not_before=START - timedelta(days=30),
        subject="CN=shop.test",
        issuer="CN=R11,O=Let's Encrypt,C=US",
        sans=("shop.test",),
        fingerprint_sha256="ab" * 32,
        trusted=True,
        hostname_match=True,
        chain_earliest_not_after=START + timedelta(days=9, hours=3),
        chain_earliest_subject="CN=R11,O=Let's Encrypt,C=US",
        chain_earliest_role=ChainRole.INTERMEDIATE,
    )
    registration = Registration(
        registrable_domain="shop.test",
        expires=START + timedelta(days=40, hours=1),
        registrar="Gandi SAS",
        source="https://rdap.test/domain/shop.test",
    )
    target = Target("shop.test", group="Acme")
    values = details_of(WatchRow(target, CheckResult(target, tls, registration, START)))
    assert values["valid_until"].endswith("(in 200 days)")  # the leaf's own days
    assert values["chain"].startswith("Intermediate 'Let's Encrypt' expires first: ")
    assert values["chain"].endswith("(in 9 days)")
    assert values["registration"].endswith("(in 40 days)")
    assert values["registrar"] == "Gandi SAS"
    assert values["group"] == "Acme"
    assert values["issuer"] == "Let's Encrypt (R11)"
    assert values["verification"] == "Trusted, and it covers this name"
    assert values["openssl"] == ""


def test_verification_in_plain_words_and_openssl_only_here() -> None:
    result = make_result("private.test", trusted=False)
    tls = dataclasses.replace(
        result.tls,  # type: ignore[type-var]
        verify_error="unable to get local issuer certificate",
        verify_problem=TrustProblem.MISSING_INTERMEDIATE,
    )
    row = WatchRow(result.target, dataclasses.replace(result, tls=tls))
    values = details_of(row)
    assert values["verification"] == (
        "Not trusted: " + trust_problem_text(TrustProblem.MISSING_INTERMEDIATE)
    )
    assert "install the full chain" in values["verification"]  # what to do
    assert values["openssl"] == "unable to get local issuer certificate"
    assert "unable to get local issuer" not in row.problem  # the table never shows it
    assert "chain" not in values or values["chain"] == ""


@pytest.mark.parametrize(
    ("openssl", "words"),
    [
        ("self-signed certificate", "self-signed"),
        ("certificate has expired", "has expired"),
        ("unable to get local issuer certificate", "does not trust (Private CA)"),
    ],
)
def test_stored_result_without_a_problem_kind_still_gets_plain_words(
    openssl: str, words: str
) -> None:
    """A result stored before ``verify_problem`` existed: core reads OpenSSL's words,
    the details say them plainly, and OpenSSL's own text stays on its own line."""
    result = make_result("old.test", trusted=False)
    tls = dataclasses.replace(
        result.tls,  # type: ignore[type-var]
        verify_error=openssl,
        verify_problem=None,
        issuer="Private CA",
    )
    values = details_of(WatchRow(result.target, dataclasses.replace(result, tls=tls)))
    assert values["verification"].startswith("Not trusted: ")
    assert words in values["verification"]
    assert openssl not in values["verification"]
    assert values["openssl"] == openssl


def test_name_mismatch_names_what_the_certificate_covers() -> None:
    result = make_result("shop.test")
    tls = dataclasses.replace(
        result.tls,  # type: ignore[type-var]
        hostname_match=False,
        sans=("other.test",),
    )
    values = details_of(WatchRow(result.target, dataclasses.replace(result, tls=tls)))
    assert values["verification"] == (
        "Not trusted: certificate does not cover shop.test (it covers other.test)"
    )


def test_failed_check_and_unchecked_rows() -> None:
    failed = details_of(WatchRow(Target("down.test"), make_result("down.test", error="refused")))
    assert failed["verification"] == "Could not check: refused"
    assert "valid_until" not in failed
    unchecked = details_of(WatchRow(Target("new.test")))
    assert unchecked["problem"] == "Not checked yet."


def test_fingerprint_and_long_names_can_wrap() -> None:
    text = format_fingerprint("3f" * 32)
    assert text.count(" ") == 3 and all(len(part) == 23 for part in text.split(" "))
    assert format_fingerprint(None) == "—"
    long = "legacy-portal.internal-services.acme.example"
    assert breakable(long).replace("\u200b", "") == long
    assert "\u200b" in breakable(long) and breakable("short.test") == "short.test"


def _dark() -> QPalette:
    palette = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Window, "#2b2b2b"),
        (QPalette.ColorRole.WindowText, "#e6e6e6"),
        (QPalette.ColorRole.Base, "#1e1e1e"),
        (QPalette.ColorRole.Text, "#e6e6e6"),
    ):
        palette.setColor(role, QColor(colour))
    return palette


@pytest.mark.parametrize("width", [300, 560, 1100])
@pytest.mark.parametrize("dark", [False, True])
def test_nothing_is_clipped_at_any_width_or_theme(qtbot: Any, width: int, dark: bool) -> None:
    pane = DetailsPane()
    qtbot.addWidget(pane)
    if dark:
        pane.setPalette(_dark())
    pane.resize(width, 260)
    pane.show()
    qtbot.waitExposed(pane)
    for name in (
        "legacy-portal.internal-services.acme.example",
        "intranet.acme.example",
        "blog.example",
    ):
        pane.show_row(_row(name))
        QApplication.processEvents()
        assert_no_overlap(pane.content)  # every label as tall as its wrapped text
        for label in pane.labels.values():
            if label.isVisible():
                assert label.width() <= pane.content.width()
    # Narrow: the sections stack; wide: side by side.
    certificate = pane.content.findChild(QWidget, "detailsCertificate")
    domain = pane.content.findChild(QWidget, "detailsDomain")
    assert certificate is not None and domain is not None
    side_by_side = certificate.x() > domain.x()
    assert side_by_side == (width >= 1100)


def test_pane_scrolls_instead_of_clipping_and_has_room_for_endpoints(qtbot: Any) -> None:
    pane = DetailsPane()
    qtbot.addWidget(pane)
    pane.resize(400, 120)
    pane.show()
    pane.show_row(_row("legacy-portal.internal-services.acme.example"))
    QApplication.processEvents()
    assert pane.content.height() > pane.scroll_area.viewport().height()
    assert pane.scroll_area.verticalScrollBar().maximum() > 0
    assert pane.sizeHint().height() > 120  # asks the splitter for what it needs
    assert not pane.endpoints.isVisibleTo(pane)
    pane.show_endpoints(["192.0.2.1: certificate in 200 days", "2001:db8::1: refused"])
    assert pane.endpoints.isVisibleTo(pane)
    assert pane.endpoints_list.text().count("\n") == 1
    pane.show_endpoints([])
    assert not pane.endpoints.isVisibleTo(pane)


def test_no_selection_shows_a_hint_and_no_empty_sections(qtbot: Any) -> None:
    pane = DetailsPane()
    qtbot.addWidget(pane)
    pane.show()
    assert pane.placeholder.isVisibleTo(pane)
    assert all(not label.isVisibleTo(pane) for label in pane.labels.values())
    pane.show_row(_row("nas.home.example"))
    assert not pane.placeholder.isVisibleTo(pane)
    assert pane.labels["verification"].text().startswith("Could not check: ")
    assert not pane.labels["valid_until"].isVisibleTo(pane)  # empty fields hide
    assert pane.labels["registration"].text() == "Not checked"
    pane.show_row(None)
    assert pane.placeholder.isVisibleTo(pane)


def _short_lived(**changes: Any) -> CertInfo:
    """A 45-day certificate with 10 days left (checked at START)."""
    base = CertInfo(
        not_after=START + timedelta(days=10, hours=1),
        not_before=START - timedelta(days=35) + timedelta(hours=1),
        subject="CN=shop.test",
        issuer="CN=R11,O=Let's Encrypt,C=US",
        sans=("shop.test",),
        fingerprint_sha256="ab" * 32,
        trusted=True,
        hostname_match=True,
    )
    return dataclasses.replace(base, **changes)


def test_lifetime_renewal_window_and_revocation_are_shown() -> None:
    from core.models import RenewalInfo, Revocation, RevocationMethod, RevocationStatus

    renewal = RenewalInfo(
        START - timedelta(days=3), START - timedelta(days=1), "https://ca.test/why"
    )
    revocation = Revocation(
        RevocationStatus.REVOKED, RevocationMethod.CRL, START - timedelta(days=2), "keyCompromise"
    )
    tls = _short_lived(renewal=renewal, revocation=revocation)
    target = Target("shop.test")
    values = details_texts(WatchRow(target, CheckResult(target, tls, None, START)))
    assert values["lifetime"] == ("45 days; expiring from 15 days left (a third of its lifetime)")
    assert " – " in values["renewal"] and values["renewal"].endswith("the CA asks for renewal now")
    assert values["renewal_url"] == "https://ca.test/why"
    assert values["revocation"] == "Revoked on 2026-02-27 (CRL): keyCompromise"

    good = _short_lived(revocation=Revocation(RevocationStatus.GOOD, RevocationMethod.OCSP))
    values = details_of(WatchRow(target, CheckResult(target, good, None, START)))
    assert values["revocation"] == "Not revoked (OCSP)"
    assert values["renewal"] == ""  # no ARI answer: no line


def test_the_renewal_explanation_is_a_link(qtbot: Any) -> None:
    from core.models import RenewalInfo

    renewal = RenewalInfo(
        START + timedelta(days=5), START + timedelta(days=7), "https://ca.test/a?b&c"
    )
    target = Target("shop.test")
    pane = DetailsPane()
    qtbot.addWidget(pane)
    pane.show()
    pane.show_row(WatchRow(target, CheckResult(target, _short_lived(renewal=renewal), None, START)))
    link = pane.labels["renewal_url"]
    assert link.isVisibleTo(pane)
    assert link.openExternalLinks()
    assert 'href="https://ca.test/a?b&amp;c"' in link.text()
    pane.show_row(_row("nas.home.example"))
    assert not link.isVisibleTo(pane)


def test_registration_method_statuses_name_servers_and_changes() -> None:
    registration = Registration(
        registrable_domain="shop.test",
        expires=START + timedelta(days=300),
        registrar="Gandi SAS",
        source="whois://whois.nic.test",
        method="whois",
        statuses=("clientTransferProhibited", "serverHold"),
        nameservers=("ns1.example.net", "ns2.example.net"),
        changes=("new status serverHold: the domain is off the internet",),
    )
    target = Target("shop.test")
    values = details_of(WatchRow(target, CheckResult(target, None, registration, START)))
    assert values["registration_source"] == "WHOIS (whois://whois.nic.test)"
    assert values["statuses"] == "clientTransferProhibited, serverHold"
    assert values["nameservers"] == "ns1.example.net, ns2.example.net"
    assert values["changes"] == "new status serverHold: the domain is off the internet"


def test_threshold_names_the_rows_own_or_the_default() -> None:
    own = WatchRow(Target("a.test", threshold_days=7), make_result("a.test"))
    assert details_of(own, 30)["threshold"] == "7 days before expiry (this domain's own)"
    default = WatchRow(Target("b.test"), make_result("b.test", threshold_days=21))
    assert details_of(default)["threshold"] == "21 days before expiry (the default)"
    assert details_of(default, 30)["threshold"] == "30 days before expiry (the default)"


def test_endpoints_are_listed_with_their_own_status(qtbot: Any) -> None:
    from core.models import Endpoint

    good = _short_lived(
        not_after=START + timedelta(days=200), not_before=START - timedelta(days=100)
    )
    soon = _short_lived(
        not_after=START + timedelta(days=4, hours=2),
        not_before=START - timedelta(days=300),
        fingerprint_sha256="cd" * 32,
    )
    tls = dataclasses.replace(
        soon, endpoints=(Endpoint("192.0.2.10", good), Endpoint("192.0.2.11", soon))
    )
    target = Target("shop.test")
    row = WatchRow(target, CheckResult(target, tls, None, START))
    lines = endpoint_lines(row.result)
    assert lines == [
        f"192.0.2.10: Valid, {format_date(good.not_after)}, AB:AB:AB…",
        f"192.0.2.11: Expiring, {format_date(soon.not_after)}, CD:CD:CD…",
    ]
    pane = DetailsPane()
    qtbot.addWidget(pane)
    pane.show()
    pane.show_row(row)
    assert pane.endpoints.isVisibleTo(pane)
    assert pane.endpoints_list.text().splitlines() == lines
    pane.show_row(_row("nas.home.example"))  # one address: no list
    assert not pane.endpoints.isVisibleTo(pane)


def test_a_typed_registration_date_says_so() -> None:
    from core.registration import manual_registration

    registration = manual_registration(
        Registration(registrable_domain="shop.de", registrar="DENIC member"),
        START + timedelta(days=200),
    )
    target = Target("shop.de")
    row = WatchRow(target, CheckResult(target, None, registration, START))
    values = details_of(row)
    assert values["registration_source"] == "Entered by hand: update it after each renewal"
    assert values["registration"].endswith("(in 200 days)")


def test_a_mail_server_names_the_domain_it_serves(qtbot: Any) -> None:
    """The Domain column shows ``smtp://mx1.mail.test`` short; the pane says whose
    mail server it is, and an IDN's ASCII name, in one pair of brackets."""
    pane = DetailsPane()
    qtbot.addWidget(pane)
    pane.show()
    mail = Target("mx1.mail.test", 25, protocol="smtp", serves="mail.test")
    pane.show_row(WatchRow(mail, make_result(mail)))
    shown = pane.labels["domain"].text().replace("\u200b", "")
    assert shown == "smtp://mx1.mail.test (mail server of mail.test)"
    assert details_of(WatchRow(Target("valid.test", 443)))["domain"] == "valid.test"
    idn = Target("xn--bcher-kva.test", 443, "bücher.test")
    assert details_of(WatchRow(idn))["domain"] == "bücher.test (xn--bcher-kva.test)"
