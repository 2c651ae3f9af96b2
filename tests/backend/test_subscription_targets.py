"""Issues 13-15 in the backend: every target form, per-domain thresholds and dates,
endpoint names, registration changes and the core's status rules in reminders."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend import db
from backend.analytics import NullAnalytics
from backend.models import Subscription
from backend.reminders import check_with_core, run_checks
from backend.watch_checks import expand_mail_targets, with_mail_results
from core.dns import MailServers
from core.models import CertInfo, CheckResult, Endpoint, Registration, Target, utcnow
from tests.backend.conftest import FakeClock, FakeMailer, make_settings
from tests.backend.test_otp_api import EMAIL, generate

MIXED = [
    "smtp://mx.example.com",
    "imaps://mail.example.com:993",
    "mx:example.com",
    "example.com:8443",
    "https://www.example.com",
]


def register(client, mailer, domains, **extra):
    generate(client)
    code = mailer.codes_for(EMAIL)[-1]
    return client.post(
        "/api/notifications/register",
        json={"email": EMAIL, "domains": domains, "otp": code, **extra},
    )


def auth(response) -> dict[str, str]:
    return {"Authorization": f"Bearer {response.json()['token']}"}


# --------------------------------------------------------------------------- API


def test_every_cli_target_form_is_accepted_and_named_like_the_cli(client, mailer):
    response = register(client, mailer, MIXED)
    assert response.status_code == 200, response.text
    assert response.json()["domains"] == [
        "smtp://mx.example.com",
        "imaps://mail.example.com",
        "mx:example.com",
        "example.com:8443",
        "www.example.com",
    ]
    details = client.get("/api/notifications", headers=auth(response)).json()["details"]
    assert [(d["domain"], d["protocol"]) for d in details] == [
        ("smtp://mx.example.com", "smtp"),
        ("imaps://mail.example.com", "imaps"),
        ("mx:example.com", "mx"),
        ("example.com:8443", "tls"),
        ("www.example.com", "tls"),
    ]


def test_one_host_with_two_protocols_is_two_subscriptions(client, mailer):
    response = register(client, mailer, ["example.com", "smtp://example.com", "example.com"])
    assert response.status_code == 200, response.text
    assert response.json()["domains"] == ["example.com", "smtp://example.com"]


@pytest.mark.parametrize(
    "entry", ["smtp://127.0.0.1", "imaps://[::1]:993", "smtp://10.0.0.1:587", "192.168.1.1:443"]
)
def test_private_addresses_are_refused_in_every_form(client, mailer, entry):
    response = register(client, mailer, ["example.com", entry])
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["error"] for e in errors] == ["private and loopback addresses are not checked"]
    assert errors[0]["line"] == 2


def test_per_domain_threshold_and_manual_date_round_trip(client, mailer):
    response = register(
        client,
        mailer,
        [
            "plain.example",
            {"domain": "own.example", "threshold_days": 7},
            {"domain": "typed.io", "registration_expires": "2027-03-01"},
        ],
        threshold_days=20,
    )
    assert response.status_code == 200, response.text
    headers = auth(response)
    body = client.get("/api/notifications", headers=headers).json()
    assert body["domains"] == ["plain.example", "own.example", "typed.io"]
    assert body["threshold_days"] == 20
    assert [(d["threshold_days"], d["registration_expires"]) for d in body["details"]] == [
        (None, None),
        (7, None),
        (None, "2027-03-01"),
    ]
    # A plain string keeps what the domain had; an object sets (null clears).
    response = client.put(
        "/api/notifications",
        headers=headers,
        json={"domains": ["own.example", {"domain": "typed.io", "threshold_days": 3}]},
    )
    assert response.status_code == 200, response.text
    assert [
        (d["domain"], d["threshold_days"], d["registration_expires"])
        for d in response.json()["details"]
    ] == [("own.example", 7, None), ("typed.io", 3, None)]


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"domain": "a.example", "threshold_days": 400}, "threshold_days"),
        ({"domain": "a.example", "threshold_days": -1}, "threshold_days"),
        ({"domain": "a.example", "registration_expires": "31.12.2027"}, "registration_expires"),
        ({"domain": "a.example", "registration_expires": "1899-01-01"}, "registration_expires"),
        ({"threshold_days": 3}, "domain"),
    ],
)
def test_bad_per_domain_settings_get_a_clear_422(client, mailer, entry, field):
    generate(client)
    response = client.post(
        "/api/notifications/register",
        json={"email": EMAIL, "domains": [entry], "otp": mailer.codes_for(EMAIL)[-1]},
    )
    assert response.status_code == 422
    assert field in response.text and "Traceback" not in response.text


def test_the_openapi_schema_documents_both_entry_shapes(client):
    schema = client.get("/openapi.json").json()
    items = schema["components"]["schemas"]["RegisterRequest"]["properties"]["domains"]["items"]
    shapes = items["anyOf"]
    assert {"type": "string", "maxLength": 2048} in shapes
    assert {"$ref": "#/components/schemas/DomainOptions"} in shapes
    options = schema["components"]["schemas"]["DomainOptions"]["properties"]
    assert set(options) == {"domain", "threshold_days", "registration_expires"}
    assert "mx:example.com" in options["domain"]["description"]


# --------------------------------------------------------------------------- reminders


class World:
    """Fake check results per ``Target.key``: certificates, registrations, endpoints."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.cert_days: dict[tuple[str, int], float] = {}
        self.endpoints: dict[tuple[str, int], list[tuple[str, str, float]]] = {}
        self.registrations: dict[tuple[str, int], Registration] = {}
        self.seen: list[Target] = []

    def cert(self, days: float, fingerprint: str = "aa") -> CertInfo:
        not_after = self.clock() + timedelta(days=days, hours=1)
        return CertInfo(
            not_after=not_after,
            not_before=not_after - timedelta(days=90),
            fingerprint_sha256=fingerprint,
            trusted=True,
            hostname_match=True,
        )

    async def check(self, targets):
        now = self.clock()
        self.seen = list(targets)
        results = {}
        for target in targets:
            tls = self.cert(self.cert_days.get(target.key, 60))
            listed = self.endpoints.get(target.key)
            if listed:
                infos = [(address, self.cert(days, fp)) for address, fp, days in listed]
                worst = min(infos, key=lambda item: item[1].not_after)[1]
                tls = dataclasses.replace(
                    worst, endpoints=tuple(Endpoint(a, info) for a, info in infos)
                )
            registration = self.registrations.get(
                target.key, Registration(unknown=True, error="no RDAP")
            )
            results[target.key] = CheckResult(target, tls, registration, now)
        return results


