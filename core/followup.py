"""The checks that follow a handshake: the CA's renewal window and revocation.

The TLS check reads the certificate; this asks about it elsewhere (the CA's ARI
server, its CRL or OCSP responder) and adds the answers to the ``CertInfo``
(``renewal``, ``revocation``). Both run at the same time, each within the run's
timeout, and neither can fail a check: what cannot be learned stays ``None`` (no
renewal information) or ``unknown`` (revocation).

Only a certificate whose chain verified (``CertInfo.trusted is True``) is asked
about: an untrusted chain is the server's say-so, so its URLs (and the "issuer" a
CRL or OCSP answer would be verified with) are whatever the server wants, and one
check of many such hosts could make us download gigabytes. Nothing is asked:
revocation is ``unknown`` (as when no source answers), renewal ``None``, and the
untrusted chain is the problem reported.

The downloads go straight to the URLs the certificate and the CA name: the
``connect_to`` rules only steer the connections to the targets. With
``Settings.public_addresses_only`` (the backend) they obey the same address policy
as TLS, through :class:`core.public_http.PublicOnlyTransport`; the operator's own
``acme_directory`` is exempt, as ``connect_to`` rules are.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx

from core.ari import MAX_INLINE_RETRY_SECONDS, AriClient
from core.config import Settings
from core.dns import settings_resolver
from core.fetch import make_client
from core.models import CertInfo, RenewalInfo, Revocation, RevocationStatus, utcnow
from core.public_http import origin_of
from core.revocation import RevocationChecker
from core.tls import Handshake

__all__ = ["FollowUp"]

log = logging.getLogger(__name__)


class FollowUp:
    """Adds renewal information and revocation to what a handshake showed.

    Use one per run; :meth:`aclose` closes ``owned_client`` (the HTTP client that
    :meth:`from_settings` made; an injected one is the caller's to close).
    ``ari`` or ``revocation`` ``None`` leaves that part out (``--no-revocation``).
    """

    def __init__(
        self,
        *,
        ari: AriClient | None,
        revocation: RevocationChecker | None,
        timeout_seconds: float,
        owned_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._ari = ari
        self._revocation = revocation
        self._timeout = timeout_seconds
        self._owned_client = owned_client

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        client: httpx.AsyncClient | None = None,
        cache_dir: Path | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> FollowUp:
        """The follow-up a run with ``settings`` needs; ``client`` is injectable."""
        # The operator's own ACME directory is exempt from the public-address rule.
        operator = origin_of(settings.acme_directory or "")
        trusted = frozenset() if operator is None else frozenset({operator})
        owned = (
            make_client(
                public_addresses_only=settings.public_addresses_only,
                trusted_origins=trusted,
                resolve=settings_resolver(settings),
            )
            if client is None
            else None
        )
        http = client or owned
        assert http is not None
        timeout = settings.timeout_seconds
        return cls(
            ari=AriClient(
                http,
                directory=settings.acme_directory,
                timeout_seconds=timeout,
                cache_dir=cache_dir,
                clock=clock,
            ),
            revocation=(
                RevocationChecker(http, timeout_seconds=timeout, cache_dir=cache_dir, clock=clock)
                if settings.check_revocation
                else None
            ),
            timeout_seconds=timeout,
            owned_client=owned,
        )

    async def aclose(self) -> None:
        if self._owned_client is not None:
            await self._owned_client.aclose()

    async def enrich(self, handshake: Handshake) -> CertInfo:
        """``handshake.info`` with ``renewal`` and ``revocation`` filled in (for a
        certificate whose chain verified; see the module docstring)."""
        info = handshake.info
        leaf = handshake.leaf
        if leaf is None or info.error is not None:
            return info
        if info.trusted is not True:
            unasked = None if self._revocation is None else Revocation(RevocationStatus.UNKNOWN)
            return dataclasses.replace(info, renewal=None, revocation=unasked)
        renewal, revocation = await asyncio.gather(
            self._renewal(handshake), self._revoked(handshake)
        )
        return dataclasses.replace(info, renewal=renewal, revocation=revocation)

    async def _renewal(self, handshake: Handshake) -> RenewalInfo | None:
        if self._ari is None or handshake.leaf is None:
            return None
        try:
            # Two requests at most (directory, renewalInfo), plus one short retry.
            async with asyncio.timeout(3 * self._timeout + MAX_INLINE_RETRY_SECONDS):
                return await self._ari.renewal_info(handshake.leaf)
        except TimeoutError:
            return None
        except Exception:  # a bug here must not cost the certificate's answer
            log.exception("renewal information lookup failed unexpectedly")
            return None

    async def _revoked(self, handshake: Handshake) -> Revocation | None:
        if self._revocation is None or handshake.leaf is None:
            return None
        unknown = Revocation(RevocationStatus.UNKNOWN)
        try:
            # A CRL, and an OCSP responder when the CRL gave no answer.
            async with asyncio.timeout(2 * self._timeout):
                return await self._revocation.check(handshake.leaf, handshake.issuer)
        except TimeoutError:
            return unknown
        except Exception:
            log.exception("revocation check failed unexpectedly")
            return unknown
