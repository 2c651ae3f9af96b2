"""core.rdap against a real loopback RDAP server, and httpx.MockTransport for the
parts that would otherwise go online (the IANA bootstrap refresh)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from core import paths, rdap
from core.config import Settings
from core.errors import RdapError
from core.models import Registration, Status, Target, registration_status
from core.paths import resource
from core.public_http import PublicOnlyTransport
from core.rdap import (
    BOOTSTRAP_URL,
    CACHE_TTL_SECONDS,
    MAX_RETRIES,
    Bootstrap,
    RdapClient,
    registrable_domain,
)
from tests.helpers.rdap_server import RdapServer, domain_object, write_bootstrap

EXPIRES = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
MOCK_BASE = "https://rdap.registry.test/v1/"

ClientFactory = Callable[..., RdapClient]


class FakeClock:
    """A settable aware-UTC clock."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 7, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def server() -> Any:
    with RdapServer() as srv:
        yield srv


@pytest.fixture
def bootstrap_file(tmp_path: Path, server: RdapServer) -> Path:
    return write_bootstrap(tmp_path / "dns.json", {"test": server.base_url})


@pytest.fixture
async def make_client(tmp_path: Path, bootstrap_file: Path) -> AsyncIterator[ClientFactory]:
    """RdapClients on the loopback bootstrap and a shared cache folder, closed after."""
    created: list[RdapClient] = []

    def factory(**kwargs: Any) -> RdapClient:
        kwargs.setdefault("bootstrap", str(bootstrap_file))
        kwargs.setdefault("cache_dir", tmp_path / "cache")
        kwargs.setdefault("refresh_bootstrap", False)
        client = RdapClient(**kwargs)
        created.append(client)
        return client

    yield factory
    for client in created:
        await client.aclose()


def mock_client(
    tmp_path: Path, handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any
) -> RdapClient:
    """A client whose every request goes to ``handler``; ``.test`` → MOCK_BASE."""
    kwargs.setdefault(
        "bootstrap", str(write_bootstrap(tmp_path / "mock.json", {"test": MOCK_BASE}))
    )
    kwargs.setdefault("cache_dir", tmp_path / "cache")
    kwargs.setdefault("refresh_bootstrap", False)
    return RdapClient(transport=httpx.MockTransport(handler), **kwargs)


def rdap_json(body: dict[str, Any], status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"Content-Type": "application/rdap+json"})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- parsing


async def test_expiry_and_registrar_are_parsed(
    server: RdapServer, make_client: ClientFactory
) -> None:
    server.add_domain("example.test", EXPIRES, registrar="Example Registrar, LLC")

    async with make_client() as client:
        reg = await client.lookup(Target("www.example.test"))

    assert reg == Registration(
        registrable_domain="example.test",
        expires=EXPIRES,
        registrar="Example Registrar, LLC",
        source=server.domain_url("example.test"),
        method="rdap",
        statuses=("clientTransferProhibited",),
        nameservers=("ns1.example.test",),
    )
    assert server.request_log == [server.domain_path("example.test")]


