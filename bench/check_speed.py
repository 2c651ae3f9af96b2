"""How fast Domain Check checks many hosts, next to two baselines, behind real latency.

Every host is ``hostNNNN.bench.test`` (one ``*.bench.test`` leaf from a throw-away
PKI), served on 127.0.0.1 by a TLS server in its own process, reached through a
latency proxy in another process; nothing here touches real DNS or the network.

The latency model: the proxy holds every chunk it relays for half of
``--latency-ms`` in each direction, keeping the order within each direction of
each connection, so every request/answer round trip costs ``--latency-ms``. The
TCP connect itself is *not* delayed (the kernel answers it on the proxy's
listening socket); the TLS 1.3 handshake is one delayed round trip.

Methods, each on the same hosts:

(a) ``openssl s_client`` once per host, in sequence: measured on a sample of
    ``--openssl-sample`` hosts and extrapolated linearly to ``--hosts``.
(b) a bare asyncio loop: ``asyncio.open_connection(ssl=...)`` at ``--concurrency``
    (semaphore), read the leaf, abort. Its context is the system store plus the test
    CA, like Domain Check's.
(c) Domain Check: ``Checker(...).stream()`` in this process; and, as an extra line,
    the whole CLI (``domaincheck check -f FILE --no-rdap --format json``) as a
    subprocess, interpreter start-up included.

(b) and (c) run ``--repeat`` times, interleaved, and the median is reported.

Every address: the proxy also listens on 127.0.0.2 (same port), and a last section
checks the same names with two addresses each (a ``--resolve``-style rule gives
every name 127.0.0.1 and 127.0.0.2), against (b) making the same number of
handshakes (twice the names, twice the concurrency).

    .venv/bin/python bench/check_speed.py [--hosts 1000] [--latency-ms 100]
        [--concurrency 200] [--repeat 3] [--openssl-sample 40]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``core`` and ``tests`` importable
    sys.path.insert(0, str(ROOT))

LOOPBACK = "127.0.0.1"
#: The second address every name has in the "every address" section.
SECOND_ADDRESS = "127.0.0.2"
DOMAIN = "bench.test"
#: Listen backlog of the server and the proxy: a thousand connections arrive at once.
LISTEN_BACKLOG = 2048
#: Limit for one host's check in (b) and (c); nothing should come near it.
CHECK_TIMEOUT_SECONDS = 30.0
#: Limit for one whole run of (b) or (c).
RUN_TIMEOUT_SECONDS = 120.0
#: Limit for the CLI subprocess and for one ``openssl s_client``.
CLI_TIMEOUT_SECONDS = 120.0
OPENSSL_TIMEOUT_SECONDS = 10.0
#: How long a child process may take to start, and to stop when asked.
CHILD_START_TIMEOUT_SECONDS = 30.0
CHILD_STOP_TIMEOUT_SECONDS = 5.0
#: The server gives up on a client that does not finish its handshake.
SERVER_HANDSHAKE_TIMEOUT_SECONDS = 30.0
#: Targets of the issue: Domain Check within this factor of (b) ...
TARGET_VS_BARE = 1.5
#: ... and at least this many times faster than (a).
TARGET_VS_OPENSSL = 20.0
WARMUP_HOSTS = 200
PROBE_HANDSHAKES = 5


# --------------------------------------------------------------------------- helpers


def raise_fd_limit() -> int:
    """Raise the soft limit of open files to the hard one (1,000 sockets, times two)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def host_names(count: int) -> list[str]:
    width = max(4, len(str(count)))
    return [f"host{index:0{width}d}.{DOMAIN}" for index in range(1, count + 1)]


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a running process (Linux ``/proc``), else ``None``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


#: Kernel counters that reveal stalled connects (a dropped SYN waits a whole second).
TCP_STALL_COUNTERS = ("ListenOverflows", "TCPSynRetrans", "TCPTimeouts")


def tcp_counters() -> dict[str, int] | None:
    """Linux's TcpExt counters of :data:`TCP_STALL_COUNTERS` (whole machine), else ``None``."""
    try:
        rows = [
            line.split()
            for line in Path("/proc/net/netstat").read_text().splitlines()
            if line.startswith("TcpExt:")
        ]
        values = dict(zip(rows[0][1:], map(int, rows[1][1:]), strict=True))
        return {name: values[name] for name in TCP_STALL_COUNTERS}
    except (OSError, ValueError, IndexError, KeyError):
        return None


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # Clients abort right after their handshake on purpose; nothing to report.
    pass


