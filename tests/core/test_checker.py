"""The concurrent engine (core/checker.py), with injected TLS/RDAP fakes and the world."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from core.checker import Checker, Progress, check_all
from core.config import Settings
from core.models import CertInfo, Registration, Status, Target
from core.tls import Handshake
from tests.helpers.world import LoopbackWorld

NOW = datetime(2026, 11, 23, tzinfo=UTC)


class FakeTls:
    """Answers after ``delay``; records how many checks run at once."""

    def __init__(self, delay: float = 0.0, fail_on: str | None = None, record: bool = True) -> None:
        self.delay = delay
        self.record = record
        self.fail_on = fail_on
        self.running = 0
        self.max_running = 0
        self.started: list[str] = []
        self.cancelled = 0

    async def check(self, target: Target) -> CertInfo:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        if self.record:
            self.started.append(target.host)
        try:
            if target.host == self.fail_on:
                raise RuntimeError("bug in the checker")
            await asyncio.sleep(self.delay)
            return CertInfo(not_after=NOW + timedelta(days=90), trusted=True, hostname_match=True)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running -= 1

    async def inspect(self, target: Target) -> Handshake:
        return Handshake(await self.check(target))

    def close(self) -> None:
        pass


class FakeRdap:
    def __init__(self) -> None:
        self.lookups = 0

    async def lookup(self, target: Target) -> Registration:
        self.lookups += 1
        return Registration(registrable_domain=target.host, expires=NOW + timedelta(days=200))

    async def aclose(self) -> None:
        pass


def targets(count: int) -> list[Target]:
    return [Target(f"host{i:05d}.example") for i in range(count)]


def make_checker(tls: FakeTls, concurrency: int = 10, **kw: object) -> Checker:
    return Checker(
        Settings(concurrency=concurrency, **kw),  # type: ignore[arg-type]
        tls=tls,  # type: ignore[arg-type]
        rdap=FakeRdap(),  # type: ignore[arg-type]
        clock=lambda: NOW,
    )


async def test_every_target_once_with_bounded_concurrency() -> None:
    tls = FakeTls(delay=0.001)
    seen: list[str] = []
    async with make_checker(tls, concurrency=7) as checker:
        async for result in checker.stream(targets(100)):
            seen.append(result.target.host)
    assert sorted(seen) == [t.host for t in targets(100)]
    assert tls.max_running == 7


async def test_results_stream_in_completion_order() -> None:
    class Staggered(FakeTls):
        async def check(self, target: Target) -> CertInfo:
            await asyncio.sleep(0.05 if target.host == "slow.example" else 0)
            return await super().check(target)

    order: list[str] = []
    async with make_checker(Staggered(), concurrency=5) as checker:
        async for result in checker.stream([Target("slow.example"), Target("fast.example")]):
            order.append(result.target.host)
    assert order == ["fast.example", "slow.example"]


async def test_progress_reports_every_result() -> None:
    progress: list[Progress] = []
    async with make_checker(FakeTls()) as checker:
        async for _ in checker.stream(targets(5), on_progress=progress.append):
            pass
    assert progress == [Progress(i, 5) for i in range(1, 6)]
    unsized: list[Progress] = []
    async with make_checker(FakeTls()) as checker:
        async for _ in checker.stream(iter(targets(3)), on_progress=unsized.append):
            pass
    assert unsized[-1] == Progress(3, None)


async def test_leaving_the_stream_cancels_checks_in_flight() -> None:
    tls = FakeTls(delay=30)
    async with make_checker(tls, concurrency=4) as checker:
        stream = checker.stream(targets(50))
        task = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.05)
        assert tls.running == 4
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await stream.aclose()
    assert tls.running == 0
    assert tls.cancelled == 4
    assert len(tls.started) == 4  # nothing else was started


async def test_a_bug_costs_one_row_not_the_run() -> None:
    tls = FakeTls(fail_on="host00001.example")
    results = await check_all(targets(3), Settings(), tls=tls, rdap=FakeRdap(), clock=lambda: NOW)
    assert [r.target.host for r in results] == [t.host for t in targets(3)]
    assert results[1].status is Status.ERROR
    assert results[1].tls is not None and results[1].tls.error == (
        "unexpected error (RuntimeError)"
    )
    assert results[0].status is Status.VALID


async def test_empty_input() -> None:
    async with make_checker(FakeTls()) as checker:
        assert [r async for r in checker.stream([])] == []


async def test_switches_skip_components() -> None:
    results = await check_all(targets(1), Settings(check_tls=False, check_rdap=False))
    assert results[0].tls is None and results[0].registration is None


async def _peak_bytes(count: int) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        async with make_checker(FakeTls(record=False), concurrency=200) as checker:
            async for _ in checker.stream(Target(f"h{i}.example") for i in range(count)):
                pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_memory_stays_flat_for_10000_targets() -> None:
    """Peak memory is bounded by the pool, not by the number of targets."""
    small = await _peak_bytes(1_000)
    large = await _peak_bytes(10_000)
    assert large < small * 1.5, (small, large)


async def test_real_world_tls_and_rdap_overlap(world: LoopbackWorld) -> None:
    results = await check_all(
        [Target("valid.test"), Target("regexpiring.test"), Target("closed.test")],
        world.settings(timeout_seconds=2),
    )
    assert [r.status for r in results] == [Status.VALID, Status.EXPIRING, Status.ERROR]
    assert results[1].registration is not None
    assert results[1].registration.registrar == "Test Registrar, Inc."


async def test_a_stray_cancellation_from_a_shared_lookup_costs_one_row() -> None:
    """Only cancelling the run stops it; a cancelled shared future must not hang it."""

    class CancelledElsewhere(FakeRdap):
        async def lookup(self, target: Target) -> Registration:
            if target.host == "host00001.example":
                shared: asyncio.Future[Registration] = asyncio.get_running_loop().create_future()
                shared.cancel()  # e.g. the client closed while the lookup was shared
                return await shared
            return await super().lookup(target)

    checker = Checker(
        Settings(concurrency=2),
        tls=FakeTls(),  # type: ignore[arg-type]
        rdap=CancelledElsewhere(),  # type: ignore[arg-type]
        clock=lambda: NOW,
    )
    async with checker:
        results = [r async for r in checker.stream(targets(4))]
    assert len(results) == 4
    stray = next(r for r in results if r.target.host == "host00001.example")
    assert stray.registration == Registration(error="lookup was cancelled")
    assert stray.status is Status.ERROR