async def test_request_asks_for_rdap_json(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return rdap_json(domain_object("example.test", EXPIRES, "R"))

    async with mock_client(tmp_path, handler) as client:
        await client.lookup(Target("example.test"))

    assert [str(r.url) for r in seen] == [f"{MOCK_BASE}domain/example.test"]
    assert seen[0].headers["Accept"] == "application/rdap+json"


@pytest.mark.parametrize(
    ("event_date", "expected"),
    [
        ("2031-05-06T07:08:09Z", EXPIRES),
        ("2031-05-06T09:08:09+02:00", EXPIRES),
        ("2031-05-06T07:08:09.123456789Z", EXPIRES.replace(microsecond=123456)),
        ("2031-05-06t07:08:09z", EXPIRES),
        ("2031-05-06T07:08:09", EXPIRES),  # no offset: taken as UTC
    ],
)
async def test_expiry_date_formats(tmp_path: Path, event_date: str, expected: datetime) -> None:
    body = domain_object("example.test", None, "R")
    body["events"].append({"eventAction": "expiration", "eventDate": event_date})

    async with mock_client(tmp_path, lambda request: rdap_json(body)) as client:
        reg = await client.lookup(Target("example.test"))

    assert reg.expires == expected
    assert reg.expires is not None and reg.expires.tzinfo is UTC


async def test_unreadable_expiry_date_is_an_error(tmp_path: Path) -> None:
    body = domain_object("example.test", None, "R")
    body["events"].append({"eventAction": "expiration", "eventDate": "next tuesday"})

    async with mock_client(tmp_path, lambda request: rdap_json(body)) as client:
        reg = await client.lookup(Target("example.test"))

    assert reg.error == "registry sent an unreadable expiry date: 'next tuesday'"
    assert not reg.unknown


@pytest.mark.parametrize(
    ("entity", "expected"),
    [
        (
            {
                "roles": ["registrar"],
                "handle": "292",
                "publicIds": [{"type": "IANA Registrar ID", "identifier": "292"}],
            },
            "IANA Registrar ID 292",
        ),
        ({"roles": ["registrar"], "handle": "REG-7"}, "REG-7"),
        ({"roles": ["registrant"], "vcardArray": ["vcard", [["fn", {}, "text", "Me"]]]}, None),
    ],
)
async def test_registrar_fallbacks(
    tmp_path: Path, entity: dict[str, Any], expected: str | None
) -> None:
    body = domain_object("example.test", EXPIRES, None)
    body["entities"] = [{"objectClassName": "entity", **entity}]

    async with mock_client(tmp_path, lambda request: rdap_json(body)) as client:
        reg = await client.lookup(Target("example.test"))

    assert reg.registrar == expected
    assert reg.expires == EXPIRES


async def test_missing_expiration_event_is_unknown(
    server: RdapServer, make_client: ClientFactory
) -> None:
    server.add_domain("forever.test", None)

    async with make_client() as client:
        reg = await client.lookup(Target("forever.test"))

    assert reg.unknown
    assert reg.expires is None
    assert reg.error == "registry publishes no expiry date"
    assert reg.registrar == "Test Registrar, Inc."
    assert registration_status(reg, datetime.now(UTC), 30) is Status.UNKNOWN


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"[1, 2]", b"\xff\xfe"])
async def test_invalid_json_is_an_error(tmp_path: Path, body: bytes) -> None:
    async with mock_client(tmp_path, lambda request: httpx.Response(200, content=body)) as client:
        reg = await client.lookup(Target("example.test"))

    assert reg.error is not None and "JSON" in reg.error
    assert not reg.unknown
    assert registration_status(reg, datetime.now(UTC), 30) is Status.ERROR


# --------------------------------------------------------------------------- statuses


async def test_not_found_is_unknown(server: RdapServer, make_client: ClientFactory) -> None:
    async with make_client() as client:
        reg = await client.lookup(Target("nobody.test"))

    assert reg.unknown
    assert reg.error == "not found in the registry's RDAP"
    assert reg.registrable_domain == "nobody.test"
    assert reg.source == server.domain_url("nobody.test")
    assert server.request_log == [server.domain_path("nobody.test")]


async def test_tld_without_rdap_is_unknown(server: RdapServer, make_client: ClientFactory) -> None:
    async with make_client() as client:
        reg = await client.lookup(Target("www.example.invalid"))

    assert reg.unknown
    assert reg.error == "no RDAP service for .invalid"
    assert server.request_log == []


async def test_server_error_is_an_error_and_not_cached(
    server: RdapServer, make_client: ClientFactory
) -> None:
    server.add_domain("broken.test", EXPIRES)
    server.set_status("broken.test", 500)

    async with make_client() as client:
        reg = await client.lookup(Target("broken.test"))
    assert reg.error == "RDAP server error (HTTP 500)"
    assert not reg.unknown
    assert reg.source == server.domain_url("broken.test")
    assert registration_status(reg, datetime.now(UTC), 30) is Status.ERROR

    server.set_status("broken.test", 200)  # 200 = answer normally again
    async with make_client() as client:
        reg = await client.lookup(Target("broken.test"))
    assert reg.expires == EXPIRES
    assert len(server.request_log) == 2


async def test_connection_refused_is_an_error(tmp_path: Path, make_client: ClientFactory) -> None:
    port = free_port()
    bootstrap = write_bootstrap(tmp_path / "dead.json", {"test": f"http://127.0.0.1:{port}/"})

    async with make_client(bootstrap=str(bootstrap)) as client:
        reg = await client.lookup(Target("example.test"))

    assert reg.error is not None
    assert reg.error.startswith(f"cannot connect to 127.0.0.1:{port}")
    assert not reg.unknown


async def test_slow_server_times_out(server: RdapServer, make_client: ClientFactory) -> None:
    server.add_domain("slow.test", EXPIRES)
    server.response_delay_seconds = 0.5

    async with make_client(timeout_seconds=0.1) as client:
        reg = await client.lookup(Target("slow.test"))

    assert reg.error == f"127.0.0.1:{server.port} did not answer in time"
    assert not reg.unknown


async def test_ip_target_has_no_registration(make_client: ClientFactory) -> None:
    async with make_client() as client:
        reg = await client.lookup(Target("192.0.2.1", is_ip=True))

    assert reg == Registration(unknown=True, error="IP addresses have no domain registration")


