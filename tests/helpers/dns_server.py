"""A loopback DNS server for tests: A, AAAA and MX records (null MX too), over UDP.

    with DnsServer() as dns:
        dns.add_address("multi.test", "127.0.0.2", "127.0.0.3", "::1")
        dns.add_mx("mail.test", (10, "mx1.mail.test"), (20, "mx2.mail.test"))
        dns.add_null_mx("nomail.test")
        dns.add_silent("slow.test")          # queries for it get no answer
        env = {"DOMAINCHECK_DNS_SERVER": dns.address}   # "127.0.0.1:PORT"

Answers are built with dnspython's message API, so they are real DNS messages:
names that were never added get NXDOMAIN, names added for another type get an
empty answer (NODATA). Queries are counted per (name, type) for tests that must
know whether DNS was asked at all. It runs its own asyncio loop in a daemon thread,
like the other loopback servers.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from types import TracebackType
from typing import Self

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

_LOOPBACK = "127.0.0.1"
_START_TIMEOUT_SECONDS = 10.0
_TTL_SECONDS = 60


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self._server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        answer = self._server.answer(data)
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)


class DnsServer:
    """Answers A/AAAA/MX queries for the names it was given, on 127.0.0.1:``port``."""

    def __init__(self) -> None:
        self._records: dict[str, dict[int, list[str]]] = collections.defaultdict(dict)
        self._silent: set[str] = set()
        self._lock = threading.Lock()
        #: Queries received so far, by (name without the final dot, type name).
        self.queries: collections.Counter[tuple[str, str]] = collections.Counter()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._port: int | None = None

    # ----------------------------------------------------------------- records

    def add_address(self, name: str, *addresses: str) -> None:
        """A records for the IPv4 addresses, AAAA for the IPv6 ones."""
        with self._lock:
            records = self._records[_key(name)]
            for address in addresses:
                rdtype = dns.rdatatype.AAAA if ":" in address else dns.rdatatype.A
                records.setdefault(rdtype, []).append(address)

    def add_mx(self, name: str, *exchanges: tuple[int, str]) -> None:
        """MX records: ``(preference, host)`` each."""
        with self._lock:
            records = self._records[_key(name)].setdefault(dns.rdatatype.MX, [])
            records.extend(f"{preference} {host.rstrip('.')}." for preference, host in exchanges)

    def add_null_mx(self, name: str) -> None:
        """The RFC 7505 null MX (``0 .``): the domain accepts no mail."""
        with self._lock:
            self._records[_key(name)][dns.rdatatype.MX] = ["0 ."]

    def add_name(self, name: str) -> None:
        """A name that exists but has no records of any asked type (NODATA)."""
        with self._lock:
            self._records.setdefault(_key(name), {})

    def add_silent(self, name: str) -> None:
        """Queries for ``name`` are dropped: the resolver times out."""
        with self._lock:
            self._silent.add(_key(name))

    # ------------------------------------------------------------------ server

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("DnsServer is not started")
        return self._port

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the value of ``DOMAINCHECK_DNS_SERVER``."""
        return f"{_LOOPBACK}:{self.port}"

    def start(self) -> Self:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="DnsServer", daemon=True
        )
        self._thread.start()
        if not ready.wait(_START_TIMEOUT_SECONDS) or self._port is None:
            raise RuntimeError("DnsServer did not start")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.stop)
        thread.join(_START_TIMEOUT_SECONDS)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            transport, _ = loop.run_until_complete(
                loop.create_datagram_endpoint(lambda: _Protocol(self), local_addr=(_LOOPBACK, 0))
            )
            self._transport = transport
            self._port = transport.get_extra_info("sockname")[1]
            ready.set()
            loop.run_forever()
            transport.close()
            loop.run_until_complete(asyncio.sleep(0))
        finally:
            ready.set()
            loop.close()

    # ---------------------------------------------------------------- answers

    def answer(self, wire: bytes) -> bytes | None:
        """The response to one query message (``None``: drop it)."""
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # garbage gets no answer, like a real server
            return None
        if not query.question:
            return None
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.queries[name, dns.rdatatype.to_text(question.rdtype)] += 1
        with self._lock:
            if name in self._silent:
                return None
            records = self._records.get(name)
            values = list(records.get(question.rdtype, [])) if records is not None else []
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif values:
            response.answer.append(
                dns.rrset.from_text_list(
                    question.name, _TTL_SECONDS, dns.rdataclass.IN, question.rdtype, values
                )
            )
        return response.to_wire()


def _key(name: str) -> str:
    return name.lower().rstrip(".")
