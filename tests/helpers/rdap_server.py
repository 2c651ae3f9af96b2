"""A real RDAP server on 127.0.0.1 for tests, and IANA-format bootstrap files.

    with RdapServer() as server:
        server.add_domain("example.test", expires=datetime(2030, 1, 1, tzinfo=UTC))
        bootstrap = write_bootstrap(tmp_path / "dns.json", {"test": server.base_url})
        ...  # RdapClient(bootstrap=str(bootstrap), ...)
        assert server.request_log == ["/rdap/domain/example.test"]

Answers are RFC 9083 domain objects. Names that were never added answer 404 with an
RFC 9083 error object. The server runs in a daemon thread, one thread per request,
and records the paths it was asked for and the most requests it served at once.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

RDAP_MEDIA_TYPE = "application/rdap+json"
DEFAULT_REGISTRAR = "Test Registrar, Inc."
#: How quickly ``stop()`` returns: serve_forever() checks for shutdown this often.
_POLL_INTERVAL_SECONDS = 0.02


@dataclasses.dataclass
class _Domain:
    expires: datetime | None
    registrar: str | None


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def domain_object(name: str, expires: datetime | None, registrar: str | None) -> dict[str, Any]:
    """A realistic RFC 9083 domain object, like the .com registry's."""
    registered = (expires or datetime(2030, 1, 1, tzinfo=UTC)) - timedelta(days=3 * 365)
    events = [
        {"eventAction": "registration", "eventDate": _rfc3339(registered)},
        {"eventAction": "last changed", "eventDate": _rfc3339(registered + timedelta(days=30))},
        {"eventAction": "last update of RDAP database", "eventDate": "2026-06-26T18:00:02Z"},
    ]
    if expires is not None:
        events.insert(1, {"eventAction": "expiration", "eventDate": _rfc3339(expires)})
    entities: list[dict[str, Any]] = []
    if registrar is not None:
        entities.append(
            {
                "objectClassName": "entity",
                "handle": "9999",
                "roles": ["registrar"],
                "publicIds": [{"type": "IANA Registrar ID", "identifier": "9999"}],
                "vcardArray": [
                    "vcard",
                    [
                        ["version", {}, "text", "4.0"],
                        ["fn", {}, "text", registrar],
                    ],
                ],
                "entities": [
                    {
                        "objectClassName": "entity",
                        "roles": ["abuse"],
                        "vcardArray": [
                            "vcard",
                            [
                                ["version", {}, "text", "4.0"],
                                ["fn", {}, "text", "Abuse Desk"],
                                ["email", {}, "text", "abuse@registrar.test"],
                            ],
                        ],
                    }
                ],
            }
        )
    return {
        "objectClassName": "domain",
        "handle": f"{name.upper().replace('.', '_')}-TEST",
        "ldhName": name.upper(),
        "rdapConformance": ["rdap_level_0", "icann_rdap_response_profile_0"],
        "status": ["client transfer prohibited"],
        "events": events,
        "entities": entities,
        "nameservers": [
            {"objectClassName": "nameserver", "ldhName": f"NS1.{name.upper()}"},
        ],
        "secureDNS": {"delegationSigned": False},
        "notices": [{"title": "Terms of Use", "description": ["Test data only."]}],
    }