async def test_registration_expiring_in_ten_days_is_expiring(
    server: RdapServer, make_client: ClientFactory
) -> None:
    now = datetime.now(UTC)
    server.add_domain("soon.test", now + timedelta(days=10, hours=1))

    async with make_client() as client:
        reg = await client.lookup(Target("soon.test"))

    assert registration_status(reg, now, 30) is Status.EXPIRING
    assert registration_status(reg, now, 5) is Status.VALID


# --------------------------------------------------------------------------- 429


async def test_rate_limit_is_honoured_then_succeeds(
    server: RdapServer, make_client: ClientFactory
) -> None:
    server.add_domain("busy.test", EXPIRES)
    server.rate_limit("busy.test", times=1, retry_after=1)

    async with make_client() as client:
        started = time.monotonic()
        reg = await client.lookup(Target("busy.test"))
        elapsed = time.monotonic() - started

    assert reg.expires == EXPIRES
    assert reg.error is None
    assert server.request_log == [server.domain_path("busy.test")] * 2
    assert elapsed >= 0.9


async def test_retry_after_holds_back_other_lookups_to_that_server(
    server: RdapServer, make_client: ClientFactory
) -> None:
    server.add_domain("first.test", EXPIRES)
    server.add_domain("second.test", EXPIRES)
    server.rate_limit("first.test", times=1, retry_after=1)

    async with make_client() as client:
        started = time.monotonic()
        first = asyncio.create_task(client.lookup(Target("first.test")))
        await asyncio.sleep(0.2)  # first.test has had its 429 by now
        second = await client.lookup(Target("second.test"))
        second_done = time.monotonic() - started
        assert (await first).expires == EXPIRES

    assert second.expires == EXPIRES
    assert second_done >= 0.9
    assert server.request_log[0] == server.domain_path("first.test")


async def test_endless_rate_limit_gives_up_after_bounded_retries(
    server: RdapServer, make_client: ClientFactory
) -> None:
    server.add_domain("busy.test", EXPIRES)
    server.rate_limit("busy.test", times=1000, retry_after=0)

    async with make_client() as client:
        reg = await client.lookup(Target("busy.test"))

    assert reg.error == "rate-limited by the registry; try again in 1 s"
    assert not reg.unknown
    assert len(server.request_log) == 1 + MAX_RETRIES


async def test_long_retry_after_is_not_waited_for(
    server: RdapServer, make_client: ClientFactory
) -> None:
    server.add_domain("busy.test", EXPIRES)
    server.rate_limit("busy.test", times=1, retry_after=31)

    async with make_client() as client:
        started = time.monotonic()
        reg = await client.lookup(Target("busy.test"))

    assert time.monotonic() - started < 5
    assert reg.error == "rate-limited by the registry; try again in 31 s"
    assert len(server.request_log) == 1


async def test_rate_limit_answer_is_not_cached(
    server: RdapServer, make_client: ClientFactory
) -> None:
    server.add_domain("busy.test", EXPIRES)
    server.rate_limit("busy.test", times=1, retry_after=3600)

    async with make_client() as client:
        assert (await client.lookup(Target("busy.test"))).error is not None
    async with make_client() as client:
        assert (await client.lookup(Target("busy.test"))).expires == EXPIRES
    assert len(server.request_log) == 2


async def test_retry_after_as_http_date(tmp_path: Path) -> None:
    clock = FakeClock()
    retry_at = {"busy.test": clock.now, "later.test": clock.now + timedelta(hours=1)}
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[-1]
        calls.append(name)
        if calls.count(name) == 1:
            date = format_datetime(retry_at[name], usegmt=True)
            return httpx.Response(429, headers={"Retry-After": date})
        return rdap_json(domain_object(name, EXPIRES, "R"))

    async with mock_client(tmp_path, handler, clock=clock) as client:
        now_reg = await client.lookup(Target("busy.test"))
        later_reg = await client.lookup(Target("later.test"))

    assert now_reg.expires == EXPIRES
    assert later_reg.error == "rate-limited by the registry; try again in 3600 s"
    assert calls == ["busy.test", "busy.test", "later.test"]


# --------------------------------------------------------------------------- redirects


async def test_redirect_is_followed(server: RdapServer, make_client: ClientFactory) -> None:
    with RdapServer(base_path="/registrar/") as registrar:
        registrar.add_domain("moved.test", EXPIRES, registrar="Elsewhere Ltd")
        server.redirect("moved.test", registrar.domain_url("moved.test"))

        async with make_client() as client:
            reg = await client.lookup(Target("moved.test"))

        assert reg.expires == EXPIRES
        assert reg.registrar == "Elsewhere Ltd"
        assert reg.source == registrar.domain_url("moved.test")
        assert server.request_log == [server.domain_path("moved.test")]
        assert registrar.request_log == [registrar.domain_path("moved.test")]


