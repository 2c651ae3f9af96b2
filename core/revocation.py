"""Was a certificate revoked? Its CRL, else its OCSP responder, says.

A revoked certificate still handshakes (clients rarely check), so the site looks
fine until a browser that does check refuses it. This module asks what the
certificate itself names:

* **CRL** (the CRL distribution points extension): downloaded within a time and a
  size limit (:data:`MAX_CRL_BYTES`), its signature verified with the issuer's key,
  then kept until its ``nextUpdate``, in memory and on disk (``cache_dir()/crl/``),
  so thousands of certificates from one CA cost one download. Concurrent checks of
  certificates on the same list share that download. Only a list that verifies and
  is current is kept or believed: CRLs usually travel over plain http, so an old
  list replayed by anyone on the path must not hide a newer revocation. One run
  loads at most :data:`MAX_TOTAL_CRL_BYTES` of lists, so memory stays bounded.
* **OCSP** (the Authority Information Access extension), when no CRL gave an
  answer: a POST of the request that ``cryptography`` builds; the answer counts only
  when it is signed by the issuer (or by a responder certificate the issuer signed
  for OCSP), is about this serial, and is current (an answer without ``nextUpdate``
  counts for :data:`OCSP_MAX_AGE` after its ``thisUpdate``).

Whatever cannot be fetched or verified is ``unknown``, never an error of the check:
revocation only ever adds a problem, it never hides the other answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from core import paths
from core.cache_files import read_cache_bytes, write_cache_file
from core.fetch import FetchFailed, fetch_bounded
from core.models import Revocation, RevocationMethod, RevocationStatus, utcnow

__all__ = ["MAX_CRL_BYTES", "MAX_TOTAL_CRL_BYTES", "RevocationChecker", "crl_urls", "ocsp_urls"]

log = logging.getLogger(__name__)

#: Largest CRL downloaded (public CAs shard theirs into lists far smaller than this).
MAX_CRL_BYTES = 10 * 1024 * 1024
#: Most CRL bytes one checker (one run) loads, from the network and the disk cache;
#: past it, certificates are asked about over OCSP.
MAX_TOTAL_CRL_BYTES = 64 * 1024 * 1024
MAX_OCSP_BYTES = 64 * 1024
#: How long an OCSP answer without ``nextUpdate`` counts after its ``thisUpdate``.
OCSP_MAX_AGE = timedelta(days=1)
#: How far an OCSP answer's thisUpdate may be ahead of our clock (clock skew).
_CLOCK_SKEW = timedelta(minutes=5)
_CACHE_SUBDIR = "crl"
_UNKNOWN = Revocation(RevocationStatus.UNKNOWN)


def crl_urls(cert: x509.Certificate) -> list[str]:
    """The http(s) URLs of ``cert``'s CRL distribution points, in order."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return []
    urls: list[str] = []
    for point in points:
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier) and _is_http(name.value):
                urls.append(name.value)
    return urls


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    """The http(s) URLs of ``cert``'s OCSP responders, in order."""
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return []
    return [
        description.access_location.value
        for description in access
        if description.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(description.access_location, x509.UniformResourceIdentifier)
        and _is_http(description.access_location.value)
    ]


def _is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


