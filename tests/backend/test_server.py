"""``serve``'s uvicorn: slow or silent clients are dropped, connections are capped.

Raw sockets on loopback; every wait is bounded by a socket timeout.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from backend.app import create_app
from backend.server import RequestTimeoutProtocol, uvicorn_config
from tests.backend.conftest import TEST_SECRET, make_settings
from tests.helpers.backend_server import free_port, serve

GIVE_UP_SECONDS = 10.0


def connect(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=GIVE_UP_SECONDS)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """``True`` once the server closes; ``False`` if it is still open after the bound."""
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


@pytest.fixture
def served(sqlite_url):
    settings = make_settings(
        sqlite_url,
        http_request_timeout_seconds=1,
        http_keep_alive_seconds=1,
        http_max_connections=4,
    )
    with serve(create_app(settings), settings=settings) as base_url:
        yield base_url


def test_a_silent_connection_is_closed(served):
    with connect(served) as sock:
        assert closed_by_server(sock)


def test_a_request_that_never_completes_is_closed(served):
    """Slowloris: headers trickle in and never end."""
    with connect(served) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert closed_by_server(sock)


def test_a_complete_request_is_answered_then_idle_keep_alive_closes(served):
    with connect(served) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        assert closed_by_server(sock)


def test_connections_beyond_the_cap_get_503(served):
    idle = [connect(served) for _ in range(4)]
    try:
        with connect(served) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert extra.recv(4096).startswith(b"HTTP/1.1 503")
    finally:
        for sock in idle:
            sock.close()


def test_serve_uses_the_configured_protocol(sqlite_url):
    settings = make_settings(sqlite_url, http_request_timeout_seconds=7, http_max_connections=9)
    config = uvicorn_config(object(), settings, host="127.0.0.1", port=1)
    assert config.http is RequestTimeoutProtocol
    assert config.request_timeout_seconds == 7
    assert config.limit_concurrency == 9


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_serve_runs_several_workers(tmp_path, sqlite_url):
    """``serve --workers 2``: two processes answer on one port, sharing only the database."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "OTP_SECRET": TEST_SECRET,
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "CHECK_INTERVAL_SECONDS": "0",
        "AUTO_MIGRATE": "false",
    }
    command = [sys.executable, "-m", "backend", "serve", "--port", str(port), "--workers", "2"]
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        statuses: list[int] = []
        while time.monotonic() < deadline and len(statuses) < 10:
            try:
                statuses.append(httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code)
            except httpx.TransportError:
                time.sleep(0.2)
        assert statuses == [200] * 10, log.read_text()
        workers = [
            pid
            for pid in _children(process.pid)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 2
        # A code requested through one worker is known to all: state lives in the database.
        for _ in range(3):
            response = httpx.post(
                f"http://127.0.0.1:{port}/api/otp/generate",
                json={"email": "jane@example.com", "operation": "register"},
                timeout=10,
            )
            assert response.status_code == 200
        assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