@pytest.fixture
def world_run(database_url, mailer, clock):
    engine = db.make_engine(database_url)
    sessions = db.make_sessionmaker(engine)
    world = World(clock)
    settings = make_settings(database_url)

    def run():
        return asyncio.run(
            run_checks(
                sessions,
                settings=settings,
                mailer=mailer,
                analytics=NullAnalytics(),
                check=world.check,
                clock=clock,
            )
        )

    yield world, run, sessions
    engine.dispose()


def bodies(mailer: FakeMailer) -> list[str]:
    return [m.get_body(("plain",)).get_content() for m in mailer.sent]


def test_reminders_keep_the_protocol_and_name_the_endpoint(client, mailer, world_run):
    world, run, _ = world_run
    assert register(client, mailer, ["smtp://mx.example.com", "www.example.com"]).status_code == 200
    mailer.sent.clear()
    world.endpoints[("smtp://mx.example.com", 25)] = [
        ("192.0.2.6", "aa", 60),
        ("192.0.2.7", "bb", 4),
    ]
    run()
    assert {(t.protocol, t.host, t.port) for t in world.seen} == {
        ("smtp", "mx.example.com", 25),
        ("tls", "www.example.com", 443),
    }
    [text] = bodies(mailer)
    assert "* smtp://mx.example.com\n" in text
    assert "certificate expires in 4 days" in text
    assert "at mx.example.com (192.0.2.7) on port 25" in text
    assert "www.example.com" not in text