class RevocationChecker:
    """Asks CRLs and OCSP responders; one per run (it caches CRLs).

    Args:
        client: The HTTP client (its transport decides which addresses are allowed).
        timeout_seconds: Limit for each download.
        cache_dir: Folder of the disk cache (default ``core.paths.cache_dir()``).
        use_disk: ``False`` keeps CRLs in memory only.
        max_crl_bytes: Largest single CRL downloaded.
        max_total_crl_bytes: Most CRL bytes loaded in all (network and disk).
        clock: Aware-UTC now.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        timeout_seconds: float = 10.0,
        cache_dir: Path | None = None,
        use_disk: bool = True,
        max_crl_bytes: int = MAX_CRL_BYTES,
        max_total_crl_bytes: int = MAX_TOTAL_CRL_BYTES,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._client = client
        self._timeout = timeout_seconds
        self._max_crl_bytes = max_crl_bytes
        #: CRL bytes this checker may still load (network and disk).
        self._crl_budget = max_total_crl_bytes
        self._cache_dir = (
            (cache_dir if cache_dir is not None else paths.cache_dir()) / _CACHE_SUBDIR
            if use_disk
            else None
        )
        self._clock = clock
        self._crls: dict[str, x509.CertificateRevocationList] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        #: (CRL signature, issuer fingerprint) -> verified: a big list is hashed once,
        #: not once per certificate on it.
        self._verified_crls: dict[tuple[bytes, bytes], bool] = {}

    async def check(self, leaf: x509.Certificate, issuer: x509.Certificate | None) -> Revocation:
        """Whether ``leaf`` was revoked; ``unknown`` when no source could answer."""
        if issuer is None:
            return _UNKNOWN  # nothing to verify an answer with
        for url in crl_urls(leaf):
            crl = await self._crl(url, issuer)
            if crl is not None:
                return _from_crl(crl, leaf)
        for url in ocsp_urls(leaf):
            answer = await self._ocsp(url, leaf, issuer)
            if answer is not None:
                return answer
        return _UNKNOWN

    # ------------------------------------------------------------------ CRL

    async def _crl(
        self, url: str, issuer: x509.Certificate
    ) -> x509.CertificateRevocationList | None:
        """The current CRL at ``url`` signed by ``issuer``, else ``None``."""
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:  # certificates on the same list share one download
            crl = self._crls.get(url)
            if crl is not None and not self._current(crl):
                del self._crls[url]
                crl = None
            if crl is None:
                crl = await self._load_crl(url, issuer)
                if crl is None:
                    return None
                self._crls[url] = crl
        if not self._verified(crl, issuer):
            log.info("CRL %s is not signed by %s", url, issuer.subject.rfc4514_string())
            return None
        return crl

    async def _load_crl(
        self, url: str, issuer: x509.Certificate
    ) -> x509.CertificateRevocationList | None:
        """From the disk cache, else downloaded: only a list that verifies and is
        current is returned, or written to the disk cache."""
        data = await asyncio.to_thread(self._read_disk, url)
        if data is not None and self._spend(len(data)):
            crl = _load_crl(data)
            if crl is not None and self._current(crl) and self._verified(crl, issuer):
                return crl
        if self._crl_budget <= 0:
            log.info("CRL %s not loaded: this run has loaded its share of CRLs", url)
            return None
        try:
            body = await self._download_crl(url)
        except FetchFailed as exc:
            log.info("CRL not available: %s", exc)
            return None
        crl = _load_crl(body)
        if crl is None:
            log.info("CRL not available: %s: not a certificate revocation list", url)
            return None
        if not self._verified(crl, issuer):
            log.info("CRL %s is not signed by %s", url, issuer.subject.rfc4514_string())
            return None
        if not self._current(crl):
            log.info("CRL %s is out of date (nextUpdate %s)", url, crl.next_update_utc)
            return None
        if self._cache_dir is not None:
            der = crl.public_bytes(serialization.Encoding.DER)
            await asyncio.to_thread(write_cache_file, self._path(url), der)
        return crl

    def _spend(self, size: int) -> bool:
        """Take ``size`` bytes from the run's CRL budget; ``False`` when it is spent."""
        if size > self._crl_budget:
            return False
        self._crl_budget -= size
        return True

    def _verified(self, crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
        key = (crl.signature, issuer.fingerprint(hashes.SHA256()))
        verified = self._verified_crls.get(key)
        if verified is None:
            verified = crl.issuer == issuer.subject and _crl_signed_by(crl, issuer)
            self._verified_crls[key] = verified
        return verified

    def _current(self, crl: x509.CertificateRevocationList) -> bool:
        """Issued (give or take clock skew) and not past its ``nextUpdate``."""
        now = self._clock()
        next_update = crl.next_update_utc
        return (
            next_update is not None
            and next_update > now
            and crl.last_update_utc <= now + _CLOCK_SKEW
        )

    async def _download_crl(self, url: str) -> bytes:
        """The body at ``url``, within the single and the run's size limits."""
        limit = min(self._max_crl_bytes, self._crl_budget)
        answer = await fetch_bounded(
            self._client, url, max_bytes=limit, timeout_seconds=self._timeout
        )
        self._crl_budget -= len(answer.body)
        if answer.status != 200:
            raise FetchFailed(f"{url}: HTTP {answer.status}")
        return answer.body

    def _read_disk(self, url: str) -> bytes | None:
        if self._cache_dir is None:
            return None
        return read_cache_bytes(self._path(url))

    def _path(self, url: str) -> Path:
        assert self._cache_dir is not None
        return self._cache_dir / f"{hashlib.sha256(url.encode()).hexdigest()}.crl"

    # ------------------------------------------------------------------ OCSP

    async def _ocsp(
        self, url: str, leaf: x509.Certificate, issuer: x509.Certificate
    ) -> Revocation | None:
        try:
            request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1())
            body = request.build().public_bytes(serialization.Encoding.DER)
        except ValueError as exc:
            log.info("no OCSP request possible for %s: %s", url, exc)
            return None
        try:
            answer = await fetch_bounded(
                self._client,
                url,
                max_bytes=MAX_OCSP_BYTES,
                timeout_seconds=self._timeout,
                content=body,
                headers={"Content-Type": "application/ocsp-request"},
            )
        except FetchFailed as exc:
            log.info("OCSP responder not available: %s", exc)
            return None
        if answer.status != 200:
            log.info("OCSP responder %s answered HTTP %s", url, answer.status)
            return None
        return _from_ocsp(answer.body, leaf, issuer, self._clock())