# --------------------------------------------------------------------------- children
#
# Each child runs one asyncio loop and is driven over a multiprocessing pipe: it
# sends ("ready", port), then waits for anything (or EOF, when the parent died) and
# answers with its counters before it exits.


async def _serve_until_told(
    conn: multiprocessing.connection.Connection, stats: dict[str, int]
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_reader(conn.fileno(), stop.set)  # a message, or EOF when the parent dies
    try:
        await stop.wait()
    finally:
        loop.remove_reader(conn.fileno())
    with contextlib.suppress(OSError, EOFError):
        conn.send(("stats", stats))


def _child_setup() -> None:
    # Ctrl-C reaches the whole process group: the parent stops the children itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise_fd_limit()


def _listener(address: str = LOOPBACK, port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(LISTEN_BACKLOG)
    sock.setblocking(False)
    return sock


class _HandshakeOnly(asyncio.Protocol):
    """Server side: the handshake has completed when this is called; hang up."""

    def __init__(self, stats: dict[str, int]) -> None:
        self._stats = stats

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._stats["handshakes"] += 1
        assert isinstance(transport, asyncio.Transport)
        transport.abort()


async def _tls_server_main(
    chain_file: str, key_file: str, conn: multiprocessing.connection.Connection
) -> None:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_quiet_exception_handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain_file, key_file)
    context.num_tickets = 0  # nothing to send after the handshake
    stats = {"handshakes": 0}
    sock = _listener()
    server = await loop.create_server(
        lambda: _HandshakeOnly(stats),
        sock=sock,
        ssl=context,
        backlog=LISTEN_BACKLOG,
        ssl_handshake_timeout=SERVER_HANDSHAKE_TIMEOUT_SECONDS,
    )
    async with server:
        conn.send(("ready", sock.getsockname()[1]))
        await _serve_until_told(conn, stats)


def run_tls_server(
    chain_file: str, key_file: str, conn: multiprocessing.connection.Connection
) -> None:
    """Child process: a TLS server that completes each handshake and hangs up."""
    _child_setup()
    asyncio.run(_tls_server_main(chain_file, key_file, conn))


#: asyncio may run a timer this much early (it rounds to the clock's resolution).
_CLOCK_RESOLUTION_SECONDS = time.get_clock_info("monotonic").resolution
_EOF = "eof"
_CLOSE = "close"
_ABORT = "abort"


class _DelayedPipe:
    """One direction of one proxied connection: what one side sent, written to the
    other side ``delay`` seconds after it arrived, in arrival order."""

    __slots__ = ("_delay", "_dest", "_done", "_loop", "_queue", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        self._loop = loop
        self._delay = delay
        self._queue: collections.deque[tuple[float, bytes | str]] = collections.deque()
        self._dest: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._done = False

    def attach(self, dest: asyncio.Transport) -> None:
        self._dest = dest
        self._schedule()

    def push(self, item: bytes | str) -> None:
        if self._done:
            return
        self._queue.append((self._loop.time() + self._delay, item))
        self._schedule()

    def cancel(self) -> None:
        """The destination is gone: drop whatever is still in flight."""
        self._done = True
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        if self._timer is None and self._queue and self._dest is not None and not self._done:
            self._timer = self._loop.call_at(self._queue[0][0], self._flush)

    def _flush(self) -> None:
        self._timer = None
        now = self._loop.time() + _CLOCK_RESOLUTION_SECONDS
        dest = self._dest
        assert dest is not None
        while self._queue and self._queue[0][0] <= now and not self._done:
            _, item = self._queue.popleft()
            if dest.is_closing():
                self.cancel()
            elif isinstance(item, bytes):
                dest.write(item)
            elif item == _EOF:
                if dest.can_write_eof():
                    dest.write_eof()
            elif item == _CLOSE:
                dest.close()
                self.cancel()
            else:
                dest.abort()
                self.cancel()
        self._schedule()


class _ProxySide(asyncio.Protocol):
    """One socket of a proxied connection: what it receives goes into ``outgoing``,
    and ``incoming`` writes to it."""

    def __init__(self, outgoing: _DelayedPipe, incoming: _DelayedPipe) -> None:
        self.outgoing = outgoing
        self.incoming = incoming
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.incoming.attach(transport)

    def data_received(self, data: bytes) -> None:
        self.outgoing.push(data)

    def eof_received(self) -> bool:
        self.outgoing.push(_EOF)
        return True  # half-close: keep sending the other way

    def connection_lost(self, exc: Exception | None) -> None:
        self.outgoing.push(_CLOSE if exc is None else _ABORT)
        self.incoming.cancel()


async def _proxy_main(
    upstream_port: int, one_way_delay: float, conn: multiprocessing.connection.Connection
) -> None:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_quiet_exception_handler)
    stats = {"connections": 0, "upstream_failures": 0}
    tasks: set[asyncio.Task[None]] = set()

    async def connect_upstream(downstream: _ProxySide, upstream: _ProxySide) -> None:
        try:
            await loop.create_connection(lambda: upstream, LOOPBACK, upstream_port)
        except OSError:
            stats["upstream_failures"] += 1
            if downstream.transport is not None:
                downstream.transport.abort()

    def accept() -> _ProxySide:
        stats["connections"] += 1
        to_server = _DelayedPipe(loop, one_way_delay)
        to_client = _DelayedPipe(loop, one_way_delay)
        downstream = _ProxySide(outgoing=to_server, incoming=to_client)
        upstream = _ProxySide(outgoing=to_client, incoming=to_server)
        task = loop.create_task(connect_upstream(downstream, upstream))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return downstream

    sock = _listener()
    port = sock.getsockname()[1]
    server = await loop.create_server(accept, sock=sock, backlog=LISTEN_BACKLOG)
    # The same proxy on a second address and the same port: names with two addresses.
    second = await loop.create_server(
        accept, sock=_listener(SECOND_ADDRESS, port), backlog=LISTEN_BACKLOG
    )
    async with server, second:
        conn.send(("ready", port))
        await _serve_until_told(conn, stats)


def run_latency_proxy(
    upstream_port: int, one_way_delay: float, conn: multiprocessing.connection.Connection
) -> None:
    """Child process: a TCP proxy to ``upstream_port`` that delays every chunk."""
    _child_setup()
    asyncio.run(_proxy_main(upstream_port, one_way_delay, conn))


@dataclass
class Child:
    """A child process started with :func:`start_child`; stop it with :meth:`stop`."""

    name: str
    process: BaseProcess
    conn: multiprocessing.connection.Connection
    port: int
    stats: dict[str, int] = field(default_factory=dict)

    def cpu_seconds(self) -> float | None:
        return None if self.process.pid is None else process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """Ask it to stop and collect its counters; terminate, then kill, if it won't."""
        if self.conn.closed:
            return
        with contextlib.suppress(OSError, EOFError, ValueError):
            self.conn.send("stop")
            if self.conn.poll(CHILD_STOP_TIMEOUT_SECONDS):
                kind, stats = self.conn.recv()
                if kind == "stats":
                    self.stats = stats
        self.process.join(CHILD_STOP_TIMEOUT_SECONDS)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(CHILD_STOP_TIMEOUT_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(CHILD_STOP_TIMEOUT_SECONDS)
        self.conn.close()


def start_child(name: str, target: Callable[..., None], *args: object) -> Child:
    context = multiprocessing.get_context("spawn")  # no inherited threads or loops
    parent_conn, child_conn = context.Pipe()
    process = context.Process(target=target, args=(*args, child_conn), name=name, daemon=True)
    process.start()
    child_conn.close()  # so the parent sees EOF if the child dies
    try:
        if not parent_conn.poll(CHILD_START_TIMEOUT_SECONDS):
            raise RuntimeError(f"{name} did not start within {CHILD_START_TIMEOUT_SECONDS:g}s")
        kind, port = parent_conn.recv()
        if kind != "ready":
            raise RuntimeError(f"{name} sent {kind!r} instead of ready")
    except BaseException:
        process.kill()
        process.join(CHILD_STOP_TIMEOUT_SECONDS)
        parent_conn.close()
        raise
    return Child(name, process, parent_conn, port)


# --------------------------------------------------------------------------- methods


@dataclass
class Run:
    """One timed run of one method."""

    seconds: float
    ok: int
    failures: list[str]
    #: CPU seconds spent by the client (this process or the subprocess) during the run.
    client_cpu: float | None = None
    #: CPU seconds spent by the server and the proxy during the run.
    server_cpu: float | None = None
    proxy_cpu: float | None = None
    #: Per-handshake seconds, where the method can tell.
    latencies: list[float] = field(default_factory=list)


def bare_context(ca_file: Path) -> ssl.SSLContext:
    context = ssl.create_default_context()  # system store, hostname checked
    context.load_verify_locations(ca_file)
    return context


async def bare_loop(
    names: Sequence[str], port: int, ca_file: Path, concurrency: int
) -> tuple[int, list[str], list[float]]:
    """(b): one handshake per name, ``concurrency`` at a time; the context is built here
    (as Domain Check builds its own), so both include loading the system store."""
    context = bare_context(ca_file)
    semaphore = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    failures: list[str] = []

    async def one(name: str) -> bool:
        async with semaphore:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                    _, writer = await asyncio.open_connection(
                        LOOPBACK, port, ssl=context, server_hostname=name
                    )
            except (OSError, TimeoutError) as exc:
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
                return False
            try:
                ssl_object = writer.get_extra_info("ssl_object")
                leaf = ssl_object.getpeercert(binary_form=True) if ssl_object else None
            finally:
                writer.transport.abort()
            latencies.append(time.perf_counter() - started)
            if not leaf:
                failures.append(f"{name}: no certificate")
            return bool(leaf)

    results = await asyncio.gather(*(one(name) for name in names))
    return sum(results), failures, latencies


async def domaincheck_stream(
    names: Sequence[str],
    port: int,
    ca_file: Path,
    concurrency: int,
    addresses: Sequence[str] = (LOOPBACK,),
) -> tuple[int, list[str]]:
    """(c): the engine as the CLI, GUI and backend use it; every result must be valid
    (and, with several ``addresses``, list that many endpoints)."""
    from core.checker import Checker
    from core.config import ConnectRule, ResolveRule, Settings
    from core.models import Status, Target

    targets = [Target(name) for name in names]
    if len(addresses) == 1:
        routing: dict[str, Any] = {"connect_to": (ConnectRule("", None, addresses[0], port),)}
    else:  # keep the name, change the port; --resolve gives every name the addresses
        routing = {
            "connect_to": (ConnectRule("", None, "", port),),
            "resolve": (ResolveRule("", None, tuple(addresses)),),
        }
    settings = Settings(
        ca_file=ca_file,
        **routing,
        check_rdap=False,
        concurrency=concurrency,
        timeout_seconds=CHECK_TIMEOUT_SECONDS,
    )
    ok = 0
    failures: list[str] = []
    async with Checker(settings) as checker:
        async for result in checker.stream(targets):
            endpoints = len(result.tls.endpoints) if result.tls is not None else 0
            if result.status is Status.VALID and endpoints == (
                0 if len(addresses) == 1 else len(addresses)
            ):
                ok += 1
            else:
                failures.append(f"{result.target}: {result.status.value}: {result.problem}")
    return ok, failures


def domaincheck_cli(
    names_file: Path, port: int, ca_file: Path, concurrency: int, home: Path
) -> tuple[int, list[str], int]:
    """The whole CLI in a subprocess; returns (valid results, failures, exit status)."""
    executable = Path(sys.executable).parent / "domaincheck"
    command = (
        [str(executable)]
        if executable.exists()
        else [sys.executable, "-c", "import sys, core.cli; sys.exit(core.cli.main())"]
    )
    command += [
        "check",
        "-f",
        str(names_file),
        "--no-rdap",
        "--format",
        "json",
        "--concurrency",
        str(concurrency),
        "--timeout",
        f"{CHECK_TIMEOUT_SECONDS:g}",
    ]
    env = {
        **os.environ,
        "DOMAINCHECK_CA_FILE": str(ca_file),
        "DOMAINCHECK_CONNECT_TO": f"::{LOOPBACK}:{port}",
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }
    completed = subprocess.run(
        command,
        env=env,
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )
    try:
        document = json.loads(completed.stdout)
    except ValueError:
        stderr = completed.stderr.decode(errors="replace").strip()[-500:]
        return 0, [f"CLI exit {completed.returncode}, no JSON: {stderr}"], completed.returncode
    ok = 0
    failures = []
    for entry in document["results"]:
        if entry["status"] == "valid":
            ok += 1
        else:
            failures.append(f"{entry['domain']}: {entry['status']}: {entry['problem']}")
    failures += [f"input: {error}" for error in document["input_errors"]]
    return ok, failures, completed.returncode


def openssl_one(openssl: str, name: str, port: int, ca_file: Path) -> str | None:
    """(a) for one host: ``None`` when verified, else why not."""
    try:
        completed = subprocess.run(
            [
                openssl,
                "s_client",
                "-connect",
                f"{LOOPBACK}:{port}",
                "-servername",
                name,
                "-CAfile",
                str(ca_file),
                "-verify_return_error",
                "-verify_hostname",
                name,
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=OPENSSL_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"{name}: no answer within {OPENSSL_TIMEOUT_SECONDS:g}s"
    if completed.returncode == 0 and b"Verify return code: 0 (ok)" in completed.stdout:
        return None
    tail = completed.stderr.decode(errors="replace").strip().splitlines()[-1:]
    return f"{name}: openssl exit {completed.returncode} {' '.join(tail)}"


# --------------------------------------------------------------------------- driver


@dataclass
class Bench:
    """The world the methods run against, and the CPU counters around each run."""

    names: list[str]
    port: int
    ca_file: Path
    concurrency: int
    server: Child
    proxy: Child
    home: Path
    names_file: Path

    def timed(
        self, body: Callable[[], tuple[int, list[str], list[float]]], *, child_cpu: bool
    ) -> Run:
        server_before, proxy_before = self.server.cpu_seconds(), self.proxy.cpu_seconds()
        own_before = time.process_time()
        children_before = _children_cpu()
        started = time.perf_counter()
        ok, failures, latencies = body()
        seconds = time.perf_counter() - started
        client_cpu = (
            _children_cpu() - children_before if child_cpu else time.process_time() - own_before
        )
        server_after, proxy_after = self.server.cpu_seconds(), self.proxy.cpu_seconds()
        return Run(
            seconds=seconds,
            ok=ok,
            failures=failures,
            client_cpu=client_cpu,
            server_cpu=_delta(server_before, server_after),
            proxy_cpu=_delta(proxy_before, proxy_after),
            latencies=latencies,
        )

    def run_bare(self, names: Sequence[str] | None = None, concurrency: int | None = None) -> Run:
        names = self.names if names is None else names
        concurrency = self.concurrency if concurrency is None else concurrency

        def body() -> tuple[int, list[str], list[float]]:
            result: tuple[int, list[str], list[float]] = asyncio.run(
                _bounded(bare_loop(names, self.port, self.ca_file, concurrency))
            )
            return result

        return self.timed(body, child_cpu=False)

    def run_domaincheck(
        self, names: Sequence[str] | None = None, addresses: Sequence[str] = (LOOPBACK,)
    ) -> Run:
        names = self.names if names is None else names

        def body() -> tuple[int, list[str], list[float]]:
            ok, failures = asyncio.run(
                _bounded(
                    domaincheck_stream(names, self.port, self.ca_file, self.concurrency, addresses)
                )
            )
            return ok, failures, []

        return self.timed(body, child_cpu=False)

    def run_cli(self) -> Run:
        def body() -> tuple[int, list[str], list[float]]:
            ok, failures, status = domaincheck_cli(
                self.names_file, self.port, self.ca_file, self.concurrency, self.home
            )
            if status != 0 and not failures:
                failures.append(f"CLI exit status {status}")
            return ok, failures, []

        return self.timed(body, child_cpu=True)

    def run_openssl(self, openssl: str, sample: Sequence[str]) -> Run:
        def body() -> tuple[int, list[str], list[float]]:
            failures = []
            latencies = []
            for name in sample:
                started = time.perf_counter()
                failure = openssl_one(openssl, name, self.port, self.ca_file)
                latencies.append(time.perf_counter() - started)
                if failure is not None:
                    failures.append(failure)
            return len(sample) - len(failures), failures, latencies

        return self.timed(body, child_cpu=True)


async def _bounded(awaitable: Any) -> Any:
    async with asyncio.timeout(RUN_TIMEOUT_SECONDS):
        return await awaitable


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def median_run(runs: Sequence[Run]) -> Run:
    """The run of median duration (its own CPU figures, not a mix of runs)."""
    ordered = sorted(runs, key=lambda run: run.seconds)
    return ordered[(len(ordered) - 1) // 2]  # the lower middle one for an even count


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _cpu(run: Run) -> str:
    parts = [run.client_cpu, run.server_cpu, run.proxy_cpu]
    return "/".join("?" if value is None else f"{value:.2f}" for value in parts)


def print_failures(label: str, runs: Sequence[Run], expected: int) -> bool:
    clean = True
    for number, run in enumerate(runs, 1):
        if run.ok != expected or run.failures:
            clean = False
            print(f"  ! {label} run {number}: {run.ok}/{expected} OK; {len(run.failures)} failures")
            for failure in run.failures[:5]:
                print(f"      {failure}")
    return clean


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=100.0, help="round-trip time")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--openssl-sample", type=int, default=40, help="hosts timed with openssl s_client"
    )
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI subprocess line")
    args = parser.parse_args(argv)
    if args.hosts < 1 or args.concurrency < 1 or args.repeat < 1 or args.latency_ms < 0:
        parser.error("--hosts, --concurrency and --repeat must be positive, latency >= 0")

    fd_limit = raise_fd_limit()
    from tests.helpers.pki import make_pki  # after the sys.path set-up; cryptography is slow

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="domaincheck-bench-")))
        pki = make_pki(tmp / "pki")
        leaf = pki.issue("bench", [f"*.{DOMAIN}"])
        server = start_child(
            "bench-tls-server", run_tls_server, str(leaf.chain_file), str(leaf.key_file)
        )
        stack.callback(server.stop)
        proxy = start_child(
            "bench-latency-proxy", run_latency_proxy, server.port, args.latency_ms / 2000
        )
        stack.callback(proxy.stop)
        names = host_names(args.hosts)
        names_file = tmp / "hosts.txt"
        names_file.write_text("".join(f"{name}\n" for name in names))
        bench = Bench(
            names=names,
            port=proxy.port,
            ca_file=pki.ca_file,
            concurrency=args.concurrency,
            server=server,
            proxy=proxy,
            home=tmp,
            names_file=names_file,
        )
        status = run_all(bench, args, fd_limit)
        proxy.stop()
        server.stop()
        print(
            f"Proxy relayed {proxy.stats.get('connections', '?')} connections "
            f"({proxy.stats.get('upstream_failures', '?')} upstream failures); the server "
            f"completed {server.stats.get('handshakes', '?')} handshakes."
        )
        return status


