"""A throw-away public key infrastructure for the loopback test world.

    pki = make_pki(tmp_path)
    pki.ca_file                       # PEM of the trusted test root: DOMAINCHECK_CA_FILE
    pki.certs["valid.test"].chain_file, pki.certs["valid.test"].key_file
    bench = pki.issue("bench", ["*.bench.test"])   # any extra leaf, e.g. for benchmarks

Every certificate uses an EC P-256 key (fast to make and to handshake with) and follows
the rules of OpenSSL's strict verification mode (key identifiers, critical basic
constraints, key usage), so the same files verify on every Python the project supports.

Layout of the trusted world::

    Domain Check Test Root CA                     (ca_file, 10 years)
     ├── Domain Check Test Intermediate CA        (5 years) issues every trusted leaf
     ├── Domain Check Test Short Intermediate CA  (expires in 5 days) issues shortchain.test
     └── Domain Check Test Expired Intermediate CA (expired 3 days ago) issues expiredchain.test
    Domain Check Untrusted Root CA                (untrusted_ca_file) issues untrusted.test

``nochain.test`` is issued by the trusted intermediate, names where to fetch it
(Authority Information Access, as public CAs do), and is served WITHOUT it: the
"missing intermediate" misconfiguration.

``expiring.test`` and ``today.test`` are 90-day certificates near their end, so the
lifetime rule (a third of the lifetime) and the plain 30-day threshold agree on them.
``Pki.issue(..., age_days=, crl_url=, ocsp_url=)`` makes certificates at any point
of any lifetime, naming a CRL distribution point and an OCSP responder: see
``tests.helpers.lifetime_world`` for the short-lived, ARI and revocation hosts.

All times are whole seconds (X.509 stores no fractions), so a test can compare what the
checker read with ``CertFiles.not_after`` exactly.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ORGANIZATION = "Domain Check Test"
#: Host names the world serves, with the certificate each one gets (see ``make_pki``).
HOSTS = (
    "valid.test",
    "expiring.test",
    "today.test",
    "expired.test",
    "notyet.test",
    "selfsigned.test",
    "wronghost.test",
    "untrusted.test",
    "xn--bcher-kva.test",
    "wildcard.test",
    "shortchain.test",
    "expiredchain.test",
    "nochain.test",
)
#: Where leaves with Authority Information Access say their issuer can be fetched
#: (never fetched: nothing listens on port 9 of the loopback).
ISSUER_URL = "http://127.0.0.1:9/intermediate.crt"
#: The certificate for connections without SNI (IP targets) and for unknown names.
DEFAULT_HOST = "localhost"


@dataclasses.dataclass(frozen=True)
class Ca:
    """A certificate authority that can issue certificates."""

    name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    #: The CA certificates to send along with a leaf it issues (itself, unless a root).
    chain: tuple[x509.Certificate, ...]

    @property
    def not_after(self) -> datetime:
        return self.cert.not_valid_after_utc


@dataclasses.dataclass(frozen=True)
class CertFiles:
    """One leaf certificate on disk, and its dates."""

    cert_file: Path
    key_file: Path
    #: Leaf followed by its intermediate, if any: what a server sends.
    chain_file: Path
    not_after: datetime
    not_before: datetime
    #: Names in the subjectAltName (DNS names, then IP addresses).
    sans: tuple[str, ...]
    #: not_after of the intermediate sent with the leaf, ``None`` for root-issued or
    #: self-signed leaves.
    intermediate_not_after: datetime | None = None
    #: The leaf's serial number and Authority Key Identifier (what ACME Renewal
    #: Information and CRL/OCSP answers name a certificate by).
    serial_number: int = 0
    authority_key_id: bytes | None = None


@dataclasses.dataclass(frozen=True)
class Pki:
    directory: Path
    #: PEM of the trusted test root.
    ca_file: Path
    #: PEM of a root that is *not* in ``ca_file`` (it issued ``untrusted.test``).
    untrusted_ca_file: Path
    root: Ca
    intermediate: Ca
    #: Host name (see ``HOSTS`` and ``DEFAULT_HOST``) -> the certificate served for it.
    certs: dict[str, CertFiles]
    now: datetime

    @property
    def root_not_after(self) -> datetime:
        return self.root.not_after

    def issue(
        self,
        stem: str,
        names: Sequence[str],
        *,
        days: float = 365,
        issuer: Ca | None = None,
        age_days: float = 1,
        crl_url: str | None = None,
        ocsp_url: str | None = None,
    ) -> CertFiles:
        """A leaf for ``names`` (DNS names or IP literals) from the intermediate CA.

        It was issued ``age_days`` ago and expires ``days`` from now (so its lifetime
        is ``age_days + days``); ``crl_url``/``ocsp_url`` name where its revocation
        status is published.
        """
        return make_leaf(
            self.directory,
            stem,
            names,
            issuer=issuer or self.intermediate,
            not_before=self.now - timedelta(days=age_days),
            not_after=self.now + timedelta(days=days),
            crl_url=crl_url,
            ocsp_url=ocsp_url,
        )


def _whole_seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, organization: str | None = ORGANIZATION) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def make_ca(
    common_name: str,
    *,
    not_before: datetime,
    not_after: datetime,
    parent: Ca | None = None,
) -> Ca:
    """A root CA (``parent=None``) or an intermediate under ``parent``."""
    key = _new_key()
    subject = _name(common_name)
    issuer_key = parent.key if parent else key
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    aki_source = parent.key.public_key() if parent else key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(parent.cert.subject if parent else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_whole_seconds(not_before))
        .not_valid_after(_whole_seconds(not_after))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(aki_source), critical=False
        )
    )
    cert = builder.sign(issuer_key, hashes.SHA256())
    return Ca(name=common_name, key=key, cert=cert, chain=(cert, *parent.chain) if parent else ())


def _san(names: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _leaf_certificate(
    names: Sequence[str],
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: Ca | None,
    not_before: datetime,
    not_after: datetime,
    issuer_url: str | None = None,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
) -> x509.Certificate:
    """A server certificate; ``issuer=None`` makes it self-signed."""
    subject = _name(names[0], organization=None)
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_whole_seconds(not_before))
        .not_valid_after(_whole_seconds(not_after))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_san(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
            critical=False,
        )
    )
    access: list[x509.AccessDescription] = []
    if ocsp_url is not None:
        access.append(
            x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(ocsp_url),
            )
        )
    if issuer_url is not None:
        access.append(
            x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(issuer_url),
            )
        )
    if access:
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    if crl_url is not None:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


def make_leaf(
    directory: Path,
    stem: str,
    names: Sequence[str],
    *,
    issuer: Ca | None,
    not_before: datetime,
    not_after: datetime,
    issuer_url: str | None = None,
    send_chain: bool = True,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
) -> CertFiles:
    """Write ``STEM.crt``, ``STEM.key`` and ``STEM.chain.pem`` for ``names`` into ``directory``.

    ``names`` are DNS names (``*.bench.test`` allowed) or IP literals; the first is also
    the subject's common name. ``issuer=None`` makes a self-signed certificate.
    ``issuer_url`` adds Authority Information Access; ``send_chain=False`` leaves the
    intermediates out of ``STEM.chain.pem`` (a misconfigured server). ``crl_url`` adds
    a CRL distribution point, ``ocsp_url`` an OCSP responder.
    """
    directory.mkdir(parents=True, exist_ok=True)
    key = _new_key()
    cert = _leaf_certificate(
        names,
        key,
        issuer=issuer,
        not_before=not_before,
        not_after=not_after,
        issuer_url=issuer_url,
        crl_url=crl_url,
        ocsp_url=ocsp_url,
    )
    cert_file = directory / f"{stem}.crt"
    key_file = directory / f"{stem}.key"
    chain_file = directory / f"{stem}.chain.pem"
    cert_file.write_bytes(_pem(cert))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    chain = issuer.chain if issuer and send_chain else ()
    chain_file.write_bytes(_pem(cert, *chain))
    return CertFiles(
        cert_file=cert_file,
        key_file=key_file,
        chain_file=chain_file,
        not_after=cert.not_valid_after_utc,
        not_before=cert.not_valid_before_utc,
        sans=tuple(names),
        intermediate_not_after=min((c.not_valid_after_utc for c in chain), default=None),
        serial_number=cert.serial_number,
        authority_key_id=_authority_key_id(cert),
    )


def _authority_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        extension = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return extension.value.key_identifier


def make_pki(directory: Path, now: datetime | None = None) -> Pki:
    """Create the test CAs and one certificate per host of ``HOSTS`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = _whole_seconds(now or datetime.now(UTC))
    day = timedelta(days=1)

    root = make_ca("Domain Check Test Root CA", not_before=now - day, not_after=now + 3650 * day)
    intermediate = make_ca(
        "Domain Check Test Intermediate CA",
        not_before=now - day,
        not_after=now + 5 * 365 * day,
        parent=root,
    )
    short_intermediate = make_ca(
        "Domain Check Test Short Intermediate CA",
        not_before=now - 300 * day,
        not_after=now + 5 * day,
        parent=root,
    )
    expired_intermediate = make_ca(
        "Domain Check Test Expired Intermediate CA",
        not_before=now - 400 * day,
        not_after=now - 3 * day,
        parent=root,
    )
    untrusted_root = make_ca(
        "Domain Check Untrusted Root CA", not_before=now - day, not_after=now + 3650 * day
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(_pem(root.cert))
    untrusted_ca_file = directory / "untrusted-ca.pem"
    untrusted_ca_file.write_bytes(_pem(untrusted_root.cert))

    def leaf(
        stem: str,
        names: Sequence[str],
        *,
        issuer: Ca | None = intermediate,
        starts: timedelta = -day,
        ends: timedelta = 365 * day,
        issuer_url: str | None = None,
        send_chain: bool = True,
    ) -> CertFiles:
        return make_leaf(
            directory,
            stem,
            names,
            issuer=issuer,
            not_before=now + starts,
            not_after=now + ends,
            issuer_url=issuer_url,
            send_chain=send_chain,
        )

    certs = {
        "valid.test": leaf("valid", ["valid.test"]),
        # 90-day certificates near their end: expiring by the plain threshold.
        "expiring.test": leaf("expiring", ["expiring.test"], starts=-80 * day, ends=10 * day),
        "today.test": leaf(
            "today", ["today.test"], starts=-90 * day + timedelta(hours=3), ends=timedelta(hours=3)
        ),
        "expired.test": leaf("expired", ["expired.test"], starts=-90 * day, ends=-2 * day),
        "notyet.test": leaf("notyet", ["notyet.test"], starts=2 * day, ends=92 * day),
        "selfsigned.test": leaf("selfsigned", ["selfsigned.test"], issuer=None),
        "wronghost.test": leaf("wronghost", ["other.test"]),
        "untrusted.test": leaf("untrusted", ["untrusted.test"], issuer=untrusted_root),
        "xn--bcher-kva.test": leaf("idn", ["xn--bcher-kva.test"]),
        "wildcard.test": leaf("wildcard", ["*.wildcard.test"]),
        "shortchain.test": leaf("shortchain", ["shortchain.test"], issuer=short_intermediate),
        "expiredchain.test": leaf(
            "expiredchain", ["expiredchain.test"], issuer=expired_intermediate, ends=199 * day
        ),
        "nochain.test": leaf("nochain", ["nochain.test"], issuer_url=ISSUER_URL, send_chain=False),
        DEFAULT_HOST: leaf("localhost", ["localhost", "127.0.0.1", "::1"]),
    }
    return Pki(
        directory=directory,
        ca_file=ca_file,
        untrusted_ca_file=untrusted_ca_file,
        root=root,
        intermediate=intermediate,
        certs=certs,
        now=now,
    )
