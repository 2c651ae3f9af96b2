"""The loopback world's short-lived certificates, renewal windows and revocations.

    hosts = add_lifetime_hosts(pki, acme_server, revocation_server, unreachable_crl_url)
    hosts["late45.test"]          # CertFiles of a 45-day certificate with 13.5 days left

Every certificate comes from the world's trusted intermediate CA; the times are
relative to the PKI's ``now`` and land mid-day, so a test run that lasts hours still
sees the same whole days left. Names and what they show:

Lifetime (certificates issued ``age`` days ago, ``left`` days to go):

    fresh6.test   6-day, 4.5 left        valid
    late6.test    6-day, 1.5 left        expiring (a third of 6 days is 2)
    mid45.test    45-day, 24.5 left      valid (the plain 30-day threshold would say expiring)
    late45.test   45-day, 13.5 left      expiring (a third of 45 days is 15)
    mid90.test    90-day, 39.5 left      valid
    late90.test   90-day, 24.5 left      expiring (plain threshold: a third of 90 is 30)

ACME Renewal Information (ask with ``--acme-directory``; 90-day certificates, 59.5
days left, valid by their dates):

    arinormal.test    window in 29.5 to 31.5 days              valid
    ariended.test     window ended a day ago                   expiring
    arimoved.test     window moved into the past, with an explanation URL   expiring
    ari404.test       the ACME server answers 404              valid, renewal null
    ariretry.test     503 with Retry-After: 1, then a window   valid, renewal set
                      (every other request is refused, so each run sees both)
    arilater.test     always 503 with Retry-After: 3600        valid, renewal null

Revocation (90-day certificates, 79.5 days left):

    crlrevoked.test      on the CRL: keyCompromise, 2 days ago    invalid
    crlgood.test         CRL does not list it                     valid
    crlunreachable.test  CRL URL on a closed port                 valid, revocation unknown
    ocsprevoked.test     OCSP: revoked (superseded), 3 days ago   invalid
    ocspgood.test        OCSP: good                               valid
"""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509

from tests.helpers.acme_server import AcmeServer
from tests.helpers.pki import CertFiles, Pki
from tests.helpers.revocation_server import RevocationServer

#: (name, lifetime days, days left) of the short-lived certificates.
LIFETIME_CASES = (
    ("fresh6.test", 6, 4.5),
    ("late6.test", 6, 1.5),
    ("mid45.test", 45, 24.5),
    ("late45.test", 45, 13.5),
    ("mid90.test", 90, 39.5),
    ("late90.test", 90, 24.5),
)
ARI_HOSTS = (
    "arinormal.test",
    "ariended.test",
    "arimoved.test",
    "ari404.test",
    "ariretry.test",
    "arilater.test",
)
REVOCATION_HOSTS = (
    "crlrevoked.test",
    "crlgood.test",
    "crlunreachable.test",
    "ocsprevoked.test",
    "ocspgood.test",
)
LIFETIME_HOSTS = (*(case[0] for case in LIFETIME_CASES), *ARI_HOSTS, *REVOCATION_HOSTS)
#: The page ``arimoved.test``'s CA points to (never fetched).
EXPLANATION_URL = "https://acme.test/incidents/2026-mass-revocation"
#: When the revoked certificates were revoked, in days before the PKI's ``now``.
CRL_REVOKED_DAYS_AGO = 2
OCSP_REVOKED_DAYS_AGO = 3
_ARI_LEFT_DAYS = 59.5
_REVOCATION_LEFT_DAYS = 79.5


def add_lifetime_hosts(
    pki: Pki, acme: AcmeServer, revocation: RevocationServer, unreachable_crl_url: str
) -> dict[str, CertFiles]:
    """Issue every certificate above and set up the ACME and revocation servers."""
    day = timedelta(days=1)
    now = pki.now
    certs: dict[str, CertFiles] = {}

    def issue(name: str, lifetime: float, left: float, **urls: str) -> CertFiles:
        files = pki.issue(
            name.removesuffix(".test"), [name], days=left, age_days=lifetime - left, **urls
        )
        certs[name] = files
        return files

    for name, lifetime, left in LIFETIME_CASES:
        issue(name, lifetime, left)

    for name in ARI_HOSTS:
        issue(name, 90, _ARI_LEFT_DAYS)
    acme.set_window(certs["arinormal.test"], now + 29.5 * day, now + 31.5 * day)
    acme.set_window(certs["ariended.test"], now - 3 * day, now - day)
    acme.set_window(
        certs["arimoved.test"], now - 2 * day, now - day, explanation_url=EXPLANATION_URL
    )
    window = (now + 29.5 * day, now + 31.5 * day)
    acme.set_retry_after(certs["ariretry.test"], 1, *window, always=False)
    acme.set_retry_after(certs["arilater.test"], 3600, *window, always=True)

    crl, ocsp = revocation.crl_url, revocation.ocsp_url
    left = _REVOCATION_LEFT_DAYS
    revoked = issue("crlrevoked.test", 90, left, crl_url=crl)
    revocation.revoke(
        revoked.serial_number, now - CRL_REVOKED_DAYS_AGO * day, x509.ReasonFlags.key_compromise
    )
    issue("crlgood.test", 90, left, crl_url=crl)
    issue("crlunreachable.test", 90, left, crl_url=unreachable_crl_url)
    revoked = issue("ocsprevoked.test", 90, left, ocsp_url=ocsp)
    revocation.revoke(
        revoked.serial_number, now - OCSP_REVOKED_DAYS_AGO * day, x509.ReasonFlags.superseded
    )
    issue("ocspgood.test", 90, left, ocsp_url=ocsp)
    return certs
