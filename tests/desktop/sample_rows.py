"""Thirty realistic rows for layout tests and screenshots of the main window.

Every status, long problems, IDN names, ports and groups: what a small agency's
watchlist looks like, so a layout that holds here holds for them.
"""

from __future__ import annotations

from datetime import timedelta

from core.models import CertInfo, CheckResult, Registration, Target
from tests.desktop.fakes import START

_LE = "CN=R11,O=Let's Encrypt,C=US"
_SECTIGO = "CN=Sectigo RSA Domain Validation Secure Server CA,O=Sectigo Limited,L=Salford,C=GB"
_GOOGLE = "CN=WR3,O=Google Trust Services,C=US"
_PRIVATE = "CN=Acme Internal Issuing CA 2,OU=IT Security,O=Acme Corporation Intranet,C=DE"

GROUPS = ("Acme Corp", "Bistro Lumière", "Personal")


def _target(display: str, port: int = 443, group: str = "") -> Target:
    host = display.encode("idna").decode("ascii")
    return Target(host, port, display, group=group)


def _cert(
    days: float,
    issuer: str = _LE,
    *,
    trusted: bool = True,
    match: bool = True,
    chain_days: float | None = None,
    verify_error: str | None = None,
) -> CertInfo:
    return CertInfo(
        not_after=START + timedelta(days=days),
        # At least 90 days long (a realistic lifetime: the lifetime rule stays out).
        not_before=min(START - timedelta(days=60), START + timedelta(days=days - 90)),
        subject="CN=www.example.com",
        issuer=issuer,
        sans=("example.com", "www.example.com", "shop.example.com", "mail.example.com"),
        fingerprint_sha256="3f" * 32,
        trusted=trusted,
        hostname_match=match,
        verify_error=verify_error,
        chain_earliest_not_after=None if chain_days is None else START + timedelta(days=chain_days),
    )


def _registration(days: float | None, registrar: str = "Gandi SAS") -> Registration:
    if days is None:
        return Registration(unknown=True, error="the registry publishes no RDAP data")
    return Registration(
        registrable_domain="example.com",
        expires=START + timedelta(days=days),
        registrar=registrar,
        source="https://rdap.example/domain/example.com",
    )


def sample_results() -> list[tuple[Target, CheckResult | None]]:
    """(target, result) pairs for ``ResultsModel.set_rows``: 30 rows, all kinds."""
    acme, bistro, personal = GROUPS
    specs: list[tuple[Target, CertInfo | None, Registration | None]] = [
        (_target("acme.example", group=acme), _cert(240), _registration(700)),
        (_target("shop.acme.example", group=acme), _cert(12), _registration(700)),
        (
            _target("intranet.acme.example", 8443, acme),
            _cert(
                200, _PRIVATE, trusted=False, verify_error="unable to get local issuer certificate"
            ),
            _registration(700),
        ),
        (_target("mail.acme.example", group=acme), _cert(-3.04), _registration(700)),
        (
            _target("legacy-portal.internal-services.acme.example", group=acme),
            _cert(150, _SECTIGO, match=False),
            _registration(5.5, "MarkMonitor Inc."),
        ),
        (_target("bücher-lumière.example", group=bistro), _cert(60, _GOOGLE), _registration(20)),
        (_target("réservations.bistro.example", group=bistro), _cert(0.4), _registration(400)),
        (_target("例え.テスト", group=bistro), _cert(89), _registration(None)),
        (
            _target("menu.bistro.example", group=bistro),
            CertInfo(error="could not resolve menu.bistro.example (no such domain)"),
            _registration(300),
        ),
        (
            _target("old.bistro.example", group=bistro),
            CertInfo(error="connected, but the TLS handshake did not finish within 10 seconds"),
            _registration(300),
        ),
        (_target("blog.example", group=personal), _cert(70, chain_days=9), _registration(120)),
        (_target("photos.example", group=personal), _cert(33), _registration(31)),
        (
            _target("192.0.2.10", group=personal),
            _cert(400, _PRIVATE, trusted=False, verify_error="self-signed certificate"),
            None,
        ),
        (
            _target("nas.home.example", 5001, personal),
            CertInfo(error="connection refused: nothing listens on port 5001"),
            None,
        ),
    ]
    specs += [
        (
            _target(f"client{i:02d}.example"),
            _cert(30 + i * 17, _LE if i % 2 else _GOOGLE),
            _registration(90 + i * 40, "Namecheap, Inc." if i % 3 else "Key-Systems GmbH"),
        )
        for i in range(1, 12)
    ]
    rows: list[tuple[Target, CheckResult | None]] = [
        (t, CheckResult(target=t, tls=tls, registration=reg, checked_at=START))
        for t, tls, reg in specs
    ]
    rows += [
        (_target("new-landing-page.example", group=acme), None),
        (_target("staging.acme.example", 8443, acme), None),
        (_target("xn--80ak6aa92e.example"), None),
        (_target("status.example"), None),
        (_target("api.example", 8443), None),
    ]
    assert len(rows) == 30
    return rows