def run_all(bench: Bench, args: argparse.Namespace, fd_limit: int) -> int:
    hosts, concurrency, latency_ms = args.hosts, args.concurrency, args.latency_ms
    floor = math.ceil(hosts / concurrency) * latency_ms / 1000
    print(f"Domain Check speed: {hosts} hosts *.{DOMAIN} on {LOOPBACK}, concurrency {concurrency}")
    print(
        f"Latency model: a proxy process holds every chunk {latency_ms / 2:g} ms in each "
        f"direction (order kept), so each round trip costs {latency_ms:g} ms. The TCP "
        "connect is not delayed (the kernel answers it); the TLS 1.3 handshake is one "
        "delayed round trip."
    )
    print(
        f"TLS server and proxy run in their own processes; {os.cpu_count()} CPUs, "
        f"load average {_load()}; open-file limit {fd_limit}; "
        f"Python {sys.version.split()[0]}, {ssl.OPENSSL_VERSION}."
    )
    print(
        f"Latency floor for (b)/(c): ceil({hosts}/{concurrency}) x {latency_ms:g} ms = "
        f"{floor:.2f} s; CPU time comes on top unless it overlaps the waiting."
    )

    # One handshake at a time: what a round trip through the proxy really costs.
    probe = [bench.run_bare(bench.names[:1]) for _ in range(PROBE_HANDSHAKES)]
    if any(run.ok != 1 for run in probe):
        print_failures("probe handshake", probe, 1)
        return 1
    alone = statistics.median(run.latencies[0] for run in probe)
    print(f"One handshake through the proxy, alone: {_ms(alone)} (median of {PROBE_HANDSHAKES}).")

    warm = bench.names[: min(WARMUP_HOSTS, hosts)]
    bench.run_bare(warm)
    bench.run_domaincheck(warm)
    print(f"Warm-up: {len(warm)} hosts each with (b) and (c), not counted.")

    openssl = shutil.which("openssl")
    openssl_run: Run | None = None
    sample = bench.names[: max(0, min(args.openssl_sample, hosts))]
    if openssl is None:
        print("(a) skipped: no openssl on PATH.")
    elif not sample:
        print("(a) skipped: --openssl-sample 0.")
    else:
        print(f"(a) timing openssl s_client on {len(sample)} hosts, one after another...")
        openssl_run = bench.run_openssl(openssl, sample)
    openssl_total = openssl_run.seconds / len(sample) * hosts if openssl_run else None

    bare_runs: list[Run] = []
    dc_runs: list[Run] = []
    cli_runs: list[Run] = []
    counters_before = tcp_counters()
    for number in range(1, args.repeat + 1):
        bare_runs.append(bench.run_bare())
        dc_runs.append(bench.run_domaincheck())
        if not args.no_cli:
            cli_runs.append(bench.run_cli())
        line = (
            f"  round {number}: (b) {bare_runs[-1].seconds:.3f} s, (c) {dc_runs[-1].seconds:.3f} s"
        )
        if cli_runs:
            line += f", CLI {cli_runs[-1].seconds:.3f} s"
        print(line + f"; (c)/(b) {dc_runs[-1].seconds / bare_runs[-1].seconds:.2f}")

    counters_after = tcp_counters()
    print()
    if counters_before is not None and counters_after is not None:
        print(
            "Kernel TCP counters over those rounds, whole machine (a dropped SYN costs a 1 s "
            "retransmit): "
            + ", ".join(
                f"{name} +{counters_after[name] - counters_before[name]}"
                for name in TCP_STALL_COUNTERS
            )
        )
    all_ok = True
    if openssl_run is not None:
        all_ok &= print_failures("(a) openssl s_client", [openssl_run], len(sample))
    all_ok &= print_failures("(b) bare asyncio loop", bare_runs, hosts)
    all_ok &= print_failures("(c) Domain Check", dc_runs, hosts)
    all_ok &= print_failures("(c) Domain Check CLI", cli_runs, hosts)
    if all_ok:
        print("Every method verified every host it checked (Domain Check: status valid).")

    bare = median_run(bare_runs)
    dc = median_run(dc_runs)
    rows: list[tuple[str, float, Run, str]] = []
    if openssl_run is not None and openssl_total is not None:
        rows.append(("(a) openssl s_client, in sequence *", openssl_total, openssl_run, "*"))
    rows.append(("(b) bare asyncio loop", bare.seconds, bare, f"median of {len(bare_runs)}"))
    rows.append(("(c) Domain Check, Checker.stream", dc.seconds, dc, f"median of {len(dc_runs)}"))
    if cli_runs:
        cli = median_run(cli_runs)
        rows.append(
            (
                "(c) Domain Check CLI, subprocess",
                cli.seconds,
                cli,
                f"median of {len(cli_runs)}, +start-up",
            )
        )

    header = (
        f"{'method':<36} {'hosts':>5} {'seconds':>8} {'hosts/s':>8} {'vs (b)':>7} "
        f"{'vs (a)':>8}  {'CPU s client/server/proxy':<26} note"
    )
    print()
    print(header)
    print("-" * len(header))
    for label, seconds, run, note in rows:
        vs_openssl = f"{openssl_total / seconds:7.1f}x" if openssl_total else "     n/a"
        cpu = _cpu(run) + (f" ({len(sample)} hosts)" if label.startswith("(a)") else "")
        print(
            f"{label:<36} {hosts:>5} {seconds:>8.2f} {hosts / seconds:>8.0f} "
            f"{seconds / bare.seconds:>6.2f}x {vs_openssl}  {cpu:<26} {note}"
        )
    print("-" * len(header))
    print(
        "vs (b) = seconds / (b)'s seconds (lower is better); vs (a) = (a)'s seconds / seconds "
        "(times faster). CPU s: the client (this process, or its subprocesses), the TLS "
        "server and the proxy, during that run."
    )
    if openssl_run is not None:
        print(
            f"* (a) is extrapolated linearly from {len(sample)} hosts measured: "
            f"{openssl_run.seconds:.2f} s, p50 {_ms(statistics.median(openssl_run.latencies))} "
            f"per host, x {hosts}/{len(sample)}. Each s_client costs two round trips: the "
            "handshake, then after its close_notify it waits (up to 500 ms) for the server "
            "to hang up."
        )

    print()
    lat = sorted(bare.latencies)
    if lat:
        p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
        print(
            f"(b) per handshake under load: p50 {_ms(statistics.median(lat))}, p95 {_ms(p95)}, "
            f"max {_ms(lat[-1])} (alone: {_ms(alone)}); (b) took {bare.seconds:.2f} s "
            f"against a {floor:.2f} s latency floor."
        )
    if bare.client_cpu is not None and dc.client_cpu is not None:
        print(
            f"Client CPU per host: (b) {bare.client_cpu / hosts * 1000:.2f} ms, "
            f"(c) {dc.client_cpu / hosts * 1000:.2f} ms (one thread each; the handshake "
            "itself, in OpenSSL, is most of it)."
        )
        if bare.client_cpu > floor:
            print(
                f"So this run is CPU-bound, not latency-bound: the client alone needs "
                f"{bare.client_cpu:.2f} CPU-s on one thread, more than the {floor:.2f} s "
                "latency floor, and the server and proxy share the other core(s). The "
                "comparison of (b) and (c) is then one of CPU cost per check."
            )
    print(f"Load average at the end: {_load()} (other work on this machine adds noise).")

    print()
    ratio = dc.seconds / bare.seconds
    rounds = [c.seconds / b.seconds for b, c in zip(bare_runs, dc_runs, strict=True)]
    met = "MET" if ratio <= TARGET_VS_BARE else "NOT MET"
    print(
        f"Target: Domain Check within {TARGET_VS_BARE:g}x of the bare loop: {ratio:.2f}x "
        f"(per round {', '.join(f'{r:.2f}' for r in rounds)}) -> {met}"
    )
    if openssl_total:
        speedup = openssl_total / dc.seconds
        met = "MET" if speedup >= TARGET_VS_OPENSSL else "NOT MET"
        print(
            f"Target: Domain Check at least {TARGET_VS_OPENSSL:g}x faster than openssl "
            f"s_client in sequence: {speedup:.1f}x -> {met}"
        )
    else:
        print(f"Target: at least {TARGET_VS_OPENSSL:g}x faster than openssl: not measured")
    all_ok &= run_every_address(bench, args)
    return 0 if all_ok else 1