def _load_crl(data: bytes) -> x509.CertificateRevocationList | None:
    loaders = (x509.load_der_x509_crl, x509.load_pem_x509_crl)
    if data.lstrip().startswith(b"-----"):
        loaders = loaders[::-1]
    for loader in loaders:
        try:
            return loader(data)
        except ValueError:
            continue
    return None


def _crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    public_key = issuer.public_key()
    if not isinstance(
        public_key,
        rsa.RSAPublicKey
        | dsa.DSAPublicKey
        | ec.EllipticCurvePublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey,
    ):
        return False
    try:
        return crl.is_signature_valid(public_key)
    except (TypeError, ValueError):
        return False


def _from_crl(crl: x509.CertificateRevocationList, leaf: x509.Certificate) -> Revocation:
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    if entry is None:
        return Revocation(RevocationStatus.GOOD, RevocationMethod.CRL)
    reason: str | None = None
    with contextlib.suppress(x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
    if reason == x509.ReasonFlags.remove_from_crl.value:
        return Revocation(RevocationStatus.GOOD, RevocationMethod.CRL)
    return Revocation(
        RevocationStatus.REVOKED, RevocationMethod.CRL, entry.revocation_date_utc, reason
    )


def _from_ocsp(
    data: bytes, leaf: x509.Certificate, issuer: x509.Certificate, now: datetime
) -> Revocation | None:
    """The answer about ``leaf`` in an OCSP response, if it verifies and is current."""
    try:
        response = ocsp.load_der_ocsp_response(data)
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            return None
        signer = _ocsp_signer(response, issuer)
        if signer is None or not _signature_valid(
            signer.public_key(),
            response.signature,
            response.tbs_response_bytes,
            response.signature_hash_algorithm,
        ):
            log.info("OCSP answer for serial %x does not verify", leaf.serial_number)
            return None
        single = next(
            (
                one
                for one in response.responses
                if one.serial_number == leaf.serial_number
                and _same_issuer(one.issuer_key_hash, one.hash_algorithm, issuer)
            ),
            None,
        )
    except (ValueError, TypeError):
        return None
    if single is None:
        return None
    next_update = single.next_update_utc
    if single.this_update_utc > now + _CLOCK_SKEW or (
        next_update < now
        if next_update is not None
        else single.this_update_utc < now - OCSP_MAX_AGE
    ):
        return None  # not current: says nothing about today
    if single.certificate_status is ocsp.OCSPCertStatus.GOOD:
        return Revocation(RevocationStatus.GOOD, RevocationMethod.OCSP)
    if single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
        reason = single.revocation_reason
        return Revocation(
            RevocationStatus.REVOKED,
            RevocationMethod.OCSP,
            single.revocation_time_utc,
            None if reason is None else reason.value,
        )
    return Revocation(RevocationStatus.UNKNOWN, RevocationMethod.OCSP)


def _key_hash(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    """Hash of the certificate's subjectPublicKey bits, as OCSP names a key."""
    digest = hashes.Hash(algorithm)
    digest.update(_public_key_bits(cert.public_key()))
    return digest.finalize()


def _public_key_bits(key: object) -> bytes:
    """The content of the subjectPublicKey BIT STRING of ``key``."""
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raise TypeError(f"unsupported key type {type(key).__name__}")


def _same_issuer(
    key_hash: bytes, algorithm: hashes.HashAlgorithm, issuer: x509.Certificate
) -> bool:
    try:
        return key_hash == _key_hash(issuer, algorithm)
    except (ValueError, IndexError, TypeError):
        return False


def _ocsp_signer(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> x509.Certificate | None:
    """The issuer when it signed the answer itself, else a responder certificate it
    issued for OCSP signing (RFC 6960 section 4.2.2.2)."""
    if response.responder_name == issuer.subject:
        return issuer
    if response.responder_key_hash is not None and response.responder_key_hash == _key_hash(
        issuer, hashes.SHA1()
    ):
        return issuer
    for candidate in response.certificates:
        try:
            candidate.verify_directly_issued_by(issuer)
            usage = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (InvalidSignature, ValueError, TypeError, x509.ExtensionNotFound):
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
            continue
        names_it = response.responder_name == candidate.subject or (
            response.responder_key_hash is not None
            and response.responder_key_hash == _key_hash(candidate, hashes.SHA1())
        )
        if names_it:
            return candidate
    return None


def _signature_valid(
    public_key: object,
    signature: bytes,
    data: bytes,
    algorithm: hashes.HashAlgorithm | None,
) -> bool:
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and algorithm is not None:
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and algorithm is not None:
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            public_key.verify(signature, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True
