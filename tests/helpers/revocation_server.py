"""A CA's revocation services on 127.0.0.1: a CRL and an OCSP responder.

    with RevocationServer(pki.intermediate) as revocation:
        revocation.revoke(files.serial_number, at, x509.ReasonFlags.key_compromise)
        pki.issue("x", ["x.test"], crl_url=revocation.crl_url)      # or ocsp_url=
        ...
        assert revocation.requests_for(CRL_PATH) == 1

Both answers are built with the ``cryptography`` package and signed by the issuing
CA, as a real CA does: ``GET /crl/intermediate.crl`` is a DER CRL (thisUpdate an hour
ago, nextUpdate in a day) listing the revoked serials; ``POST /ocsp`` answers a DER
OCSP request about one certificate with "good" or "revoked" (with time and reason).

Set ``issued_ago`` and ``valid_for`` (``None``: no nextUpdate in OCSP answers) to
serve old answers, as a replay of a CA's earlier list or answer would be.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from tests.helpers.pki import Ca
from tests.helpers.simple_http import Answer, SimpleHttpServer

CRL_PATH = "/crl/intermediate.crl"
OCSP_PATH = "/ocsp"
#: How long the CRL and OCSP answers say they are good for.
VALIDITY = timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Revoked:
    at: datetime
    reason: x509.ReasonFlags | None


class RevocationServer(SimpleHttpServer):
    """CRL and OCSP for the certificates ``ca`` issues."""

    name = "revocation-server"

    def __init__(self, ca: Ca) -> None:
        super().__init__()
        self.ca = ca
        self._revoked: dict[int, Revoked] = {}
        #: thisUpdate is this long ago; nextUpdate this long after now (may be negative).
        self.issued_ago = timedelta(hours=1)
        self.valid_for: timedelta | None = VALIDITY

    @property
    def crl_url(self) -> str:
        return f"{self.base_url}{CRL_PATH}"

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}{OCSP_PATH}"

    def revoke(
        self, serial_number: int, at: datetime, reason: x509.ReasonFlags | None = None
    ) -> None:
        """List ``serial_number`` as revoked (on the CRL and in OCSP answers)."""
        with self._lock:
            self._revoked[serial_number] = Revoked(
                at.astimezone(UTC).replace(microsecond=0), reason
            )

    def crl(self) -> x509.CertificateRevocationList:
        now = datetime.now(UTC).replace(microsecond=0)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca.cert.subject)
            .last_update(now - self.issued_ago)
            .next_update(now + (self.valid_for or VALIDITY))
            .add_extension(x509.CRLNumber(1), critical=False)
        )
        with self._lock:
            revoked = dict(self._revoked)
        for serial, entry in revoked.items():
            item = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(entry.at)
            if entry.reason is not None:
                item = item.add_extension(x509.CRLReason(entry.reason), critical=False)
            builder = builder.add_revoked_certificate(item.build())
        return builder.sign(self.ca.key, hashes.SHA256())

    def respond(self, method: str, path: str, body: bytes) -> Answer:
        if method == "GET" and path == CRL_PATH:
            der = self.crl().public_bytes(serialization.Encoding.DER)
            return 200, {"Content-Type": "application/pkix-crl"}, der
        if method == "POST" and path == OCSP_PATH:
            return 200, {"Content-Type": "application/ocsp-response"}, self._ocsp(body)
        return 404, {}, b""

    def _ocsp(self, body: bytes) -> bytes:
        try:
            request = ocsp.load_der_ocsp_request(body)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST
            ).public_bytes(serialization.Encoding.DER)
        with self._lock:
            entry = self._revoked.get(request.serial_number)
        now = datetime.now(UTC).replace(microsecond=0)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=request.hash_algorithm,
            cert_status=(
                ocsp.OCSPCertStatus.GOOD if entry is None else ocsp.OCSPCertStatus.REVOKED
            ),
            this_update=now - self.issued_ago,
            next_update=None if self.valid_for is None else now + self.valid_for,
            revocation_time=None if entry is None else entry.at,
            revocation_reason=None if entry is None else entry.reason,
        )
        response = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.ca.cert).sign(
            self.ca.key, hashes.SHA256()
        )
        return response.public_bytes(serialization.Encoding.DER)