def run_every_address(bench: Bench, args: argparse.Namespace) -> bool:
    """The names again, each with two addresses (127.0.0.1 and 127.0.0.2), all checked:
    against (b) making as many handshakes (twice the names, twice the concurrency)."""
    addresses = (LOOPBACK, SECOND_ADDRESS)
    hosts, concurrency = len(bench.names), bench.concurrency
    doubled = [*bench.names, *bench.names]
    print()
    print(
        f"Every address: {hosts} names x {len(addresses)} addresses ({LOOPBACK}, "
        f"{SECOND_ADDRESS}; a --resolve rule), {hosts * len(addresses)} handshakes; (b) makes "
        f"as many ({len(doubled)} connections at concurrency {concurrency * len(addresses)})."
    )
    bench.run_domaincheck(bench.names[:WARMUP_HOSTS], addresses)
    bare_runs: list[Run] = []
    dc_runs: list[Run] = []
    for number in range(1, args.repeat + 1):
        bare_runs.append(bench.run_bare(doubled, concurrency * len(addresses)))
        dc_runs.append(bench.run_domaincheck(addresses=addresses))
        print(
            f"  round {number}: (b) {bare_runs[-1].seconds:.3f} s, (c) {dc_runs[-1].seconds:.3f} s"
            f"; (c)/(b) {dc_runs[-1].seconds / bare_runs[-1].seconds:.2f}"
        )
    ok = print_failures("(b) bare asyncio loop, doubled", bare_runs, len(doubled))
    ok &= print_failures("(c) Domain Check, every address", dc_runs, hosts)
    bare, dc = median_run(bare_runs), median_run(dc_runs)
    ratio = dc.seconds / bare.seconds
    print(
        f"(c) Domain Check, {hosts} names x {len(addresses)} addresses: {dc.seconds:.3f} s "
        f"(median of {len(dc_runs)}; CPU s client/server/proxy {_cpu(dc)});"
        f" (b) {bare.seconds:.3f} s"
    )
    met = "MET" if ratio <= TARGET_VS_BARE else "NOT MET"
    print(
        f"Target: every address checked within {TARGET_VS_BARE:g}x of the bare loop making "
        f"as many handshakes: {ratio:.2f}x -> {met}"
    )
    return ok


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