def test_the_domains_own_threshold_decides(client, mailer, world_run):
    world, run, _ = world_run
    response = register(
        client,
        mailer,
        ["wide.example", {"domain": "narrow.example", "threshold_days": 5}],
        threshold_days=30,
    )
    assert response.status_code == 200
    mailer.sent.clear()
    world.cert_days[("wide.example", 443)] = 20
    world.cert_days[("narrow.example", 443)] = 20
    run()
    [text] = bodies(mailer)
    assert "wide.example" in text and "narrow.example" not in text
    world.cert_days[("narrow.example", 443)] = 5
    run()
    assert "narrow.example" in bodies(mailer)[1]
    assert "certificate expires in 5 days" in bodies(mailer)[1]


def test_a_manual_registration_date_reminds_and_asks_for_an_update(
    client, mailer, world_run, clock
):
    world, run, _ = world_run
    day = (clock() + timedelta(days=10)).date().isoformat()
    response = register(client, mailer, [{"domain": "startup.io", "registration_expires": day}])
    assert response.status_code == 200, response.text
    mailer.sent.clear()
    world.registrations[("startup.io", 443)] = Registration(
        registrable_domain="startup.io",
        unknown=True,
        error="the .io registry publishes no RDAP",
        method=None,
    )
    run()
    [text] = bodies(mailer)
    assert f"domain registration expires in 10 days ({day})" in text
    assert "entered by hand: update it after renewal" in text
    run()
    assert len(mailer.sent) == 1


def test_registration_changes_are_news_once(client, mailer, world_run):
    world, run, sessions = world_run
    assert register(client, mailer, ["shop.example"]).status_code == 200
    mailer.sent.clear()
    far = world.clock() + timedelta(days=300)
    before = Registration(
        registrable_domain="shop.example",
        expires=far,
        registrar="Good Registrar",
        method="rdap",
        statuses=("clientTransferProhibited",),
        nameservers=("ns1.good.example", "ns2.good.example"),
    )
    world.registrations[("shop.example", 443)] = before
    run()
    assert mailer.sent == []  # nothing stored before: nothing to compare with
    with sessions() as session:
        stored = session.scalars(select(Subscription.last_registration)).one()
    assert stored is not None and "Good Registrar" in stored
    world.registrations[("shop.example", 443)] = dataclasses.replace(
        before,
        registrar="Other Registrar",
        statuses=("clientTransferProhibited", "clientHold"),
        nameservers=("ns1.other.example",),
    )
    run()
    [text] = bodies(mailer)
    assert "Changed: registrar changed from Good Registrar to Other Registrar" in text
    assert "new status clientHold: the domain is off the internet" in text
    assert "name servers changed to ns1.other.example" in text
    assert "Invalid: the registry has put the domain on clientHold" in text
    run()
    assert len(mailer.sent) == 1  # the same changes are not news twice


def test_a_failed_lookup_does_not_replace_the_stored_registration(client, mailer, world_run):
    world, run, _ = world_run
    assert register(client, mailer, ["shop.example"]).status_code == 200
    mailer.sent.clear()
    good = Registration(
        registrable_domain="shop.example",
        expires=world.clock() + timedelta(days=300),
        registrar="Good Registrar",
        method="rdap",
        nameservers=("ns1.good.example",),
    )
    world.registrations[("shop.example", 443)] = good
    run()
    world.registrations[("shop.example", 443)] = Registration(error="timed out")
    run()
    world.registrations[("shop.example", 443)] = good
    run()
    assert mailer.sent == []


class FakeResolver:
    def __init__(self, answers: dict[str, MailServers]) -> None:
        self.answers = answers

    async def mail_servers(self, domain: str) -> MailServers:
        return self.answers[domain]