async def test_redirect_loop_is_bounded(server: RdapServer, make_client: ClientFactory) -> None:
    server.redirect("loop.test", server.domain_url("loop.test"))

    async with make_client() as client:
        reg = await client.lookup(Target("loop.test"))

    assert reg.error == f"too many redirects from 127.0.0.1:{server.port}"
    assert len(server.request_log) == rdap.MAX_REDIRECTS + 1


# --------------------------------------------------------------------------- bootstrap


async def test_http_base_without_trailing_slash(
    tmp_path: Path, server: RdapServer, make_client: ClientFactory
) -> None:
    server.add_domain("example.test", EXPIRES)
    base = server.base_url.rstrip("/")
    assert base.startswith("http://")
    bootstrap = write_bootstrap(tmp_path / "noslash.json", {"test": base})

    async with make_client(bootstrap=str(bootstrap)) as client:
        reg = await client.lookup(Target("example.test"))

    assert reg.expires == EXPIRES
    assert reg.source == server.domain_url("example.test")


async def test_longest_bootstrap_suffix_wins(
    tmp_path: Path, server: RdapServer, make_client: ClientFactory
) -> None:
    with RdapServer() as second_level:
        second_level.add_domain("example.co.uk", EXPIRES)
        bootstrap = write_bootstrap(
            tmp_path / "uk.json", {"uk": server.base_url, "co.uk": second_level.base_url}
        )

        async with make_client(bootstrap=str(bootstrap)) as client:
            reg = await client.lookup(Target("www.example.co.uk"))

        assert reg.expires == EXPIRES
        assert second_level.request_log == [second_level.domain_path("example.co.uk")]
        assert server.request_log == []


def test_bootstrap_prefers_https_and_longest_match() -> None:
    document = {
        "services": [
            [["uk"], ["http://plain.example/", "https://secure.example/uk/"]],
            [["co.uk", "org.uk"], ["https://second.example/"]],
            [["bad"], ["ftp://nope.example/"]],
        ]
    }
    bootstrap = Bootstrap.parse(json.dumps(document).encode())

    assert bootstrap.base_urls("example.uk") == (
        "https://secure.example/uk/",
        "http://plain.example/",
    )
    assert bootstrap.base_urls("example.co.uk") == ("https://second.example/",)
    assert bootstrap.base_urls("example.bad") == ()
    assert bootstrap.base_urls("example.com") == ()


VERISIGN = "https://rdap.verisign.com/com/v1/"


