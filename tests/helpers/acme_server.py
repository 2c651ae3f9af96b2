"""An ACME server on 127.0.0.1 that answers ACME Renewal Information (RFC 9773).

    with AcmeServer() as acme:
        acme.set_window(files, start, end, explanation_url=None)   # 200 with a window
        acme.set_retry_after(files, 1, start, end, always=False)  # 503, then 200
        ...  # domaincheck check --acme-directory acme.directory_url
        assert acme.requests_for(acme.renewal_path(files)) == 1

Only what a renewal-information client needs: ``GET /directory`` (an ACME directory
naming ``renewalInfo``) and ``GET /renewal-info/<certID>``. A certificate that was
never set up answers 404. The certID is computed here from the certificate files'
Authority Key Identifier and serial, independently of ``core.ari``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime

from tests.helpers.pki import CertFiles
from tests.helpers.simple_http import Answer, SimpleHttpServer

DIRECTORY_PATH = "/directory"
RENEWAL_PREFIX = "/renewal-info/"
#: ``Retry-After`` sent with every 200 answer (how long a client may keep it).
ANSWER_RETRY_AFTER_SECONDS = 21_600


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_id_of(files: CertFiles) -> str:
    """RFC 9773 certID of a test certificate."""
    assert files.authority_key_id is not None
    serial = files.serial_number
    length = serial.bit_length() // 8 + 1  # DER INTEGER content: a leading 0 if the top bit is set
    return f"{_b64url(files.authority_key_id)}.{_b64url(serial.to_bytes(length, 'big'))}"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass
class _Plan:
    start: datetime
    end: datetime
    explanation_url: str | None = None
    #: ``503`` answers carry this ``Retry-After``.
    retry_after_seconds: int = 0
    #: Refuse every request (``"always"``), every other one starting with the first
    #: (``"alternate"``: each run's first request is refused, its retry answered), or
    #: none (``""``). The world is shared by many tests, so no plan runs out.
    refuse: str = ""
    requests: int = 0


class AcmeServer(SimpleHttpServer):
    """The renewal-information part of an ACME CA."""

    name = "acme-server"

    def __init__(self) -> None:
        super().__init__()
        self._plans: dict[str, _Plan] = {}

    @property
    def directory_url(self) -> str:
        return f"{self.base_url}{DIRECTORY_PATH}"

    def renewal_path(self, files: CertFiles) -> str:
        return f"{RENEWAL_PREFIX}{cert_id_of(files)}"

    def set_window(
        self,
        files: CertFiles,
        start: datetime,
        end: datetime,
        *,
        explanation_url: str | None = None,
    ) -> None:
        """Suggest the window ``start``..``end`` for ``files``'s certificate."""
        with self._lock:
            self._plans[cert_id_of(files)] = _Plan(start, end, explanation_url)

    def set_retry_after(
        self, files: CertFiles, seconds: int, start: datetime, end: datetime, *, always: bool
    ) -> None:
        """Answer ``503`` with ``Retry-After: seconds``: always, or every other request
        (the first refused, the next answered with the window)."""
        with self._lock:
            refuse = "always" if always else "alternate"
            self._plans[cert_id_of(files)] = _Plan(start, end, None, seconds, refuse)

    def respond(self, method: str, path: str, body: bytes) -> Answer:
        if method == "GET" and path == DIRECTORY_PATH:
            directory = {
                "newNonce": f"{self.base_url}/new-nonce",
                "newAccount": f"{self.base_url}/new-account",
                "newOrder": f"{self.base_url}/new-order",
                "renewalInfo": f"{self.base_url}{RENEWAL_PREFIX.rstrip('/')}",
            }
            return 200, {"Content-Type": "application/json"}, json.dumps(directory).encode()
        if method != "GET" or not path.startswith(RENEWAL_PREFIX):
            return 404, {}, b""
        with self._lock:
            plan = self._plans.get(path[len(RENEWAL_PREFIX) :])
            refused = False
            if plan is not None:
                plan.requests += 1
                refused = plan.refuse == "always" or (
                    plan.refuse == "alternate" and plan.requests % 2 == 1
                )
            if plan is not None and refused:
                headers = {"Retry-After": str(plan.retry_after_seconds)}
                return 503, headers, b'{"type": "urn:ietf:params:acme:error:rateLimited"}'
        if plan is None:
            problem = {"type": "urn:ietf:params:acme:error:malformed", "detail": "unknown cert"}
            return 404, {"Content-Type": "application/problem+json"}, json.dumps(problem).encode()
        answer: dict[str, object] = {
            "suggestedWindow": {"start": _rfc3339(plan.start), "end": _rfc3339(plan.end)}
        }
        if plan.explanation_url:
            answer["explanationURL"] = plan.explanation_url
        headers = {
            "Content-Type": "application/json",
            "Retry-After": str(ANSWER_RETRY_AFTER_SECONDS),
        }
        return 200, headers, json.dumps(answer).encode()
