"""ACME Renewal Information (RFC 9773): when the CA wants a certificate renewed.

A CA that publishes ARI tells each subscriber a suggested renewal window, and moves
it into the past when the certificate must be replaced now (ahead of a mass
revocation, say). Checking it tells a site owner that automated renewal has failed,
or that the CA has asked for an early one.

How a certificate is looked up:

1. Its ACME directory: ``--acme-directory`` for every certificate when given, else
   :data:`KNOWN_ACME_DIRECTORIES` by the issuer's organisation. A certificate from
   any other CA has no ARI: nothing is fetched.
2. The directory's ``renewalInfo`` URL (asked once per run and directory, and not
   again in that run when it failed), then
   ``renewalInfo/<certID>``, where ``certID`` is base64url(the leaf's Authority Key
   Identifier) "." base64url(the DER content octets of its serial number), without
   padding (RFC 9773 section 4.1).
3. A 200 answer carries ``suggestedWindow`` (and perhaps ``explanationURL``); it is
   cached per certificate until its ``Retry-After`` (else :data:`DEFAULT_CACHE_SECONDS`),
   in memory and on disk (``cache_dir()/ari/``), so the next run asks no sooner than
   the CA wants. A 404 means no ARI for this certificate, also cached.
4. A failure answer with a ``Retry-After`` of at most :data:`MAX_INLINE_RETRY_SECONDS`
   is retried once, after that wait; a longer one is remembered, and until then the
   certificate is not asked about again.

Anything else (unreachable, slow, malformed) gives ``None``: no renewal information,
which changes no status.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.x509.oid import NameOID

from core import paths
from core.cache_files import read_cache_json, write_cache_file
from core.fetch import FetchFailed, fetch_bounded, retry_after_seconds
from core.models import RenewalInfo, utcnow

__all__ = [
    "KNOWN_ACME_DIRECTORIES",
    "AriClient",
    "acme_directory_for",
    "cert_id",
]

log = logging.getLogger(__name__)

#: Issuer organisation -> ACME directory of the CAs known to publish renewal info
#: (public knowledge: each CA documents its directory URL).
KNOWN_ACME_DIRECTORIES: dict[str, str] = {
    "Let's Encrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "(STAGING) Let's Encrypt": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "Google Trust Services": "https://dv.acme-v02.api.pki.goog/directory",
    "Google Trust Services LLC": "https://dv.acme-v02.api.pki.goog/directory",
    "ZeroSSL": "https://acme.zerossl.com/v2/DV90",
    "Buypass AS-983163327": "https://api.buypass.com/acme/directory",
    "SSL Corporation": "https://acme.ssl.com/sslcom-dv-rsa",
}
#: SSL.com runs one directory per key type; its ECC issuers name "ECC".
_SSL_COM_ECC_DIRECTORY = "https://acme.ssl.com/sslcom-dv-ecc"

#: A failure's ``Retry-After`` up to this long is waited for, once, within the run.
MAX_INLINE_RETRY_SECONDS = 5.0
#: How long an answer without ``Retry-After`` (or a 404) is kept.
DEFAULT_CACHE_SECONDS = 6 * 3600
#: Never keep an answer longer than this, whatever ``Retry-After`` says.
MAX_CACHE_SECONDS = 7 * 86_400
MAX_ANSWER_BYTES = 64 * 1024
_CACHE_SUBDIR = "ari"
_CACHE_VERSION = 1


def acme_directory_for(leaf: x509.Certificate) -> str | None:
    """The ACME directory of the CA that issued ``leaf``, from the shipped table."""
    for attribute in leaf.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME):
        value = attribute.value
        organization = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        directory = KNOWN_ACME_DIRECTORIES.get(organization.strip())
        if directory == KNOWN_ACME_DIRECTORIES["SSL Corporation"] and _names_ecc(leaf):
            return _SSL_COM_ECC_DIRECTORY
        if directory is not None:
            return directory
    return None


def _names_ecc(leaf: x509.Certificate) -> bool:
    names = leaf.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return any("ECC" in str(attribute.value) for attribute in names)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def cert_id(leaf: x509.Certificate) -> str | None:
    """RFC 9773 certID: base64url(AKI keyIdentifier) "." base64url(serial DER content).

    ``None`` when the certificate has no Authority Key Identifier to name it by.
    """
    try:
        aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return None
    if not aki.key_identifier:
        return None
    serial = leaf.serial_number
    # The INTEGER's content octets: big-endian two's complement, shortest form
    # (a leading zero byte when the top bit is set).
    serial_bytes = serial.to_bytes(serial.bit_length() // 8 + 1, "big", signed=True)
    return f"{_b64url(aki.key_identifier)}.{_b64url(serial_bytes)}"


class _Entry:
    """What is known about one certificate: an answer (or "none") and until when."""

    __slots__ = ("renewal", "until")

    def __init__(self, renewal: RenewalInfo | None, until: datetime) -> None:
        self.renewal = renewal
        self.until = until


class AriClient:
    """Asks ACME servers for renewal windows; one per run (memory cache, directories).

    Args:
        client: The HTTP client (its transport decides which addresses are allowed).
        directory: ``--acme-directory``: asked about every certificate.
        timeout_seconds: Limit for each request.
        cache_dir: Folder of the disk cache (default ``core.paths.cache_dir()``);
            ``None`` with ``use_disk=False`` keeps everything in memory.
        clock: Aware-UTC now.
        sleep: ``asyncio.sleep``, injectable so tests need not wait.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        directory: str | None = None,
        timeout_seconds: float = 10.0,
        cache_dir: Path | None = None,
        use_disk: bool = True,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._directory = directory
        self._timeout = timeout_seconds
        self._cache_dir = (
            (cache_dir if cache_dir is not None else paths.cache_dir()) / _CACHE_SUBDIR
            if use_disk
            else None
        )
        self._clock = clock
        self._sleep = sleep
        self._memory: dict[str, _Entry] = {}
        self._renewal_urls: dict[str, asyncio.Task[str | None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def renewal_info(self, leaf: x509.Certificate) -> RenewalInfo | None:
        """The CA's suggested renewal window for ``leaf``; ``None`` when there is none."""
        directory = self._directory or acme_directory_for(leaf)
        identifier = cert_id(leaf)
        if directory is None or identifier is None:
            return None
        key = f"{directory} {identifier}"
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one request per certificate, however many targets share it
            entry = self._cached(key)
            if entry is not None:
                return entry.renewal
            try:
                entry = await self._ask(directory, identifier)
            except FetchFailed as exc:
                log.info("no renewal information for %s: %s", identifier, exc)
                return None
            if entry is not None:
                self._remember(key, entry)
                return entry.renewal
            return None

    async def _ask(self, directory: str, identifier: str) -> _Entry | None:
        base = await self._renewal_url(directory)
        if base is None:
            return None
        url = f"{base.rstrip('/')}/{identifier}"
        for attempt in range(2):
            answer = await fetch_bounded(
                self._client, url, max_bytes=MAX_ANSWER_BYTES, timeout_seconds=self._timeout
            )
            now = self._clock()
            wait = retry_after_seconds(answer.headers, now)
            if answer.status == 200:
                return _Entry(_parse_renewal(answer.body), now + _keep_for(wait))
            if answer.status == 404:
                return _Entry(None, now + timedelta(seconds=DEFAULT_CACHE_SECONDS))
            if wait is None:
                raise FetchFailed(f"{url}: HTTP {answer.status}")
            if wait > MAX_INLINE_RETRY_SECONDS or attempt == 1:
                # Asked to come back later: remember not to ask before then.
                return _Entry(None, now + timedelta(seconds=min(wait, MAX_CACHE_SECONDS)))
            await self._sleep(wait)
        return None  # not reached: the second attempt always returns or raises

    async def _renewal_url(self, directory: str) -> str | None:
        """The directory's ``renewalInfo`` URL, fetched once per run and directory.

        A failure is kept for the run too: when the CA's server is down, a thousand
        of its certificates must not each wait for it.
        """
        task = self._renewal_urls.get(directory)
        if task is None:
            task = asyncio.ensure_future(self._fetch_directory(directory))
            # Its failure is read here even when every waiter has timed out, so the
            # loop never reports "exception was never retrieved" at exit.
            task.add_done_callback(_retrieve)
            self._renewal_urls[directory] = task
        return await asyncio.shield(task)

    async def _fetch_directory(self, directory: str) -> str | None:
        answer = await fetch_bounded(
            self._client, directory, max_bytes=MAX_ANSWER_BYTES, timeout_seconds=self._timeout
        )
        if answer.status != 200:
            raise FetchFailed(f"{directory}: HTTP {answer.status}")
        try:
            document = json.loads(answer.body)
        except ValueError as exc:
            raise FetchFailed(f"{directory}: not a JSON ACME directory") from exc
        url = document.get("renewalInfo") if isinstance(document, dict) else None
        return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None

    # ------------------------------------------------------------------ cache

    def _cached(self, key: str) -> _Entry | None:
        now = self._clock()
        entry = self._memory.get(key)
        if entry is None:
            entry = self._read_disk(key)
            if entry is not None:
                self._memory[key] = entry
        if entry is not None and entry.until > now:
            return entry
        return None

    def _remember(self, key: str, entry: _Entry) -> None:
        self._memory[key] = entry
        if self._cache_dir is None:
            return
        document = {
            "version": _CACHE_VERSION,
            "until": entry.until.isoformat(),
            "renewal": None
            if entry.renewal is None
            else {
                "window_start": entry.renewal.window_start.isoformat(),
                "window_end": entry.renewal.window_end.isoformat(),
                "explanation_url": entry.renewal.explanation_url,
            },
        }
        write_cache_file(self._path(key), json.dumps(document).encode())

    def _read_disk(self, key: str) -> _Entry | None:
        if self._cache_dir is None:
            return None
        document = read_cache_json(self._path(key))
        if not isinstance(document, dict) or document.get("version") != _CACHE_VERSION:
            return None
        try:
            until = datetime.fromisoformat(document["until"])
            data = document.get("renewal")
            renewal = (
                None
                if data is None
                else RenewalInfo(
                    datetime.fromisoformat(data["window_start"]),
                    datetime.fromisoformat(data["window_end"]),
                    data.get("explanation_url"),
                )
            )
        except (KeyError, TypeError, ValueError):
            return None
        return _Entry(renewal, until)

    def _path(self, key: str) -> Path:
        assert self._cache_dir is not None
        return self._cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()}.json"


def _retrieve(task: asyncio.Task[str | None]) -> None:
    if not task.cancelled():
        task.exception()


def _keep_for(retry_after: float | None) -> timedelta:
    seconds = DEFAULT_CACHE_SECONDS if retry_after is None else retry_after
    return timedelta(seconds=min(max(seconds, 0.0), MAX_CACHE_SECONDS))


def _parse_renewal(body: bytes) -> RenewalInfo | None:
    """``{"suggestedWindow": {"start", "end"}, "explanationURL"}`` (RFC 9773 4.2)."""
    try:
        document = json.loads(body)
        window = document["suggestedWindow"]
        start = _timestamp(window["start"])
        end = _timestamp(window["end"])
    except (ValueError, KeyError, TypeError) as exc:
        raise FetchFailed(f"renewal information not understood ({exc})") from exc
    if end < start:
        raise FetchFailed("renewal information not understood (window ends before it starts)")
    url = document.get("explanationURL")
    return RenewalInfo(start, end, url if isinstance(url, str) and url else None)


def _timestamp(text: object) -> datetime:
    if not isinstance(text, str):
        raise TypeError("timestamp is not a string")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