@pytest.fixture
def bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the bootstrap file bundled with a release build (``make dist`` puts
    one in its ``resources/``; a source checkout has none)."""
    folder = tmp_path / "bundle-resources"
    folder.mkdir()
    write_bootstrap(folder / rdap.BOOTSTRAP_FILE_NAME, {"com": VERISIGN})
    monkeypatch.setattr(paths, "resources_dir", lambda: folder)
    return folder


def test_a_source_checkout_ships_no_copy_of_ianas_data() -> None:
    assert not resource(rdap.BOOTSTRAP_FILE_NAME).exists()


async def test_without_any_copy_lookups_say_it_is_fetched_on_first_use(tmp_path: Path) -> None:
    world, clock = IanaWorld(tmp_path), FakeClock()
    world.bootstrap_status = 503  # offline, in effect

    async with world.client(clock) as client:
        reg = await client.lookup(Target("example.com"))

    assert reg.expires is None and not reg.unknown
    assert reg.error is not None and "fetched from" in reg.error and "on first use" in reg.error


async def test_unreadable_explicit_bootstrap_file_is_reported(make_client: ClientFactory) -> None:
    async with make_client(bootstrap="/nonexistent/dns.json") as client:
        with pytest.raises(RdapError, match="cannot read the RDAP bootstrap file"):
            await client.load_bootstrap()
        reg = await client.lookup(Target("example.test"))

    assert reg.error is not None
    assert reg.error.startswith("cannot read the RDAP bootstrap file")
    assert not reg.unknown


async def test_explicit_bootstrap_that_is_not_one(
    tmp_path: Path, make_client: ClientFactory
) -> None:
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"hello": "world"}')

    async with make_client(bootstrap=str(bogus)) as client:
        reg = await client.lookup(Target("example.test"))

    assert reg.error == f'{bogus} is not an IANA RDAP bootstrap file: no "services" list'


async def test_explicit_bootstrap_url(tmp_path: Path) -> None:
    document = json.loads(write_bootstrap(tmp_path / "b.json", {"test": MOCK_BASE}).read_text())
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        if request.url.host == "bootstrap.example":
            if request.url.path == "/dns.json":
                return httpx.Response(200, json=document)
            return httpx.Response(404)
        return rdap_json(domain_object("example.test", EXPIRES, "R"))

    async with mock_client(tmp_path, handler, bootstrap="https://bootstrap.example/dns.json") as c:
        reg = await c.lookup(Target("example.test"))
        again = await c.lookup(Target("other.test"))
    assert reg.expires == EXPIRES and again.expires == EXPIRES
    assert requested.count("https://bootstrap.example/dns.json") == 1

    async with mock_client(tmp_path, handler, bootstrap="https://bootstrap.example/gone") as c:
        reg = await c.lookup(Target("not-cached.test"))
    assert (
        reg.error == "cannot fetch the RDAP bootstrap file https://bootstrap.example/gone: HTTP 404"
    )


async def test_from_settings(bootstrap_file: Path, server: RdapServer, tmp_path: Path) -> None:
    server.add_domain("example.test", EXPIRES)
    settings = Settings(rdap_bootstrap=str(bootstrap_file), timeout_seconds=5)

    async with RdapClient.from_settings(settings, cache_dir=tmp_path, refresh_bootstrap=False) as c:
        reg = await c.lookup(Target("example.test"))

    assert reg.expires == EXPIRES


class IanaWorld:
    """MockTransport for the IANA bootstrap URL plus any RDAP server."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.bootstrap_fetches = 0
        self.bootstrap_status = 200
        self.bootstrap: dict[str, Any] = self.document({"test": MOCK_BASE})
        self.rdap_requests: list[str] = []

    def document(self, services: dict[str, str], publication: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(
            write_bootstrap(self.tmp_path / "iana.json", services).read_text()
        )
        if publication is not None:
            doc["publication"] = publication
        return doc

    def handler(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == BOOTSTRAP_URL:
            self.bootstrap_fetches += 1
            if self.bootstrap_status != 200:
                return httpx.Response(self.bootstrap_status)
            return httpx.Response(200, json=self.bootstrap)
        self.rdap_requests.append(str(request.url))
        name = request.url.path.rsplit("/", 1)[-1]
        return rdap_json(domain_object(name, EXPIRES, "R"))

    def client(self, clock: FakeClock, **kwargs: Any) -> RdapClient:
        kwargs.setdefault("refresh_bootstrap", True)
        return RdapClient(
            transport=httpx.MockTransport(self.handler),
            cache_dir=self.tmp_path / "cache",
            clock=clock,
            **kwargs,
        )


async def test_bootstrap_refresh_is_used_and_cached_for_a_day(tmp_path: Path) -> None:
    world, clock = IanaWorld(tmp_path), FakeClock()

    async with world.client(clock) as client:  # no cached copy: fetch it, once
        regs = await asyncio.gather(*(client.lookup(Target(f"d{i}.test")) for i in range(5)))
    assert all(reg.expires == EXPIRES for reg in regs)  # .test only exists in the fetched copy
    assert world.bootstrap_fetches == 1
    assert (tmp_path / "cache" / rdap.BOOTSTRAP_FILE_NAME).is_file()

    clock.advance(hours=23)
    async with world.client(clock) as client:  # fresh cached copy: no fetch
        assert (await client.lookup(Target("fresh.test"))).expires == EXPIRES
    assert world.bootstrap_fetches == 1

    clock.advance(hours=2)
    world.bootstrap = world.document({"test": "https://new-registry.test/"})
    async with world.client(clock) as client:  # stale: fetched again, new copy used
        reg = await client.lookup(Target("stale.test"))
    assert world.bootstrap_fetches == 2
    assert reg.source == "https://new-registry.test/domain/stale.test"


async def test_bootstrap_refresh_failure_falls_back_to_shipped_copy(
    tmp_path: Path, bundled: Path
) -> None:
    world, clock = IanaWorld(tmp_path), FakeClock()
    world.bootstrap_status = 503

    async with world.client(clock) as client:
        com = await client.lookup(Target("www.example.com"))
        test = await client.lookup(Target("example.test"))
    assert com.expires == EXPIRES
    assert com.source == "https://rdap.verisign.com/com/v1/domain/example.com"
    assert test.error == "no RDAP service for .test"
    assert world.bootstrap_fetches == 1

    clock.advance(hours=12)
    async with world.client(clock) as client:  # failed attempts also wait a day
        await client.lookup(Target("another.com"))
    assert world.bootstrap_fetches == 1

    clock.advance(hours=13)
    world.bootstrap_status = 200
    async with world.client(clock) as client:
        assert (await client.lookup(Target("example.test"))).expires == EXPIRES
    assert world.bootstrap_fetches == 2


async def test_bootstrap_refresh_rejects_garbage(tmp_path: Path, bundled: Path) -> None:
    world, clock = IanaWorld(tmp_path), FakeClock()
    world.bootstrap = {"not": "a bootstrap file"}

    async with world.client(clock) as client:
        reg = await client.lookup(Target("example.com"))

    assert reg.expires == EXPIRES  # shipped copy
    assert not (tmp_path / "cache" / rdap.BOOTSTRAP_FILE_NAME).exists()


async def test_older_cached_bootstrap_loses_to_shipped_copy(tmp_path: Path, bundled: Path) -> None:
    world, clock = IanaWorld(tmp_path), FakeClock()
    world.bootstrap = world.document({"com": "https://old.example/"}, "2000-01-01T00:00:00Z")

    async with world.client(clock) as client:  # just fetched: used as is
        assert (await client.lookup(Target("a.com"))).source == "https://old.example/domain/a.com"
    async with world.client(clock) as client:  # later run: the shipped copy is newer
        reg = await client.lookup(Target("b.com"))
    assert reg.source == "https://rdap.verisign.com/com/v1/domain/b.com"
    assert world.bootstrap_fetches == 1


async def test_refresh_can_be_switched_off(tmp_path: Path, bundled: Path) -> None:
    world, clock = IanaWorld(tmp_path), FakeClock()

    async with world.client(clock, refresh_bootstrap=False) as client:
        reg = await client.lookup(Target("example.com"))

    assert reg.expires == EXPIRES
    assert world.bootstrap_fetches == 0


# --------------------------------------------------------------------------- caching


async def test_second_run_uses_disk_cache(server: RdapServer, make_client: ClientFactory) -> None:
    server.add_domain("example.test", EXPIRES)

    async with make_client() as client:
        first = await client.lookup(Target("example.test"))
        missing = await client.lookup(Target("nobody.test"))
    async with make_client() as client:
        assert await client.lookup(Target("www.example.test")) == first
        assert await client.lookup(Target("nobody.test")) == missing

    assert missing.unknown
    assert len(server.request_log) == 2


async def test_expired_cache_entry_is_refetched(
    server: RdapServer, make_client: ClientFactory
) -> None:
    server.add_domain("example.test", EXPIRES)
    clock = FakeClock()

    async with make_client(clock=clock) as client:
        await client.lookup(Target("example.test"))
    clock.advance(seconds=CACHE_TTL_SECONDS - 60)
    async with make_client(clock=clock) as client:
        await client.lookup(Target("example.test"))
    assert len(server.request_log) == 1

    clock.advance(hours=1)  # 25 h after the first fetch
    async with make_client(clock=clock) as client:
        reg = await client.lookup(Target("example.test"))
    assert reg.expires == EXPIRES
    assert len(server.request_log) == 2


async def test_long_lived_client_refetches_after_a_day(
    server: RdapServer, make_client: ClientFactory
) -> None:
    server.add_domain("example.test", EXPIRES)
    clock = FakeClock()

    async with make_client(clock=clock) as client:
        await client.lookup(Target("example.test"))
        clock.advance(hours=25)
        await client.lookup(Target("example.test"))

    assert len(server.request_log) == 2


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"not json",
        b'{"version": 1}',
        b"[]",
        b'{"version": 1, "domain": "example.test", "fetched_at": "2026-07-01T12:00:00+00:00",'
        b' "registration": {"expires": 12, "registrar": null, "source": null, "error": null,'
        b' "unknown": false, "registrable_domain": "example.test"}}',
    ],
)
async def test_corrupt_cache_entry_is_ignored(
    server: RdapServer, make_client: ClientFactory, tmp_path: Path, garbage: bytes
) -> None:
    server.add_domain("example.test", EXPIRES)
    clock = FakeClock()

    async with make_client(clock=clock) as client:
        await client.lookup(Target("example.test"))
    (entry,) = (tmp_path / "cache" / "rdap").glob("*.json")
    entry.write_bytes(garbage)

    async with make_client(clock=clock) as client:
        reg = await client.lookup(Target("example.test"))
    assert reg.expires == EXPIRES
    assert len(server.request_log) == 2
    assert json.loads(entry.read_bytes())["domain"] == "example.test"  # rewritten