def test_mx_entries_are_expanded_at_check_time_and_the_worst_host_speaks():
    resolver = FakeResolver(
        {
            "example.com": MailServers(hosts=("mx1.example.com", "mx2.example.com")),
            "other.example": MailServers(hosts=("mx2.example.com",)),
            "nomail.example": MailServers(null=True),
        }
    )
    targets = [
        Target("example.com", 25, protocol="mx"),
        Target("other.example", 25, protocol="mx"),
        Target("nomail.example", 25, protocol="mx"),
        Target("www.example.com"),
    ]
    plain, hosts = asyncio.run(expand_mail_targets(targets, resolver))
    assert [t.key for t in plain] == [
        ("www.example.com", 443),
        ("smtp://mx1.example.com", 25),
        ("smtp://mx2.example.com", 25),
    ]
    assert plain[1].serves == "example.com"
    assert hosts == {
        ("mx:example.com", 25): [("smtp://mx1.example.com", 25), ("smtp://mx2.example.com", 25)],
        ("mx:other.example", 25): [("smtp://mx2.example.com", 25)],
        ("mx:nomail.example", 25): [],
    }
    now = utcnow()
    clock = FakeClock(now)
    world = World(clock)
    world.cert_days[("smtp://mx2.example.com", 25)] = 3
    results = asyncio.run(world.check(plain))
    merged = with_mail_results(results, hosts)
    assert merged[("mx:example.com", 25)].target.host == "mx2.example.com"
    assert merged[("mx:other.example", 25)].target.host == "mx2.example.com"
    assert ("mx:nomail.example", 25) not in merged


def test_an_mx_subscription_is_reminded_about_its_worst_mail_server(client, mailer, world_run):
    world, run, _ = world_run
    assert register(client, mailer, ["mx:example.com"]).status_code == 200
    mailer.sent.clear()

    fake_check = world.check

    async def check(targets):
        [target] = targets
        assert target.key == ("mx:example.com", 25)
        host = dataclasses.replace(
            target,
            host="mx2.example.com",
            display="mx2.example.com",
            protocol="smtp",
            serves="example.com",
        )
        world.cert_days[host.key] = 2
        return with_mail_results(await fake_check([host]), {target.key: [host.key]})

    world.check = check  # type: ignore[method-assign]
    run()
    [text] = bodies(mailer)
    assert "* mx:example.com\n" in text
    assert "at smtp://mx2.example.com, a mail server of example.com" in text


# --------------------------------------------------------------------------- real world


def test_a_short_lived_certificate_is_reminded_by_the_lifetime_rule(
    client, mailer, database_url, world
):
    """45-day certificates with the default 30-day threshold: the lifetime rule
    (a third of 45 is 15) is the one that fires. late45.test (13 days left) gets a
    reminder naming it; mid45.test (24.5 left), expiring by the plain threshold
    alone, gets none."""
    response = register(client, mailer, ["late45.test", "mid45.test"])
    assert response.status_code == 200, response.text
    mailer.sent.clear()
    engine = db.make_engine(database_url)
    core_settings = world.settings(check_rdap=False, timeout_seconds=5.0)

    async def check(targets):
        return await check_with_core(targets, core_settings)

    try:
        asyncio.run(
            run_checks(
                db.make_sessionmaker(engine),
                settings=make_settings(database_url),
                mailer=mailer,
                analytics=NullAnalytics(),
                check=check,
                clock=utcnow,
            )
        )
    finally:
        engine.dispose()
    [text] = bodies(mailer)
    assert "* late45.test" in text and "mid45.test" not in text
    assert (
        "certificate expires in 13 days" in text
        and "a third of its 45-day lifetime is left: renewal looks overdue" in text
    )


