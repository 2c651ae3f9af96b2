"""WHOIS etiquette holds per process, not per client: the gate every client shares.

A new :class:`~core.whois.WhoisClient` per request or per batch must not query a
server while another client does, nor sooner than its pace, nor during a backoff;
on other event loops (threads) too. The servers count what they saw; nothing here
measures time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.config import WhoisServer as WhoisServerSetting
from core.errors import ErrorKind, RdapServerError
from core.whois import WhoisClient
from core.whois_gate import WhoisGate
from tests.helpers.whois_server import CORPUS_DIR, ThrottlingWhoisServer, WhoisServer

pytestmark = pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason="the shared corpus is missing")

NAMES = ["google.io", "github.io", "likexian-have-no-money-to-register.io"]


def client(server: WhoisServer, tmp_path: Path, **kwargs: object) -> WhoisClient:
    overrides = (WhoisServerSetting("io", "127.0.0.1", server.port),)
    options: dict[str, object] = {"servers": overrides, "cache_dir": tmp_path}
    options.update(kwargs)
    return WhoisClient(**options)  # type: ignore[arg-type]


async def test_two_clients_never_query_one_server_at_once_or_faster_than_its_pace(
    tmp_path: Path,
) -> None:
    """Like two /api/check requests at once, each with a client of its own."""
    with ThrottlingWhoisServer(min_gap_seconds=0.05) as server:
        clients = [
            client(server, tmp_path / str(n), pace_seconds=0.1, backoff_seconds=0.01)
            for n in range(3)
        ]
        results = await asyncio.gather(
            *(c.lookup(name) for c, name in zip(clients, NAMES, strict=True))
        )
        for c in clients:
            await c.aclose()
    assert [r.error for r in results] == [None, None, "not found in the registry's WHOIS"]
    assert server.refused == 0
    assert server.max_in_flight == 1
    assert sorted(server.queries) == sorted(NAMES)


def test_clients_on_other_threads_and_event_loops_share_it_too(tmp_path: Path) -> None:
    """The desktop checks on worker threads, each with its own event loop."""
    start = threading.Barrier(len(NAMES))
    errors: list[str | None] = []

    def run(name: str, folder: Path) -> None:
        async def look_up() -> str | None:
            async with client(server, folder, pace_seconds=0.1, backoff_seconds=0.01) as c:
                start.wait()
                return (await c.lookup(name)).error

        errors.append(asyncio.run(look_up()))

    with ThrottlingWhoisServer(min_gap_seconds=0.05) as server:
        threads = [threading.Thread(target=run, args=(name, tmp_path / name)) for name in NAMES]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert sorted(map(str, errors)) == ["None", "None", "not found in the registry's WHOIS"]
    assert server.refused == 0
    assert server.max_in_flight == 1


async def test_a_backoff_one_client_got_holds_for_the_next_client(
    tmp_path: Path, _fresh_whois_gate: WhoisGate
) -> None:
    with ThrottlingWhoisServer(min_gap_seconds=600) as server:
        async with client(server, tmp_path / "a", pace_seconds=0, backoff_seconds=30) as first:
            assert (await first.lookup("google.io")).error is None
            task = asyncio.create_task(first.lookup("github.io"))
            async with asyncio.timeout(10):
                while not server.refused:  # "limit exceeded": a 30 s backoff begins
                    await asyncio.sleep(0.01)
            # A new client waits for the turn and then the backoff, not asking now.
            async with client(server, tmp_path / "b", pace_seconds=0) as second:
                waiting = asyncio.create_task(second.lookup(NAMES[2]))
                await asyncio.sleep(0.2)
                assert not waiting.done()
                assert server.queries == ["google.io", "github.io"]
            assert waiting.cancelled()  # closing the client cancelled its lookup
            task.cancel()
    assert _fresh_whois_gate.seconds_to_wait(("127.0.0.1", server.port)) > 20


async def test_a_server_gate_is_held_from_before_the_query_until_the_pace_has_passed(
    tmp_path: Path, _fresh_whois_gate: WhoisGate
) -> None:
    events: list[tuple[str, str, float]] = []

    @contextlib.asynccontextmanager
    async def server_gate(key: str) -> AsyncIterator[None]:
        events.append(("enter", key, 0.0))
        yield
        server = ("127.0.0.1", int(key.rsplit(":", 1)[1]))
        events.append(("exit", key, _fresh_whois_gate.seconds_to_wait(server)))

    with WhoisServer() as server:
        async with client(server, tmp_path, pace_seconds=0.05, server_gate=server_gate) as c:
            await asyncio.gather(c.lookup("google.io"), c.lookup("github.io"))
    key = f"127.0.0.1:{server.port}"
    assert [(what, k) for what, k, _ in events] == [
        ("enter", key),
        ("exit", key),
        ("enter", key),
        ("exit", key),
    ]
    assert all(rest == 0.0 for what, _, rest in events if what == "exit")  # pace waited out


async def test_a_failing_server_gate_is_the_lookups_error_not_an_exception(
    tmp_path: Path,
) -> None:
    @contextlib.asynccontextmanager
    async def server_gate(key: str) -> AsyncIterator[None]:
        raise RdapServerError("the shared WHOIS limit is unavailable (PoolTimeout)")
        yield

    with WhoisServer() as server:
        async with client(server, tmp_path, pace_seconds=0, server_gate=server_gate) as c:
            registration = await c.lookup("google.io")
    assert registration.error == "the shared WHOIS limit is unavailable (PoolTimeout)"
    assert registration.error_kind is ErrorKind.SERVER
    assert server.queries == []


async def test_a_cancelled_waiter_hands_the_turn_on() -> None:
    gate = WhoisGate()
    server = ("whois.example", 43)
    order: list[str] = []

    async def take(name: str) -> None:
        async with gate.turn(server):
            order.append(name)

    async with gate.turn(server):
        cancelled = asyncio.create_task(take("cancelled"))
        later = asyncio.create_task(take("later"))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.sleep(0)
    await asyncio.wait_for(later, 5)
    assert order == ["later"]
    assert cancelled.cancelled()


async def test_a_good_answer_resets_the_backoff() -> None:
    gate = WhoisGate()
    server = ("whois.example", 43)
    async with gate.turn(server) as turn:
        turn.answered(pace_seconds=0, rate_limited=True, backoff_seconds=0)
        turn.answered(pace_seconds=0, rate_limited=True, backoff_seconds=0)
        assert turn.strikes == 2
    async with gate.turn(server) as turn:
        assert turn.strikes == 2  # kept between turns (and clients)
        turn.answered(pace_seconds=0, rate_limited=False, backoff_seconds=0)
        assert turn.strikes == 0
