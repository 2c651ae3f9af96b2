"""Load test of the backend on PostgreSQL: API workers, and reminder workers.

Everything runs on loopback: a throw-away PostgreSQL cluster (``initdb``), the
service as real processes, a real SMTP server, the test PKI's TLS server.

1. **API**: ``domaincheck-backend serve --workers N`` for N = 1 and 4, each on a
   fresh database. After a short warm-up, ``--seconds`` of
   ``POST /api/otp/generate`` for distinct addresses (the code endpoint; each
   writes an ``.eml``), then half as long of ``POST /api/notifications/register``
   with the codes read from the outbox (5 domains each), at ``--concurrency``
   keep-alive connections. Prints requests/s, p50/p99, the cores each part used
   (service, PostgreSQL, load generator, anything else on the machine) and CPU
   per request, then where the ceiling is: one worker is one Python process
   (one core at most), and on a small machine the workers share the cores with
   PostgreSQL and the load generator.

   The load generator is ``wrk`` when installed (``apt-get install wrk``: C, about
   0.3 ms of CPU per request, with a Lua script for the POST bodies); without it,
   ``--client-processes`` Python processes (httpx; several times the CPU per
   request, so they take cores from the service: the figures say how much).
   The throw-away PostgreSQL runs without durability (``fsync``,
   ``synchronous_commit`` and ``full_page_writes`` off: nothing is flushed to
   disk); ``--durable`` turns them on, as a production server has them.
2. **Reminders**: 3,000 watched names (300 subscribers x 10) whose TLS handshakes
   each wait ``--handshake-delay`` (1 s) in a delaying proxy before reaching the
   TLS server, checked by 1 and then 3 ``domaincheck-backend worker`` processes.
   Prints the run's duration (planned to completed) and checks that every
   subscriber got exactly one reminder.

Bounded: fixed request counts, a wall-clock cap per phase, every process killed.

    .venv/bin/python bench/backend_load.py [--seconds 10] [--concurrency 50] [--skip-reminders]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import email
import email.policy
import itertools
import json
import multiprocessing
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make ``backend`` and ``tests`` importable
    sys.path.insert(0, str(ROOT))

from backend import db  # noqa: E402
from core.config import ConnectRule  # noqa: E402
from tests.helpers.backend_server import SmtpInbox, free_port  # noqa: E402
from tests.helpers.backend_workers import (  # noqa: E402
    WorkerProcesses,
    completed_runs,
    seed_subscribers,
)
from tests.helpers.postgres import PostgresServer, running_postgres  # noqa: E402
from tests.helpers.world import LoopbackWorld  # noqa: E402

CODE = re.compile(r"^\s+(\d{6})\s*$", re.MULTILINE)
SECRET = "bench-" + "x" * 40
SERVE = (sys.executable, "-m", "backend", "serve")


# --------------------------------------------------------------------------- CPU

_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[str, int, float, float] | None:
    """(command, parent pid, CPU seconds used, CPU seconds of reaped children)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    command = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    own = (int(fields[11]) + int(fields[12])) / _TICKS
    reaped = (int(fields[13]) + int(fields[14])) / _TICKS
    return command, int(fields[1]), own, reaped


Sample = dict[int, tuple[str, int, float, float]]


def cpu_sample() -> Sample:
    return {
        int(name): stat
        for name in os.listdir("/proc")
        if name.isdigit() and (stat := _proc_stat(int(name))) is not None
    }