def test_endpoints_and_mail_servers_of_the_loopback_world(
    client, mailer, database_url, world, endpoint_world
):
    """mixed.test: two of its three addresses serve a certificate expiring in 4 days;
    mx:mail.test is looked up in the loopback DNS and its MX hosts are checked with
    SMTP STARTTLS (valid: no mail, but their state is stored)."""
    from tests.helpers.endpoint_world import MAIL_DOMAIN, MIXED_HOST, MX_HOSTS
    from tests.helpers.starttls_servers import StartTlsServers

    domains = [MIXED_HOST, f"mx:{MAIL_DOMAIN}", f"smtp://{MX_HOSTS[0]}"]
    response = register(client, mailer, domains)
    assert response.status_code == 200, response.text
    mailer.sent.clear()
    engine = db.make_engine(database_url)
    sessions = db.make_sessionmaker(engine)
    try:
        with StartTlsServers(world.pki) as servers:
            base = endpoint_world.settings(check_rdap=False, timeout_seconds=5.0)
            core_settings = dataclasses.replace(
                base, connect_to=(*endpoint_world.serve_mail(servers), *base.connect_to)
            )

            async def check(targets):
                return await check_with_core(targets, core_settings)

            asyncio.run(
                run_checks(
                    sessions,
                    settings=make_settings(database_url),
                    mailer=mailer,
                    analytics=NullAnalytics(),
                    check=check,
                    clock=utcnow,
                )
            )
        with sessions() as session:
            states = {
                (s.protocol, s.host): s.last_status for s in session.scalars(select(Subscription))
            }
    finally:
        engine.dispose()
    assert states == {
        ("tls", MIXED_HOST): "expiring",
        ("mx", MAIL_DOMAIN): "valid",
        ("smtp", MX_HOSTS[0]): "valid",
    }
    [text] = bodies(mailer)
    assert f"* {MIXED_HOST}\n" in text
    assert "certificate expires in 4 days" in text
    assert f"at {MIXED_HOST} (127.0.0.3) on port 443" in text
    assert MAIL_DOMAIN not in text


def test_the_worker_checks_mx_subscriptions_through_their_mail_servers(
    sqlite_url, mailer, world, endpoint_world
):
    """The PostgreSQL path's check (``WorkerRuntime.check``) expands ``mx:`` the same way."""
    from backend.queue import WorkerRuntime
    from tests.helpers.endpoint_world import MAIL_DOMAIN, MX_HOSTS
    from tests.helpers.starttls_servers import StartTlsServers

    engine = db.make_engine(sqlite_url)
    try:
        with StartTlsServers(world.pki) as servers:
            base = endpoint_world.settings(check_rdap=False, timeout_seconds=5.0)
            runtime = WorkerRuntime(
                settings=make_settings(sqlite_url),
                session_factory=db.make_sessionmaker(engine),
                mailer=mailer,
                analytics=NullAnalytics(),
                core_settings=dataclasses.replace(
                    base, connect_to=(*endpoint_world.serve_mail(servers), *base.connect_to)
                ),
            )
            mail = Target(MAIL_DOMAIN, 25, protocol="mx")
            results = asyncio.run(runtime.check([mail, Target("mixed.test")]))
    finally:
        engine.dispose()
    assert set(results) == {
        ("mx:mail.test", 25),
        (f"smtp://{MX_HOSTS[0]}", 25),
        (f"smtp://{MX_HOSTS[1]}", 25),
        ("mixed.test", 443),
    }
    worst = results[mail.key]
    assert worst.target.protocol == "smtp" and worst.target.serves == MAIL_DOMAIN
    assert worst.status.value == "valid"


def test_the_message_identity_ignores_the_drifting_wording():
    from backend.reminder_news import News
    from core.models import Status

    first = News("a.test", "certificate", Status.EXPIRING, "expires in 23 hours", "k", 1)
    later = News("a.test", "certificate", Status.EXPIRING, "expires in 22 hours", "k", 1)
    assert first.identity == later.identity
    change = News("a.test", "change", Status.VALID, "registrar changed from A to B", "x")
    other = News("a.test", "change", Status.VALID, "registrar changed from B to C", "x")
    assert change.identity != other.identity