async def test_unwritable_cache_is_not_an_error(
    server: RdapServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    server.add_domain("example.test", EXPIRES)
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("")

    async with make_client(cache_dir=blocker) as client:
        reg = await client.lookup(Target("example.test"))

    assert reg.expires == EXPIRES


# --------------------------------------------------------------------------- concurrency


async def test_concurrent_lookups_of_one_domain_share_one_request(
    server: RdapServer, make_client: ClientFactory
) -> None:
    server.add_domain("example.test", EXPIRES)
    server.response_delay_seconds = 0.2

    async with make_client() as client:
        regs = await asyncio.gather(
            *(client.lookup(Target(f"host{i}.example.test")) for i in range(50))
        )
        later = await client.lookup(Target("late.example.test"))

    assert {reg.expires for reg in regs} == {EXPIRES}
    assert later == regs[0]
    assert server.request_log == [server.domain_path("example.test")]


async def test_failures_are_shared_within_a_run(
    server: RdapServer, make_client: ClientFactory
) -> None:
    server.set_status("broken.test", 503)

    async with make_client() as client:
        for i in range(5):
            assert (await client.lookup(Target(f"h{i}.broken.test"))).error is not None

    assert len(server.request_log) == 1


async def test_cancelled_caller_does_not_cancel_shared_lookup(
    server: RdapServer, make_client: ClientFactory
) -> None:
    server.add_domain("example.test", EXPIRES)
    server.response_delay_seconds = 0.3

    async with make_client() as client:
        impatient = asyncio.create_task(client.lookup(Target("a.example.test")))
        patient = asyncio.create_task(client.lookup(Target("b.example.test")))
        await asyncio.sleep(0.1)
        impatient.cancel()
        reg = await patient

    assert impatient.cancelled()
    assert reg.expires == EXPIRES
    assert len(server.request_log) == 1


@pytest.mark.parametrize("limit", [1, 4])
async def test_per_server_limit(server: RdapServer, make_client: ClientFactory, limit: int) -> None:
    for i in range(20):
        server.add_domain(f"d{i}.test", EXPIRES)
    server.response_delay_seconds = 0.05

    async with make_client(per_server_limit=limit) as client:
        regs = await asyncio.gather(*(client.lookup(Target(f"d{i}.test")) for i in range(20)))

    assert all(reg.expires == EXPIRES for reg in regs)
    assert len(server.request_log) == 20
    assert server.max_concurrent <= limit
    if limit > 1:
        assert server.max_concurrent > 1  # the limit is a limit, not a queue of one


async def test_closed_client_refuses_lookups(make_client: ClientFactory) -> None:
    client = make_client()
    await client.aclose()
    await client.aclose()  # idempotent

    with pytest.raises(RuntimeError):
        await client.lookup(Target("example.test"))


# --------------------------------------------------------------------------- PSL


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("www.example.co.uk", "example.co.uk"),
        ("example.co.uk", "example.co.uk"),
        ("a.b.test", "b.test"),
        ("b.test", "b.test"),
        ("WWW.Example.COM.", "example.com"),
        ("www.xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        ("shop.example.xn--55qx5d.cn", "example.xn--55qx5d.cn"),
        ("foo.github.io", "github.io"),  # private-section suffixes are registered names
        ("co.uk", None),
        ("com", None),
        ("test", None),
        ("", None),
    ],
)
def test_registrable_domain(host: str, expected: str | None) -> None:
    assert registrable_domain(host) == expected