def machine_busy_seconds() -> float:
    with open("/proc/stat") as stat_file:
        ticks = [int(v) for v in stat_file.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICKS  # all but idle and iowait


def own_and_children_cpu() -> float:
    """CPU seconds of this process plus its reaped children (wrk, client processes)."""
    me, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def cpu_by_group(server_pids: set[int], before: Sample, after: Sample) -> dict[str, float]:
    """CPU seconds between two samples: the service's process tree and PostgreSQL.

    PostgreSQL's short-lived backends are counted too: when one ends, the
    postmaster reaps it and its CPU moves into the postmaster's children's time.
    """

    def used(pid: int) -> float:  # own CPU and that of its reaped children
        _, _, own, reaped = after[pid]
        if pid not in before:
            return own + reaped
        _, _, own_before, reaped_before = before[pid]
        return own - own_before + reaped - reaped_before

    tree = set(server_pids)
    changed = True
    while changed:
        children = {pid for pid, stat in after.items() if stat[1] in tree} - tree
        changed = bool(children)
        tree |= children
    groups = {"service": 0.0, "postgres": 0.0}
    for pid, (command, _, _, _) in after.items():
        if pid in tree:
            groups["service"] += used(pid)
        elif command.startswith("postgres"):
            groups["postgres"] += used(pid)
    return groups


@dataclasses.dataclass
class Measured:
    """One load phase: counts, latencies and where the CPU went."""

    name: str
    ok: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    cpu: dict[str, float]  # seconds: service, postgres, generator, machine

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    def cores(self, group: str) -> float:
        return self.cpu[group] / self.seconds

    def ms_per_request(self, group: str) -> float:
        return self.cpu[group] / max(1, self.ok) * 1000

    def report(self) -> str:
        other = self.cpu["machine"] - sum(self.cpu[g] for g in ("service", "postgres", "generator"))
        return (
            f"  {self.name:<34} {self.ok:>6} ok in {self.seconds:5.1f} s {self.rate:7.1f} req/s"
            f"  p50 {self.p50_ms:6.1f} ms  p99 {self.p99_ms:6.1f} ms  status {self.statuses}\n"
            f"  {'':<34} cores busy: service {self.cores('service'):.2f}, "
            f"postgres {self.cores('postgres'):.2f}, load generator "
            f"{self.cores('generator'):.2f}, anything else {max(0.0, other) / self.seconds:.2f}"
            f" (whole machine {self.cores('machine'):.2f} of {os.cpu_count()})\n"
            f"  {'':<34} CPU per request: service {self.ms_per_request('service'):.2f} ms, "
            f"postgres {self.ms_per_request('postgres'):.2f} ms, "
            f"load generator {self.ms_per_request('generator'):.2f} ms"
        )


# --------------------------------------------------------------------------- load generators

WRK_COMMON_LUA = """
statuses = {}
threads = {}
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  for _, t in ipairs(threads) do
    for code, count in pairs(t:get("statuses")) do
      io.write(string.format("STATUS %d %d\\n", code, count))
    end
  end
end
"""

WRK_CODES_LUA = """
counter = 0
function request()
  counter = counter + 1
  local body = string.format('{"email":"%s-%d@bench.example","operation":"register"}', TAG, counter)
  return wrk.format("POST", "/api/otp/generate", HEADERS, body)
end
"""

WRK_BODIES_LUA = """
bodies = {}
for line in io.lines(BODIES) do table.insert(bodies, line) end
counter = 0
function request()
  counter = counter + 1  -- past the end: bodies again (their codes are spent: 4xx, reported)
  local body = bodies[(counter - 1) % #bodies + 1]
  return wrk.format("POST", PATH, HEADERS, body)
end
"""


@dataclasses.dataclass(frozen=True)
class Load:
    """What to send: generated code requests, or prepared bodies for ``path``."""

    path: str
    tag: str = ""  # code requests for "<tag>-<n>@bench.example"
    bodies: tuple[str, ...] = ()

    def body(self, n: int) -> bytes:
        if not self.bodies:
            return json.dumps(
                {"email": f"{self.tag}-{n}@bench.example", "operation": "register"}
            ).encode()
        return self.bodies[(n - 1) % len(self.bodies)].encode()


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def run_wrk(
    url: str, load: Load, concurrency: int, seconds: float, tmp: Path, keep_alive: bool
) -> dict[str, Any]:
    """One wrk thread (plenty on loopback: it used ~0.1 core at 300 req/s)."""
    script = tmp / f"load-{load.tag or 'bodies'}.lua"
    connection = "" if keep_alive else ', ["Connection"] = "close"'
    headers = f'HEADERS = {{["Content-Type"] = "application/json"{connection}}}\n'
    if load.bodies:
        bodies = tmp / "bodies.jsonl"
        bodies.write_text("\n".join(load.bodies) + "\n")
        head = f"BODIES = {json.dumps(str(bodies))}\nPATH = {json.dumps(load.path)}\n"
        script.write_text(headers + head + WRK_BODIES_LUA + WRK_COMMON_LUA)
    else:
        tag = f"TAG = {json.dumps(load.tag)}\n"
        script.write_text(headers + tag + WRK_CODES_LUA + WRK_COMMON_LUA)
    command = [
        str(wrk_binary()),
        "-t1",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        url,
    ]
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=True
    ).stdout
    result = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+)$", output, re.MULTILINE)
    if result is None:
        raise SystemExit(f"unexpected wrk output:\n{output}")
    _, duration_us, p50_us, p99_us, errors = (int(v) for v in result.groups())
    statuses = {
        code: int(count)
        for code, count in re.findall(r"^STATUS (\d+) (\d+)$", output, re.MULTILINE)
    }
    if errors:
        statuses["socket errors"] = errors
    return {
        "ok": sum(n for code, n in statuses.items() if code.startswith("2")),
        "seconds": duration_us / 1e6,
        "p50": p50_us / 1000,
        "p99": p99_us / 1000,
        "statuses": statuses,
    }