def test_stored_registrations_round_trip_and_garbage_is_ignored():
    from backend.registrations import apply_manual, load_registration, store_registration

    registration = Registration(
        registrable_domain="shop.example",
        expires=utcnow().replace(microsecond=0),
        registrar="Good Registrar",
        method="whois",
        statuses=("ok",),
        nameservers=("ns1.example",),
    )
    loaded = load_registration(store_registration(registration))
    assert loaded is not None
    assert (loaded.registrar, loaded.statuses, loaded.nameservers, loaded.expires) == (
        "Good Registrar",
        ("ok",),
        ("ns1.example",),
        registration.expires,
    )
    assert store_registration(Registration(error="timed out")) is None
    assert load_registration("not json") is None
    assert load_registration('["a list"]') is None
    typed = utcnow() + timedelta(days=40)
    assert apply_manual(registration, typed) is registration  # the registry's date wins
    manual = apply_manual(Registration(unknown=True, registrar="R"), typed)
    assert manual is not None and (manual.method, manual.expires) == ("manual", typed)


def test_an_mx_entry_takes_a_threshold_but_no_registration_date(client, mailer):
    response = register(
        client,
        mailer,
        [
            {"domain": "mx:example.com", "threshold_days": 10},
            {"domain": "mx:example.org", "registration_expires": "2027-01-01"},
        ],
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["line"] == 2 and error["text"] == "mx:example.org"
    assert error["error"] == (
        "an mx: entry has no registration date of its own; set it on example.org itself"
    )


def test_an_unknown_answer_neither_replaces_the_stored_registration_nor_is_news(
    client, mailer, world_run, clock
):
    """A "not found" / "no WHOIS service" answer carries no statuses: comparing or
    keeping it would announce every status as removed, then as new again."""
    world, run, sessions = world_run
    assert register(client, mailer, ["shop.example"]).status_code == 200
    mailer.sent.clear()
    good = Registration(
        registrable_domain="shop.example",
        expires=world.clock() + timedelta(days=300),
        registrar="Good Registrar",
        method="whois",
        statuses=("clientTransferProhibited",),
        nameservers=("ns1.good.example",),
    )
    world.registrations[("shop.example", 443)] = good
    run()
    with sessions() as session:
        stored = session.scalars(select(Subscription.last_registration)).one()
    for flake in (
        Registration(error="not found", unknown=True, method="whois"),
        Registration(error="no WHOIS service for .example", unknown=True, method="whois"),
    ):
        clock.advance(days=1)
        world.registrations[("shop.example", 443)] = flake
        run()
        with sessions() as session:
            assert session.scalars(select(Subscription.last_registration)).one() == stored
    clock.advance(days=1)
    world.registrations[("shop.example", 443)] = good
    run()
    assert bodies(mailer) == []


def test_a_change_back_and_forth_is_news_every_time(client, mailer, world_run, clock):
    """a -> b, b -> a, a -> b within the retention time: three mails, not two."""
    world, run, _ = world_run
    assert register(client, mailer, ["shop.example"]).status_code == 200
    mailer.sent.clear()
    first = Registration(
        registrable_domain="shop.example",
        expires=world.clock() + timedelta(days=300),
        registrar="Good Registrar",
        method="rdap",
        nameservers=("ns1.a.example",),
    )
    second = dataclasses.replace(first, nameservers=("ns1.b.example",))
    world.registrations[("shop.example", 443)] = first
    run()
    for registration in (second, first, second):
        clock.advance(days=2)
        world.registrations[("shop.example", 443)] = registration
        run()
    texts = bodies(mailer)
    assert len(texts) == 3
    assert ["name servers changed to ns1.b.example" in t for t in texts] == [True, False, True]
    assert len({m["Message-ID"] for m in mailer.sent}) == 3


def test_mail_domains_without_mx_are_not_named_in_info_logs(caplog):
    """The watched domain is a subscriber's: INFO (the default level) only counts."""
    import logging

    resolver = FakeResolver({"private-watch.example": MailServers(null=True)})
    with caplog.at_level(logging.INFO, logger="backend.watch_checks"):
        plain, hosts = asyncio.run(
            expand_mail_targets([Target("private-watch.example", 25, protocol="mx")], resolver)
        )
    assert plain == [] and hosts == {("mx:private-watch.example", 25): []}
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert info == ["mail servers not checked for 1 mx: entries (no usable MX)"]
    assert not any("private-watch.example" in text for text in info)