async def test_public_suffix_target_is_unknown(
    server: RdapServer, make_client: ClientFactory
) -> None:
    async with make_client() as client:
        reg = await client.lookup(Target("co.uk"))

    assert reg == Registration(unknown=True, error="co.uk is a public suffix")
    assert server.request_log == []


async def test_idn_is_looked_up_by_a_label(
    tmp_path: Path, server: RdapServer, make_client: ClientFactory
) -> None:
    server.add_domain("xn--mnchen-3ya.de", EXPIRES)
    bootstrap = write_bootstrap(tmp_path / "de.json", {"de": server.base_url})

    async with make_client(bootstrap=str(bootstrap)) as client:
        reg = await client.lookup(Target("www.xn--mnchen-3ya.de", display="www.münchen.de"))

    assert reg.registrable_domain == "xn--mnchen-3ya.de"
    assert reg.expires == EXPIRES
    assert server.request_log == [server.domain_path("xn--mnchen-3ya.de")]


async def test_absurd_retry_after_is_a_rate_limit_not_a_crash(tmp_path: Path) -> None:
    """400 digits parse to an infinite float; the message must still be a sentence."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "9" * 400})

    async with mock_client(tmp_path, handler) as client:
        reg = await client.lookup(Target("busy.test"))

    assert reg.error == (
        f"rate-limited by the registry; try again in {rdap.LONGEST_WAIT_SHOWN_SECONDS} s"
    )


# --------------------------------------------------------------------------- address rule


@pytest.mark.parametrize("public_only", [True, False])
async def test_redirect_to_a_private_address_is_refused_with_the_rule_on(
    server: RdapServer, make_client: ClientFactory, public_only: bool
) -> None:
    """SSRF: the registry (trusted: the operator's bootstrap) 302s to another loopback
    port. With the address rule on, that hop is never connected to."""
    with RdapServer(base_path="/internal/") as internal:
        internal.add_domain("moved.test", EXPIRES, registrar="Internal Admin")
        server.redirect("moved.test", internal.domain_url("moved.test"))

        async with make_client(public_addresses_only=public_only) as client:
            reg = await client.lookup(Target("moved.test"))

        if public_only:
            assert reg.expires is None
            assert reg.error is not None
            assert "127.0.0.1 is a private or local address" in reg.error
            assert internal.request_log == []
        else:
            assert reg.expires == EXPIRES
            assert internal.request_log == [internal.domain_path("moved.test")]
        assert server.request_log == [server.domain_path("moved.test")]


@pytest.mark.parametrize(
    "location",
    ["http://[::127.0.0.1]:{port}/x", "http://[::ffff:127.0.0.1]:{port}/x", "http://10.0.0.1/x"],
)
async def test_redirect_to_embedded_private_forms_is_refused(
    server: RdapServer, make_client: ClientFactory, location: str
) -> None:
    server.redirect("moved.test", location.format(port=server.port))
    async with make_client(public_addresses_only=True) as client:
        reg = await client.lookup(Target("moved.test"))
    assert reg.error is not None and "private or local address" in reg.error
    assert server.request_log == [server.domain_path("moved.test")]


async def test_the_first_hop_is_checked_too(tmp_path: Path) -> None:
    """A bootstrap that is not the operator's (the cached IANA copy) is not trusted."""
    with RdapServer() as server:
        server.add_domain("example.test", EXPIRES)
        cache = tmp_path / "cache"
        cache.mkdir()
        write_bootstrap(cache / rdap.BOOTSTRAP_FILE_NAME, {"test": server.base_url})
        async with RdapClient(
            cache_dir=cache, refresh_bootstrap=False, public_addresses_only=True
        ) as client:
            reg = await client.lookup(Target("example.test"))
        assert reg.error is not None and "private or local address" in reg.error
        assert server.request_log == []


async def test_from_settings_carries_the_rule(tmp_path: Path) -> None:
    client = RdapClient.from_settings(
        Settings(public_addresses_only=True), cache_dir=tmp_path, refresh_bootstrap=False
    )
    try:
        assert isinstance(client._http._transport, PublicOnlyTransport)
    finally:
        await client.aclose()


class _FakeStream:
    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.closed = False

    def get_extra_info(self, info: str) -> Any:
        return (self.peer, 443) if info == "server_addr" else None

    async def aclose(self) -> None:
        self.closed = True


class _FakeBackend:
    """Stands in for the socket layer: records connects, never touches the network."""

    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.connects: list[tuple[str, int]] = []
        self.streams: list[_FakeStream] = []

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connects.append((host, port))
        stream = _FakeStream(self.peer)
        self.streams.append(stream)
        return stream

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def test_guard_checks_resolved_addresses_before_connecting() -> None:
    from core.public_http import NonPublicAddress, PublicOnlyBackend

    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1", "::ffff:10.0.0.1"]

    inner = _FakeBackend(peer="127.0.0.1")
    guard = PublicOnlyBackend(inner=inner, resolve=resolve)  # type: ignore[arg-type]
    with pytest.raises(NonPublicAddress):
        await guard.connect_tcp("rebind.test", 443)
    assert inner.connects == []


async def test_guard_connects_to_the_checked_address_and_checks_the_peer() -> None:
    """DNS rebinding: the name is resolved once and the IP it gave is what is
    connected to; a peer that is not public (whatever routed it) is dropped."""
    from core.public_http import NonPublicAddress, PublicOnlyBackend

    async def resolve(host: str, port: int) -> list[str]:
        return ["8.8.8.8"]

    inner = _FakeBackend(peer="10.0.0.1")
    guard = PublicOnlyBackend(inner=inner, resolve=resolve)  # type: ignore[arg-type]
    with pytest.raises(NonPublicAddress):
        await guard.connect_tcp("rebind.test", 443)
    assert inner.connects == [("8.8.8.8", 443)]
    assert inner.streams[0].closed

    inner = _FakeBackend(peer="8.8.8.8")
    guard = PublicOnlyBackend(inner=inner, resolve=resolve)  # type: ignore[arg-type]
    stream = await guard.connect_tcp("public.test", 443)
    assert stream is inner.streams[0] and not inner.streams[0].closed
