"""What a certificate chain says: the chains a handshake shows, and why one failed.

A verifying handshake that fails tells only OpenSSL's verify code ("unable to get
local issuer certificate"), and that code alone cannot say whether the server
forgot to send its intermediate or the chain leads to an authority this system
does not trust. The chain the server sent can: :func:`trust_problem` reads both
and answers in a site owner's terms (:class:`~core.models.TrustProblem`), and
:func:`issuance_path` keeps only the certificates that really issue one another,
so a leftover certificate a server also sends is not blamed for anything.

Only :mod:`core.tls` uses this; it is apart so the handshake code stays about
handshakes.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Sequence

from cryptography import x509

from core.models import TrustProblem

__all__ = [
    "ca_certificate",
    "issuance_path",
    "self_signed",
    "sent_chain_der",
    "trust_problem",
    "trust_problem_of_code",
    "verified_chain_der",
]

#: ``ssl.ENCODING_DER`` is only re-exported by ``ssl`` from Python 3.13.
_ENCODING_DER = 2
CHAIN_CACHE_SIZE = 1024

#: OpenSSL's X509_V_ERR_* codes, by what they mean to a site owner. The "issuer not
#: found" codes (2 UNABLE_TO_GET_ISSUER_CERT, 20 ..._LOCALLY, 21 UNABLE_TO_VERIFY_LEAF_
#: SIGNATURE) need the sent chain to tell a missing intermediate from an unknown CA.
_MISSING_ISSUER_CODES = frozenset({2, 20, 21})
_TRUST_PROBLEM_BY_CODE = {
    4: TrustProblem.BAD_SIGNATURE,  # UNABLE_TO_DECRYPT_CERT_SIGNATURE
    6: TrustProblem.BAD_SIGNATURE,  # UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY
    7: TrustProblem.BAD_SIGNATURE,  # CERT_SIGNATURE_FAILURE
    9: TrustProblem.NOT_YET_VALID,  # CERT_NOT_YET_VALID
    10: TrustProblem.EXPIRED,  # CERT_HAS_EXPIRED (at any depth)
    18: TrustProblem.SELF_SIGNED,  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: TrustProblem.UNKNOWN_CA,  # SELF_SIGNED_CERT_IN_CHAIN: a root not trusted here
    23: TrustProblem.REVOKED,  # CERT_REVOKED
    24: TrustProblem.WRONG_PURPOSE,  # INVALID_CA
    25: TrustProblem.WRONG_PURPOSE,  # PATH_LENGTH_EXCEEDED
    26: TrustProblem.WRONG_PURPOSE,  # INVALID_PURPOSE
    28: TrustProblem.WRONG_PURPOSE,  # CERT_REJECTED
    32: TrustProblem.WRONG_PURPOSE,  # KEYUSAGE_NO_CERTSIGN
}


def verified_chain_der(ssl_object: ssl.SSLObject) -> list[bytes] | None:
    """The verified chain, leaf first and trust anchor last, as DER; ``None`` if unknown.

    Public ``SSLObject.get_verified_chain()`` exists from Python 3.13; before that the
    same list is on the private ``_sslobj``. If neither is there, the chain is unknown.
    """
    return _chain_der(ssl_object, "get_verified_chain")


def sent_chain_der(ssl_object: ssl.SSLObject) -> list[bytes] | None:
    """The chain as the server sent it, leaf first, as DER; ``None`` if unknown.

    Read after a handshake that did not verify: it is what tells an expired or a
    missing intermediate apart. ``get_unverified_chain()`` is public from Python 3.13
    and private (on ``_sslobj``) from 3.10.
    """
    return _chain_der(ssl_object, "get_unverified_chain")


def _chain_der(ssl_object: ssl.SSLObject, method: str) -> list[bytes] | None:
    getter = getattr(ssl_object, method, None)
    if getter is None:
        getter = getattr(getattr(ssl_object, "_sslobj", None), method, None)
    if getter is None:
        return None
    try:
        chain = getter()
        return [
            item if isinstance(item, bytes) else item.public_bytes(_ENCODING_DER)
            for item in chain or ()
        ] or None
    except (AttributeError, TypeError, ValueError, ssl.SSLError):
        return None


@functools.lru_cache(maxsize=CHAIN_CACHE_SIZE)
def ca_certificate(der: bytes) -> x509.Certificate | None:
    # Intermediates and roots repeat across hosts: parse each one once.
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def self_signed(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` is named as ``cert``'s issuer (and its key, when both say)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        authority = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
        subject = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return True
    key_id = authority.value.key_identifier
    return key_id is None or key_id == subject.value.digest


def issuance_path(leaf: x509.Certificate, sent: Sequence[bytes]) -> list[x509.Certificate]:
    """The CA certificates the server sent that lead up from ``leaf``, in order.

    Servers send extras (old cross-signs, the root, unrelated leftovers); only the
    certificates that really issue the previous one count.
    """
    candidates = [cert for der in sent[1:] if (cert := ca_certificate(der)) is not None]
    path: list[x509.Certificate] = []
    current = leaf
    while not self_signed(current):
        issuer = next((c for c in candidates if c not in path and _issued_by(current, c)), None)
        if issuer is None:
            break
        path.append(issuer)
        current = issuer
    return path


def _has_issuer_url(cert: x509.Certificate) -> bool:
    """Whether ``cert`` says where to fetch its issuer (Authority Information Access):
    public CAs' certificates do, and browsers use it to fill in a missing one."""
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return False
    return any(
        item.access_method == x509.oid.AuthorityInformationAccessOID.CA_ISSUERS
        for item in access.value
    )


def trust_problem(
    code: int | None, leaf: x509.Certificate, path: Sequence[x509.Certificate]
) -> TrustProblem:
    """What OpenSSL's verify ``code`` means for this chain.

    "Unable to get (local) issuer" means the chain stops at a certificate whose
    issuer this system does not have. When the server sent no CA certificate on the
    way up and the leaf names where its issuer can be fetched, the server forgot its
    intermediate; when it sent intermediates, or the leaf names no issuer URL (a
    private CA), the authority at the top is the one not trusted.
    """
    if code in _MISSING_ISSUER_CODES:
        if not path and self_signed(leaf):
            return TrustProblem.SELF_SIGNED
        if not path and _has_issuer_url(leaf):
            return TrustProblem.MISSING_INTERMEDIATE
        return TrustProblem.UNKNOWN_CA
    return trust_problem_of_code(code)


def trust_problem_of_code(code: int | None) -> TrustProblem:
    """What ``code`` means when no chain could be read to say more."""
    return _TRUST_PROBLEM_BY_CODE.get(code or 0, TrustProblem.OTHER)