class RdapServer:
    """RDAP over plain HTTP on 127.0.0.1 (random port), for one test.

    Attributes:
        response_delay_seconds: Sleep before answering each request, so that tests
            can observe how many requests a client keeps in flight.
    """

    def __init__(self, base_path: str = "/rdap/") -> None:
        if not (base_path.startswith("/") and base_path.endswith("/")):
            raise ValueError("base_path must start and end with '/'")
        self.base_path = base_path
        self.response_delay_seconds = 0.0
        self._lock = threading.Lock()
        self._domains: dict[str, _Domain] = {}
        self._statuses: dict[str, int] = {}
        self._rate_limits: dict[str, tuple[int, int]] = {}
        self._redirects: dict[str, str] = {}
        self._raw: dict[str, bytes] = {}
        self._log: list[str] = []
        self._active = 0
        self._max_active = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> RdapServer:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        handler = type("_BoundHandler", (_Handler,), {"rdap": self})
        httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_SECONDS},
            name="rdap-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; waits for requests still being answered (slow responses)."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> RdapServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/rdap/``, ending with ``/`` like IANA's base URLs."""
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    def domain_url(self, name: str) -> str:
        return f"{self.base_url}domain/{name}"

    def domain_path(self, name: str) -> str:
        return f"{self.base_path}domain/{name}"

    # ------------------------------------------------------------------ behaviour

    def add_domain(
        self, name: str, expires: datetime | None, registrar: str | None = DEFAULT_REGISTRAR
    ) -> None:
        """Serve ``name``; ``expires=None`` leaves out the expiration event."""
        with self._lock:
            self._domains[name.lower()] = _Domain(expires, registrar)

    def add_raw(self, name: str, body: bytes) -> None:
        """Serve ``name`` with exactly ``body`` (a captured real answer)."""
        with self._lock:
            self._raw[name.lower()] = body

    def set_status(self, name: str, status_code: int) -> None:
        """Answer ``name`` with this HTTP status (404, 500, ...) and an RFC 9083 error
        object from now on; ``200`` goes back to answering normally."""
        with self._lock:
            if status_code == 200:
                self._statuses.pop(name.lower(), None)
            else:
                self._statuses[name.lower()] = status_code

    def rate_limit(self, name: str, times: int, retry_after: int = 1) -> None:
        """Answer ``429`` with ``Retry-After: retry_after`` the next ``times`` requests."""
        with self._lock:
            self._rate_limits[name.lower()] = (times, retry_after)

    def redirect(self, name: str, to_url: str) -> None:
        """Answer ``name`` with ``302 Found`` to ``to_url``."""
        with self._lock:
            self._redirects[name.lower()] = to_url

    @property
    def request_log(self) -> list[str]:
        """Paths requested so far, in order (a copy)."""
        with self._lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()
            self._max_active = 0

    @property
    def max_concurrent(self) -> int:
        """Most requests being answered at the same time since start/``reset_log``."""
        with self._lock:
            return self._max_active

    # ------------------------------------------------------------------ serving

    def _respond(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a GET of ``path``."""
        prefix = f"{self.base_path}domain/"
        if not path.startswith(prefix):
            return _error(400, "Bad Request", "only domain queries are supported")
        name = path[len(prefix) :].split("?", 1)[0].lower()
        with self._lock:
            times, retry_after = self._rate_limits.get(name, (0, 0))
            if times > 0:
                self._rate_limits[name] = (times - 1, retry_after)
                status, headers, body = _error(429, "Too Many Requests", "slow down")
                headers["Retry-After"] = str(retry_after)
                return status, headers, body
            if name in self._redirects:
                return 302, {"Location": self._redirects[name]}, b""
            if name in self._statuses:
                code = self._statuses[name]
                return _error(code, f"HTTP {code}", "configured by the test")
            domain = self._domains.get(name)
            raw = self._raw.get(name)
        if raw is not None:
            return 200, {"Content-Type": RDAP_MEDIA_TYPE}, raw
        if domain is None:
            return _error(404, "Not Found", f"{name} is not registered here")
        body = json.dumps(domain_object(name, domain.expires, domain.registrar)).encode()
        return 200, {"Content-Type": RDAP_MEDIA_TYPE}, body


def _error(code: int, title: str, description: str) -> tuple[int, dict[str, str], bytes]:
    body = {
        "rdapConformance": ["rdap_level_0"],
        "errorCode": code,
        "title": title,
        "description": [description],
    }
    return code, {"Content-Type": RDAP_MEDIA_TYPE}, json.dumps(body).encode()


class _Server(ThreadingHTTPServer):
    """Joins its request threads on close, and stays quiet when a client hung up."""

    daemon_threads = False
    block_on_close = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client gave up first (a timeout test): nothing to report
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    rdap: RdapServer  # set on the per-server subclass
    server_version = "TestRDAP/1.0"

    def do_GET(self) -> None:
        server = self.rdap
        with server._lock:
            server._log.append(self.path)
            server._active += 1
            server._max_active = max(server._max_active, server._active)
        try:
            if server.response_delay_seconds:
                time.sleep(server.response_delay_seconds)
            status, headers, body = server._respond(self.path)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            with server._lock:
                server._active -= 1

    def log_message(self, format: str, *args: Any) -> None:
        pass


def write_bootstrap(path: Path, services: dict[str, str]) -> Path:
    """Write an IANA-format DNS bootstrap file mapping suffixes to base URLs.

    ``services`` maps a TLD (or multi-label suffix such as ``"co.test"``) to one base
    URL; suffixes that share a URL share one service entry, as in IANA's file.
    """
    by_url: dict[str, list[str]] = {}
    for suffix, url in services.items():
        by_url.setdefault(url, []).append(suffix)
    document = {
        "description": "RDAP bootstrap file for Domain Name System registrations (test)",
        "publication": _rfc3339(datetime.now(UTC)),
        "services": [[suffixes, [url]] for url, suffixes in by_url.items()],
        "version": "1.0",
    }
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path
