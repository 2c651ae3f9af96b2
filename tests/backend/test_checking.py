"""One check pipeline for the SQLite run, the queue's batches and ``/api/check``."""

from __future__ import annotations

import asyncio
import collections
import contextlib

import pytest

from backend import checking
from backend.analytics import NullAnalytics
from backend.queue import WorkerRuntime
from backend.reminders import run_checks
from core.config import Settings
from core.models import CheckResult, Target
from tests.backend.conftest import make_settings
from tests.backend.test_reminders import setup  # noqa: F401  (fixture)


@contextlib.asynccontextmanager
async def rdap_gate(server: str):
    yield


@contextlib.asynccontextmanager
async def whois_gate(server: str):
    yield


@pytest.fixture
def checkers(monkeypatch, clock):
    """The clients each ``Checker`` of the backend was given, as ``(rdap, whois)``."""
    seen: list[tuple[object, object]] = []

    class RecordingChecker:
        def __init__(self, settings, *, rdap=None, whois=None, **kwargs) -> None:
            seen.append((rdap, whois))

        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc) -> None:
            return None

        async def stream(self, targets):
            for target in targets:
                yield CheckResult(target, None, None, clock())

    monkeypatch.setattr(checking, "Checker", RecordingChecker)
    return seen


def test_the_sqlite_run_applies_the_per_server_rdap_limit(
    setup,  # noqa: F811
    checkers,
    mailer,
    clock,
    database_url,
):
    """The in-process run used to build its clients apart and forgot the limit."""
    _, _, sessions = setup
    asyncio.run(
        run_checks(
            sessions,
            settings=make_settings(database_url, rdap_per_server_limit=2),
            mailer=mailer,
            analytics=NullAnalytics(),
            core_settings=Settings(),
            clock=clock,
        )
    )
    [(rdap, whois)] = checkers
    assert rdap._per_server_limit == 2
    assert whois is not None and whois._server_gate is None


def test_a_worker_shares_the_rdap_limit_and_whois_turns_across_processes(checkers, sqlite_url):
    runtime = WorkerRuntime(
        settings=make_settings(sqlite_url, rdap_per_server_limit=3),
        session_factory=None,
        mailer=None,
        analytics=None,
        core_settings=Settings(),
        slots=rdap_gate,
        whois_slots=whois_gate,
    )
    results = asyncio.run(runtime.check([Target("a.test")]))
    assert list(results) == [("a.test", 443)]
    [(rdap, whois)] = checkers
    assert (rdap._per_server_limit, rdap._server_gate) == (3, rdap_gate)
    assert whois._server_gate is whois_gate


def test_without_rdap_or_whois_no_client_is_built():
    async def build():
        return (
            checking.rdap_client(Settings(check_rdap=False)),
            checking.whois_client(Settings(check_whois=False)),
            checking.whois_client(Settings(check_rdap=False)),
        )

    assert asyncio.run(build()) == (None, None, None)


def test_a_deadline_client_answers_timed_out_once_the_deadline_passed():
    from core.errors import ErrorKind

    async def lookup():
        client = checking.whois_client(Settings(), deadline_seconds=0)
        assert isinstance(client, checking.DeadlineWhoisClient)
        async with client:
            registration = await client.lookup("Late.IO.")
            assert client.sent == collections.deque()  # no query was even started
            return registration

    registration = asyncio.run(lookup())
    assert (registration.registrable_domain, registration.error_kind, registration.method) == (
        "late.io",
        ErrorKind.TIMEOUT,
        "whois",
    )
