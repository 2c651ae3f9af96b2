"""Loopback WHOIS servers (port-43 protocol) for tests: the real answers, and a strict one.

    with WhoisServer() as server:                  # serves ../shared/corpora/whois/
        client = WhoisClient(connect_to=server.connect_rules(), pace_seconds=0, ...)
        await client.lookup("google.io")           # IANA → refer: whois.nic.io → answer
        assert server.queries == ["io", "google.io"]

One server plays every WHOIS server: ``connect_rules()`` sends port 43 of any host
to it. A query without a dot is a TLD asked of IANA, answered in IANA's format with
``refer: whois.nic.<tld>`` (or, for TLDs in ``no_whois``, without one). A domain is
answered with the bytes of ``<domain>.txt`` from the corpus (original bytes and
encodings), or with what ``add_answer`` set, else "No match". Flags before the name
(DENIC's ``-T dn,ace``) are ignored.

:class:`ThrottlingWhoisServer` refuses ("limit exceeded") a query that arrives while
another is being answered or sooner than ``min_gap_seconds`` after the last one,
like the registries that ban clients which go too fast.

The corpus is never copied into the project: it is read from ``shared/`` beside the
project root (:data:`CORPUS_DIR`).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

from core.config import ConnectRule
from tests.helpers.tls_server import LoopbackServer

#: ``<project root>/../shared/corpora/whois/responses`` (CI clones ``shared/`` beside).
CORPUS_DIR = Path(__file__).resolve().parents[2].parent / "shared/corpora/whois/responses"
RATE_LIMITED_ANSWER = b"%% Query rate limit exceeded. Please try again later.\r\n"
_MAX_QUERY_BYTES = 1024
_READ_TIMEOUT_SECONDS = 5.0


def corpus_answers(directory: Path = CORPUS_DIR) -> dict[str, bytes]:
    """Domain → raw answer bytes, for every ``<domain>.txt`` of the corpus."""
    return {path.name[: -len(".txt")]: path.read_bytes() for path in directory.glob("*.txt")}


def iana_answer(tld: str, server: str | None) -> bytes:
    """What ``whois.iana.org`` says about a TLD, in its own format."""
    lines = [
        "% IANA WHOIS server",
        "% for more information on IANA, visit http://www.iana.org",
        "",
        f"domain:       {tld.upper()}",
        "",
        "organisation: Test Registry",
    ]
    if server is not None:
        lines[3:3] = [f"refer:        {server}", ""]
        lines.append(f"whois:        {server}")
    lines += ["", "status:       ACTIVE", "source:       IANA", ""]
    return "\n".join(lines).encode()


class WhoisServer(LoopbackServer):
    """Serves the corpus (and added answers) on 127.0.0.1; see the module docstring.

    Attributes read from tests (any thread): ``queries`` (the names asked, in order),
    ``raw_queries`` (the lines as sent) and ``max_in_flight``.
    """

    def __init__(
        self,
        answers: dict[str, bytes] | None = None,
        *,
        no_whois: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__()
        self._answers = dict(corpus_answers() if answers is None else answers)
        self._no_whois = no_whois
        self._lock = threading.Lock()
        self.queries: list[str] = []
        self.raw_queries: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def add_answer(self, domain: str, answer: bytes) -> None:
        self._answers[domain.lower()] = answer

    def connect_rules(self) -> tuple[ConnectRule, ...]:
        """Send port 43 of every host (IANA, registries, registrars) here."""
        return (ConnectRule(host="", port=43, target_host="127.0.0.1", target_port=self.port),)

    def answer_for(self, name: str) -> bytes:
        if "." not in name:
            return iana_answer(name, None if name in self._no_whois else f"whois.nic.{name}")
        return self._answers.get(name, f'No match for "{name.upper()}".\r\n'.encode())

    async def _serve_connection(self, conn: socket.socket) -> None:
        reader, writer = await asyncio.open_connection(sock=conn)
        try:
            async with asyncio.timeout(_READ_TIMEOUT_SECONDS):
                line = await reader.readuntil(b"\n")
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        except asyncio.CancelledError:  # stopped while a client said nothing yet
            writer.close()
            raise
        text = line[:_MAX_QUERY_BYTES].decode("utf-8", "replace").strip()
        name = text.split()[-1].lower().rstrip(".") if text.split() else ""
        with self._lock:
            self.raw_queries.append(text)
            self.queries.append(name)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            writer.write(self._respond(name))
            await writer.drain()
        finally:
            with self._lock:
                self.in_flight -= 1
            self._answered()
            writer.close()

    def _respond(self, name: str) -> bytes:
        return self.answer_for(name)

    def _answered(self) -> None:
        """Called after each answer (the throttling server notes the time)."""


class ThrottlingWhoisServer(WhoisServer):
    """Answers "limit exceeded" to a query that comes too soon (see module docstring)."""

    def __init__(
        self, answers: dict[str, bytes] | None = None, *, min_gap_seconds: float = 0.2
    ) -> None:
        super().__init__(answers)
        self.min_gap_seconds = min_gap_seconds
        self._last_answer: float | None = None
        #: Queries refused for coming too soon.
        self.refused = 0

    def _respond(self, name: str) -> bytes:
        now = time.monotonic()
        with self._lock:
            too_soon = self.in_flight > 1 or (
                self._last_answer is not None and now - self._last_answer < self.min_gap_seconds
            )
            if too_soon:
                self.refused += 1
        return RATE_LIMITED_ANSWER if too_soon else self.answer_for(name)

    def _answered(self) -> None:
        with self._lock:
            self._last_answer = time.monotonic()
