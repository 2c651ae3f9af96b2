"""Bounded downloads for the checks that follow a handshake (ARI, CRL, OCSP).

A certificate names its CRL and OCSP URLs, and a CA's ARI server answers about
every certificate: all of them are other people's servers, asked once per
certificate in runs of thousands. So every request here is limited in time (one
deadline for the whole exchange) and in size (the body is streamed and dropped past
``max_bytes``), and every failure becomes one :class:`FetchFailed` whose words say
what happened; callers turn that into "unknown", never into a failed check.

The client is the caller's: it decides the transport (the backend's
:class:`core.public_http.PublicOnlyTransport`, a test's ``httpx.MockTransport``).
``--connect-to`` and ``--resolve`` never apply here: they steer the connections to
the targets being checked, not the downloads about their certificates.
``DOMAINCHECK_DNS_SERVER`` does apply: it answers every DNS query
(``make_client(resolve=...)``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

__all__ = ["FetchFailed", "Fetched", "fetch_bounded", "make_client", "retry_after_seconds"]

USER_AGENT = "domaincheck (certificate expiry monitor)"
MAX_REDIRECTS = 5


class FetchFailed(Exception):
    """A download could not be done (unreachable, too slow, too big, refused)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Fetched:
    """One HTTP answer, its body read in full (within the size limit)."""

    status: int
    headers: httpx.Headers
    body: bytes


def make_client(
    *,
    public_addresses_only: bool,
    trusted_origins: frozenset[tuple[str, int]],
    resolve: Callable[[str, int], Awaitable[list[str]]] | None = None,
) -> httpx.AsyncClient:
    """The client for these downloads: with ``public_addresses_only`` (the backend)
    it connects to public addresses only, except to ``trusted_origins`` (servers the
    operator configured, such as ``--acme-directory``); ``resolve`` replaces the
    system resolver (``DOMAINCHECK_DNS_SERVER``)."""
    from core.public_http import transport_for

    transport = transport_for(
        public_addresses_only=public_addresses_only,
        trusted=lambda host, port: (host, port) in trusted_origins,
        resolve=resolve,
    )
    # Like RDAP: proxy settings are honoured, except by the public-only transport.
    return httpx.AsyncClient(
        transport=transport,
        trust_env=not public_addresses_only,
        headers={"User-Agent": USER_AGENT},
        max_redirects=MAX_REDIRECTS,
    )


async def fetch_bounded(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    timeout_seconds: float,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Fetched:
    """GET ``url`` (POST when ``content`` is given), at most ``max_bytes`` of body,
    all within ``timeout_seconds``. Redirects are followed (a CA may move its CRL);
    with the public-address transport every hop is checked like the first.

    Raises:
        FetchFailed: with a sentence saying why.
    """
    method = "GET" if content is None else "POST"
    try:
        async with asyncio.timeout(timeout_seconds):
            request = client.build_request(
                method,
                url,
                content=content,
                headers=dict(headers or {}),
                timeout=httpx.Timeout(timeout_seconds),
            )
            response = await client.send(request, stream=True, follow_redirects=True)
            try:
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchFailed(f"{url}: answer too large ({int(declared):,} bytes)")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchFailed(f"{url}: answer larger than {max_bytes:,} bytes")
                    chunks.append(chunk)
            finally:
                await response.aclose()
    except TimeoutError as exc:
        raise FetchFailed(f"{url}: no answer within {timeout_seconds:g}s") from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(f"{url}: {type(exc).__name__} ({exc})") from exc
    except FetchFailed:
        raise
    except Exception as exc:  # e.g. a refused non-public address
        raise FetchFailed(f"{url}: {exc}") from exc
    return Fetched(response.status_code, response.headers, b"".join(chunks))


def retry_after_seconds(headers: httpx.Headers, now: datetime) -> float | None:
    """``Retry-After`` in seconds from ``now`` (delta-seconds or an HTTP date)."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())
