"""Load test of the backend's sign-up path against a real uvicorn on loopback.

Starts ``domaincheck-backend serve`` (SQLite, outbox mail, limits raised) in a
subprocess, then with an asyncio httpx client at fixed concurrency:

1. ``POST /api/otp/generate`` for N distinct addresses (each writes an .eml),
2. reads every code from the outbox, and
3. ``POST /api/notifications/register`` with it (5 domains each).

Prints requests/s and p50/p99 latency per phase. Bounded: N requests per phase
and a wall-clock cap.

    .venv/bin/python bench/backend_load.py [--users 500] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CODE = re.compile(r"^\s+(\d{6})\s*$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not become ready")


async def phase(
    name: str,
    client: httpx.AsyncClient,
    bodies: list[tuple[str, dict[str, object]]],
    concurrency: int,
    deadline: float,
) -> list[httpx.Response]:
    latencies: list[float] = []
    responses: list[httpx.Response] = []
    queue = list(reversed(bodies))

    async def worker() -> None:
        while queue and time.monotonic() < deadline:
            path, body = queue.pop()
            started = time.perf_counter()
            response = await client.post(path, json=body)
            latencies.append(time.perf_counter() - started)
            responses.append(response)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    codes: dict[int, int] = {}
    for response in responses:
        codes[response.status_code] = codes.get(response.status_code, 0) + 1
    print(
        f"{name:<28} {len(latencies):>5} requests in {elapsed:6.2f} s  "
        f"{len(latencies) / elapsed:8.1f} req/s  "
        f"p50 {statistics.median(latencies) * 1000:7.1f} ms  "
        f"p99 {p99 * 1000:7.1f} ms  status {codes}"
    )
    return responses


def read_codes(outbox: Path) -> dict[str, str]:
    codes = {}
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(("plain",))
        match = CODE.search(body.get_content()) if body else None
        if match:
            codes[str(message["To"])] = match.group(1)
    return codes


async def run(users: int, concurrency: int, max_seconds: float, url: str, outbox: Path) -> None:
    emails = [f"user{i}@bench.example" for i in range(users)]
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await phase(
            "POST /api/otp/generate",
            client,
            [("/api/otp/generate", {"email": e, "operation": "register"}) for e in emails],
            concurrency,
            deadline,
        )
        codes = read_codes(outbox)
        await phase(
            "POST /api/notifications/register",
            client,
            [
                (
                    "/api/notifications/register",
                    {
                        "email": e,
                        "otp": codes[e],
                        "domains": [f"site{i}-{n}.example.com" for n in range(5)],
                    },
                )
                for i, e in enumerate(emails)
                if e in codes
            ],
            concurrency,
            deadline,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--max-seconds", type=float, default=60)
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="domaincheck-bench-") as tmp:
        outbox = Path(tmp) / "outbox"
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/bench.sqlite3",
            "OUTBOX_DIR": str(outbox),
            "OTP_SECRET": "bench-" + "x" * 40,
            "CHECK_INTERVAL_SECONDS": "0",
            "RATE_LIMIT_IP_OTP_PER_HOUR": "1000000",
            "RATE_LIMIT_IP_VERIFY_PER_HOUR": "1000000",
        }
        env.pop("SMTP_HOST", None)
        env.pop("POSTHOG_API_KEY", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "backend", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url)
            database = "SQLite" if not args.database_url else args.database_url.split(":")[0]
            print(
                f"uvicorn (1 worker), {database}, outbox mail, {args.users} users, "
                f"concurrency {args.concurrency}, {os.cpu_count()} CPUs"
            )
            asyncio.run(run(args.users, args.concurrency, args.max_seconds, url, outbox))
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