def _client_process(
    url: str, load: Load, first: int, step: int, connections: int, seconds: float, keep_alive: bool
) -> tuple[list[float], dict[str, int]]:
    """One Python client process: ``connections`` keep-alive connections for ``seconds``."""

    async def run() -> tuple[list[float], dict[str, int]]:
        latencies: list[float] = []
        statuses: collections.Counter[str] = collections.Counter()
        numbers = itertools.count(first, step)
        deadline = time.monotonic() + seconds
        limits = httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections if keep_alive else 0
        )
        headers = {"Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

            async def connection() -> None:
                while time.monotonic() < deadline:
                    started = time.perf_counter()
                    try:
                        response = await client.post(
                            load.path, content=load.body(next(numbers)), headers=headers
                        )
                    except httpx.HTTPError as exc:
                        statuses[type(exc).__name__] += 1
                        continue
                    latencies.append(time.perf_counter() - started)
                    statuses[str(response.status_code)] += 1

            await asyncio.gather(*(connection() for _ in range(connections)))
        return latencies, dict(statuses)

    return asyncio.run(run())


def run_python_clients(
    url: str, load: Load, concurrency: int, seconds: float, processes: int, keep_alive: bool
) -> dict[str, Any]:
    """Without wrk: ``processes`` client processes (one would be the bottleneck)."""
    processes = max(1, min(processes, concurrency))
    shares = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    context = multiprocessing.get_context("fork")
    started = time.perf_counter()
    with context.Pool(processes) as pool:
        results = pool.starmap(
            _client_process,
            [
                (url, load, i + 1, processes, shares[i], seconds, keep_alive)
                for i in range(processes)
            ],
        )
    elapsed = time.perf_counter() - started
    latencies = sorted(latency for part, _ in results for latency in part)
    statuses: collections.Counter[str] = collections.Counter()
    for _, part in results:
        statuses.update(part)
    if not latencies:
        raise SystemExit(f"no request succeeded: {dict(statuses)}")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return {
        "ok": sum(n for code, n in statuses.items() if code.startswith("2")),
        "seconds": elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": p99 * 1000,
        "statuses": dict(statuses),
    }


def measure(
    name: str,
    url: str,
    load: Load,
    server_pid: int,
    args: argparse.Namespace,
    seconds: float,
    tmp: Path,
) -> Measured:
    before, busy_before, generator_before = (
        cpu_sample(),
        machine_busy_seconds(),
        own_and_children_cpu(),
    )
    if args.generator == "wrk":
        result = run_wrk(url, load, args.concurrency, seconds, tmp, args.keep_alive)
    else:
        result = run_python_clients(
            url, load, args.concurrency, seconds, args.client_processes, args.keep_alive
        )
    cpu = cpu_by_group({server_pid}, before, cpu_sample())
    cpu["generator"] = own_and_children_cpu() - generator_before
    cpu["machine"] = machine_busy_seconds() - busy_before
    measured = Measured(
        name, result["ok"], result["seconds"], result["p50"], result["p99"], result["statuses"], cpu
    )
    print(measured.report(), flush=True)
    return measured


# --------------------------------------------------------------------------- API


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not become ready")


def read_codes(outbox: Path, tag: str) -> dict[str, str]:
    codes = {}
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(("plain",))
        match = CODE.search(body.get_content()) if body else None
        if match and str(message["To"]).startswith(f"{tag}-"):
            codes[str(message["To"])] = match.group(1)
    return codes


def fresh_database(server: PostgresServer, name: str) -> str:
    server.execute(f"CREATE DATABASE {name} TEMPLATE dc_template")
    return server.database_url(name)


def bench_api(
    server: PostgresServer, workers: int, args: argparse.Namespace
) -> tuple[Measured, Measured]:
    """Code requests, then registrations with those codes, against ``serve --workers N``."""
    with tempfile.TemporaryDirectory(prefix="domaincheck-bench-") as tmp:
        outbox = Path(tmp) / "outbox"
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": fresh_database(server, f"bench_api_{workers}"),
            "AUTO_MIGRATE": "false",
            "OUTBOX_DIR": str(outbox),
            "OTP_SECRET": SECRET,
            "CHECK_INTERVAL_SECONDS": "0",
            "RATE_LIMIT_IP_OTP_PER_HOUR": "100000000",
            "RATE_LIMIT_IP_VERIFY_PER_HOUR": "100000000",
            "POSTHOG_API_KEY": "",
            "XDG_DATA_HOME": tmp,
        }
        env.pop("SMTP_HOST", None)
        process = subprocess.Popen(
            [*SERVE, "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url)
            print(f"API, {workers} worker(s):", flush=True)
            if args.warmup > 0:
                warm_up(url, args, Path(tmp))
            codes = measure(
                "POST /api/otp/generate",
                url,
                Load("/api/otp/generate", tag="user"),
                process.pid,
                args,
                args.seconds,
                Path(tmp),
            )
            bodies = tuple(
                json.dumps(
                    {
                        "email": address,
                        "otp": code,
                        "domains": [f"site{i}-{n}.example.com" for n in range(5)],
                    }
                )
                for i, (address, code) in enumerate(sorted(read_codes(outbox, "user").items()))
            )
            register = measure(
                "POST /api/notifications/register",
                url,
                Load("/api/notifications/register", bodies=bodies),
                process.pid,
                args,
                args.seconds / 2,  # runs out of codes only at twice the code rate (then: 4xx)
                Path(tmp),
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    return codes, register


def warm_up(url: str, args: argparse.Namespace, tmp: Path) -> None:
    """Load that is not counted: a fresh worker's CPU per request falls for its first
    half minute or so (measured 9 ms -> 4 ms on the code endpoint), and a service
    lives for days."""
    load = Load("/api/otp/generate", tag="warmup")
    if args.generator == "wrk":
        result = run_wrk(url, load, args.concurrency, args.warmup, tmp, args.keep_alive)
    else:
        result = run_python_clients(
            url, load, args.concurrency, args.warmup, args.client_processes, args.keep_alive
        )
    print(
        f"  {'warm-up (not counted)':<34} {result['ok']:>6} ok in {result['seconds']:5.1f} s "
        f"{result['ok'] / result['seconds']:7.1f} req/s",
        flush=True,
    )


def explain_ceiling(one: Measured, four: Measured) -> None:
    """Where the limit is: the CPU per request, and the cores there are to spend it."""
    cores = os.cpu_count() or 1
    print(f"code endpoint: 4 workers / 1 worker = {four.rate / one.rate:.2f}x")
    service_1, service_4 = one.ms_per_request("service"), four.ms_per_request("service")
    shared = four.ms_per_request("postgres") + four.ms_per_request("generator")
    four_max = cores * 1000 / (service_4 + shared)
    print(
        f"  1 worker: {service_1:.2f} ms of service CPU per request at "
        f"{one.cores('service'):.2f} cores busy: one Python process runs Python on one "
        f"core at a time (the GIL), so it is CPU-bound at about one core\n"
        f"  4 workers here: {service_4:.2f} ms service + {shared:.2f} ms PostgreSQL and load "
        f"generator per request on {cores} cores: at most {four_max:.0f} req/s, "
        f"i.e. {four_max / one.rate:.2f}x one worker on this machine"
    )
    per_core_1 = one.rate / max(one.cores("service"), 1e-9)
    per_core_4 = four.rate / max(four.cores("service"), 1e-9)
    print(
        f"  per service core: 1 worker {per_core_1:.0f} req/s, 4 workers {per_core_4:.0f} req/s "
        f"({per_core_4 / per_core_1:.2f}x per core); with a free core for each worker "
        f"(PostgreSQL and the generator elsewhere), 4 workers ~ {4 * per_core_4:.0f} req/s "
        f"= {4 * per_core_4 / one.rate:.2f}x one worker",
        flush=True,
    )


# --------------------------------------------------------------------------- reminders


class DelayingProxy:
    """Accepts TCP, waits ``delay`` seconds, then pipes to ``target`` (a slow network)."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port = target_port
        self.delay = delay
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, backlog=4096
        )

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.sleep(self.delay)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            with contextlib.suppress(OSError):
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    @contextlib.contextmanager
    def running(self) -> Iterator[DelayingProxy]:
        self._thread.start()
        self._ready.wait(10)
        try:
            yield self
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


def bench_reminders(
    server: PostgresServer,
    world: LoopbackWorld,
    proxy: DelayingProxy,
    workers: int,
    args: argparse.Namespace,
) -> float | None:
    names_per_subscriber = 10
    subscribers = args.names // names_per_subscriber
    url = fresh_database(server, f"bench_reminders_{workers}")
    watched = [
        [f"n{s}-{n}.bench.test" for n in range(names_per_subscriber)] for s in range(subscribers)
    ]
    addresses = seed_subscribers(url, watched)
    with tempfile.TemporaryDirectory(prefix="domaincheck-bench-") as tmp, SmtpInbox() as inbox:
        env = {
            "DOMAINCHECK_CA_FILE": str(world.pki.ca_file),
            "DOMAINCHECK_CONNECT_TO": str(ConnectRule("", None, "127.0.0.1", proxy.port)),
            "DOMAINCHECK_RDAP_BOOTSTRAP": str(world.rdap_bootstrap),
            "DOMAINCHECK_TIMEOUT": "30",
            "DATABASE_URL": url,
            "AUTO_MIGRATE": "false",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(inbox.port),
            "SMTP_TLS": "none",
            "OTP_SECRET": SECRET,
            "CHECK_INTERVAL_SECONDS": "86400",
            "WORKER_CONCURRENCY": str(args.worker_concurrency),
            "REMINDER_BATCH_NAMES": "100",
            "XDG_CACHE_HOME": str(Path(tmp) / "cache"),
            "XDG_DATA_HOME": str(Path(tmp) / "data"),
            "POSTHOG_API_KEY": "",
        }
        before, busy_before, started = cpu_sample(), machine_busy_seconds(), time.monotonic()
        here_before = own_and_children_cpu()
        with WorkerProcesses(workers, env, Path(tmp)) as processes:
            deadline = time.monotonic() + args.max_run_seconds
            while not completed_runs(url) or len(inbox.messages) < subscribers:
                if time.monotonic() > deadline:
                    print(f"  {workers} worker(s): the run did not finish in time", flush=True)
                    return None
                time.sleep(0.2)
            elapsed = time.monotonic() - started
            used = cpu_by_group({p.pid for p in processes.processes}, before, cpu_sample())
            used["generator"] = own_and_children_cpu() - here_before
            cpu = {k: v / elapsed for k, v in used.items()}
            cpu["machine"] = (machine_busy_seconds() - busy_before) / elapsed
            time.sleep(1)  # any duplicate would arrive now
        run = completed_runs(url)[0]
        assert run.completed_at is not None
        seconds = (run.completed_at - run.started_at).total_seconds()
        counts = collections.Counter(str(m["To"]) for m in inbox.messages)
        once = counts == collections.Counter(addresses)
        print(
            f"  {workers} worker(s): {subscribers * names_per_subscriber} names in "
            f"{run.batches} batches, run took {seconds:6.1f} s; "
            f"{len(inbox.messages)} reminders for {subscribers} subscribers, "
            f"each mailed once: {once}\n"
            f"    cores busy: workers {cpu['service']:.2f}, postgres {cpu['postgres']:.2f}, "
            f"TLS world + proxy + SMTP (this process) {cpu['generator']:.2f}, "
            f"whole machine {cpu['machine']:.2f} of {os.cpu_count()}",
            flush=True,
        )
        return seconds


def show(server: PostgresServer, setting: str) -> str:
    engine = db.make_engine(server.url, pool_size=1)
    try:
        with engine.connect() as connection:
            return str(connection.exec_driver_sql(f"SHOW {setting}").scalar_one())
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="code-request phase")
    parser.add_argument("--warmup", type=float, default=30, help="not counted, per server")
    parser.add_argument("--concurrency", type=int, default=50, help="connections")
    parser.add_argument(
        "--generator",
        choices=("wrk", "python"),
        default="wrk" if wrk_binary() else "python",
        help="wrk if installed (apt-get install wrk), else Python client processes",
    )
    parser.add_argument("--client-processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="reuse connections (default: one per request, like clients that come and go; "
        "kept-alive connections all opened at once mostly land on one worker)",
    )
    parser.add_argument(
        "--durable", action="store_true", help="PostgreSQL with fsync and synchronous_commit"
    )
    parser.add_argument("--names", type=int, default=3000)
    parser.add_argument("--handshake-delay", type=float, default=1.0)
    parser.add_argument("--worker-concurrency", type=int, default=1)
    parser.add_argument("--max-run-seconds", type=float, default=600)
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument("--skip-reminders", action="store_true")
    args = parser.parse_args()

    def migrate(url: str) -> None:
        engine = db.make_engine(url)
        db.migrate(engine)
        engine.dispose()

    if args.generator == "wrk" and not wrk_binary():
        raise SystemExit("wrk is not installed (apt-get install wrk), use --generator python")
    generator = (
        f"wrk ({wrk_binary()}), 1 thread"
        if args.generator == "wrk"
        else f"{args.client_processes} Python client processes (httpx; wrk is lighter: "
        "apt-get install wrk)"
    )
    print(
        f"{os.cpu_count()} CPUs shared by everything below; load generator: {generator}, "
        f"{args.concurrency} connections "
        + ("kept alive" if args.keep_alive else "at a time, a new one per request"),
        flush=True,
    )
    with running_postgres(template=migrate) as server:
        durability = ("fsync", "synchronous_commit", "full_page_writes")
        if args.durable:
            for setting in durability:
                server.execute(f"ALTER SYSTEM SET {setting} = on")
            server.execute("SELECT pg_reload_conf()")
        print(
            "PostgreSQL on loopback, "
            + ", ".join(f"{name}={show(server, name)}" for name in durability)
            + ("" if args.durable else " (durability off: throw-away data; --durable: on)"),
            flush=True,
        )
        if not args.skip_api:
            results = {n: bench_api(server, n, args) for n in (1, 4)}
            explain_ceiling(results[1][0], results[4][0])
        if not args.skip_reminders:
            with LoopbackWorld() as world:
                # Every name is under bench.test: one registration, looked up once per
                # worker (then from the shared disk cache), as for real subdomains.
                world.rdap_server.add_domain("bench.test", world.pki.now + timedelta(days=400))
                proxy = DelayingProxy(world.tls_port, args.handshake_delay)
                with proxy.running():
                    print(
                        f"reminder run, {args.handshake_delay:g} s per TLS handshake, "
                        f"worker concurrency {args.worker_concurrency}:",
                        flush=True,
                    )
                    times = {n: bench_reminders(server, world, proxy, n, args) for n in (1, 3)}
            if times[1] and times[3]:
                print(f"reminder run: 3 workers are {times[1] / times[3]:.2f}x faster than 1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
