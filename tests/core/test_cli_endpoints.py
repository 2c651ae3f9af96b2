"""End to end: every endpoint of a name, STARTTLS services and MX hosts through the CLI."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core.cli import main
from core.starttls import STARTTLS_PROTOCOLS
from tests.helpers.endpoint_world import (
    HALF_HOST,
    MAIL_DOMAIN,
    MIXED_HOST,
    MX_HOSTS,
    NULL_MX_DOMAIN,
    SERVING_ADDRESSES,
    EndpointWorld,
)
from tests.helpers.starttls_servers import Behaviour, StartTlsServers
from tests.helpers.world import LoopbackWorld

#: Served by the STARTTLS servers that refuse the upgrade, or answer garbage.
REFUSED_HOST = "expired.test"
GARBAGE_HOST = "selfsigned.test"


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)  # type: ignore[no-any-return]

    def results(self) -> list[dict[str, Any]]:
        return self.json()["results"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def starttls_servers(world: LoopbackWorld) -> Iterator[StartTlsServers]:
    with StartTlsServers(world.pki) as servers:
        yield servers


@pytest.fixture
def cli(
    endpoint_world: EndpointWorld,
    starttls_servers: StartTlsServers,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Run]:
    """``domaincheck`` in-process against the world, the endpoints and the STARTTLS
    servers (valid.test on every protocol's port, refusing and garbage ones too)."""
    env = endpoint_world.env
    rules = (
        *starttls_servers.connect_rules("valid.test"),
        *starttls_servers.connect_rules(REFUSED_HOST, Behaviour.REFUSE, ("smtp", "imap")),
        *starttls_servers.connect_rules(GARBAGE_HOST, Behaviour.GARBAGE, ("smtp",)),
        *endpoint_world.serve_mail(starttls_servers),
    )
    env["DOMAINCHECK_CONNECT_TO"] = ",".join(
        [*(str(rule) for rule in rules), env["DOMAINCHECK_CONNECT_TO"]]
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DOMAINCHECK_TIMEOUT", "3")

    def run(*args: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        stdin = io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8")
        code = main(["check", "--no-rdap", *args], stdout=out, stderr=err, stdin=stdin)
        return Run(code, out.getvalue(), err.getvalue())

    return run


def test_mixed_certificates_in_json(cli: Callable[..., Run]) -> None:
    run = cli("--format", "json", MIXED_HOST)

    assert run.code == 1  # the worst endpoint (expiring) decides
    (result,) = run.results()
    assert result["domain"] == MIXED_HOST
    assert result["port"] == 443
    assert result["protocol"] == "tls"
    assert result["serves"] is None
    assert result["status"] == "expiring"
    assert result["problem"].startswith(
        "2 of 3 addresses serve a certificate that expires in 4 days"
    )
    assert [e["address"] for e in result["endpoints"]] == list(SERVING_ADDRESSES)
    assert [e["tls"]["status"] for e in result["endpoints"]] == ["valid", "expiring", "expiring"]
    assert result["tls"]["not_after"] == result["endpoints"][1]["tls"]["not_after"]


def test_mixed_certificates_in_the_table_and_csv(cli: Callable[..., Run]) -> None:
    table = cli(MIXED_HOST, HALF_HOST)
    rows = list(csv.DictReader(io.StringIO(cli("--format", "csv", MIXED_HOST, HALF_HOST).out)))

    assert table.code == 1  # expiring beats an error in the exit code
    assert "2 of 3 addresses serve a certificate that expires in 4 days" in table.out
    assert "1 of 2 addresses: connection refused" in table.out
    assert [row["protocol"] for row in rows] == ["tls", "tls"]
    assert rows[0]["endpoints"] == "127.0.0.2=valid 127.0.0.3=expiring 127.0.0.4=expiring"
    assert rows[1]["endpoints"] == "127.0.0.2=valid 127.0.0.5=error"


def test_first_address_only(cli: Callable[..., Run]) -> None:
    run = cli("--format", "json", "--first-address-only", MIXED_HOST)

    assert run.code == 0
    (result,) = run.results()
    assert result["status"] == "valid"
    assert result["endpoints"] == []


def test_resolve_option_comes_before_the_environment(
    cli: Callable[..., Run], endpoint_world: EndpointWorld
) -> None:
    rule = f"{MIXED_HOST}:{endpoint_world.port}:127.0.0.2"

    run = cli("--format", "json", "--resolve", rule, MIXED_HOST)

    assert run.code == 0
    assert run.results()[0]["endpoints"] == []  # one address: its result is the result


def test_bad_resolve_rule_is_a_usage_error(cli: Callable[..., Run]) -> None:
    run = cli("--resolve", "mixed.test:443:mirror.test", MIXED_HOST)

    assert run.code == 64
    assert "'mirror.test' is not an IP address" in run.err
    assert "Traceback" not in run.err


@pytest.mark.parametrize("protocol", STARTTLS_PROTOCOLS)
def test_every_starttls_protocol(cli: Callable[..., Run], protocol: str) -> None:
    run = cli("--format", "json", f"{protocol}://valid.test")

    assert run.code == 0, run.out
    (result,) = run.results()
    assert result["protocol"] == protocol
    assert result["domain"] == "valid.test"
    assert result["tls"]["subject"] == "valid.test"  # SNI sent after the upgrade
    assert result["tls"]["hostname_match"] is True


@pytest.mark.parametrize("protocol", ["https", "smtps", "imaps", "pop3s", "ldaps"])
def test_implicit_tls_protocols(cli: Callable[..., Run], protocol: str) -> None:
    run = cli("--format", "json", f"{protocol}://valid.test")

    assert run.code == 0
    (result,) = run.results()
    assert result["protocol"] == protocol
    assert result["status"] == "valid"


def test_a_server_that_refuses_starttls_has_its_own_error(cli: Callable[..., Run]) -> None:
    run = cli("--format", "json", f"smtp://{REFUSED_HOST}", f"smtp://{GARBAGE_HOST}")

    assert run.code == 3
    refused, garbage = run.results()
    assert refused["problem"] == "mail server does not offer STARTTLS"
    assert refused["tls"]["error_kind"] == "protocol"
    assert garbage["status"] == "error"
    assert garbage["tls"]["error_kind"] == "protocol"


def test_starttls_option_applies_to_bare_targets(cli: Callable[..., Run]) -> None:
    run = cli("--format", "json", "--starttls", "imap", "valid.test")

    assert run.code == 0
    (result,) = run.results()
    assert (result["protocol"], result["port"]) == ("imap", 143)


def test_unknown_starttls_protocol_is_a_usage_error(cli: Callable[..., Run]) -> None:
    run = cli("--starttls", "gopher", "valid.test")

    assert run.code == 64
    assert "unknown STARTTLS protocol 'gopher'" in run.err


def test_mx_checks_each_mail_server_of_the_domain(cli: Callable[..., Run]) -> None:
    run = cli("--format", "json", f"mx:{MAIL_DOMAIN}", f"mx:{NULL_MX_DOMAIN}")

    assert run.code == 0
    results = run.results()
    assert [(r["domain"], r["protocol"], r["port"], r["serves"]) for r in results] == [
        (MX_HOSTS[0], "smtp", 25, MAIL_DOMAIN),
        (MX_HOSTS[1], "smtp", 25, MAIL_DOMAIN),
    ]
    assert all(r["status"] == "valid" for r in results)
    assert run.json()["input_errors"] == [
        {
            "source": "<mx>",
            "line": 1,
            "text": f"mx:{NULL_MX_DOMAIN}",
            "error": f"{NULL_MX_DOMAIN} accepts no mail (null MX)",
        }
    ]


def test_mx_in_the_table_names_the_domain(cli: Callable[..., Run]) -> None:
    run = cli(f"mx:{MAIL_DOMAIN}", f"mx:{NULL_MX_DOMAIN}")

    assert f"smtp://{MX_HOSTS[0]} (MX of {MAIL_DOMAIN})" in run.out
    assert f"{NULL_MX_DOMAIN} accepts no mail (null MX)" in run.err


def test_only_a_null_mx_leaves_nothing_to_check(cli: Callable[..., Run]) -> None:
    run = cli(f"mx:{NULL_MX_DOMAIN}")

    assert run.code == 64
    assert "accepts no mail (null MX)" in run.err
    assert "nothing to check" in run.err


def test_mx_flag_adds_the_mail_servers_of_every_bare_name(cli: Callable[..., Run]) -> None:
    run = cli("--format", "json", "--mx", MAIL_DOMAIN)

    labels = [(r["protocol"], r["domain"], r["serves"]) for r in run.results()]
    assert labels[1:] == [("smtp", MX_HOSTS[0], MAIL_DOMAIN), ("smtp", MX_HOSTS[1], MAIL_DOMAIN)]
    assert labels[0][:2] == ("tls", MAIL_DOMAIN)


def test_a_server_that_hangs_in_the_prologue_is_bounded_by_the_timeout(
    cli: Callable[..., Run], starttls_servers: StartTlsServers
) -> None:
    port = starttls_servers.port("imap", Behaviour.HANG)

    run = cli(
        "--format",
        "json",
        "--timeout",
        "0.5",
        "--connect-to",
        f"hang.test:143:127.0.0.1:{port}",
        "imap://hang.test",
    )

    assert run.code == 3
    (result,) = run.results()
    assert result["tls"]["error_kind"] == "timeout"
    assert result["problem"] == (
        "connected, but the server did not finish the STARTTLS exchange within 0.5s"
    )


def test_watch_add_watches_each_mail_server_of_a_domain(
    endpoint_world: EndpointWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name, value in endpoint_world.env.items():
        monkeypatch.setenv(name, value)
    db = tmp_path / "watch.sqlite3"

    def watch(*args: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        stdin = io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8")
        code = main(["watch", "--watchlist", str(db), *args], stdout=out, stderr=err, stdin=stdin)
        return Run(code, out.getvalue(), err.getvalue())

    added = watch("add", f"mx:{MAIL_DOMAIN}", f"mx:{NULL_MX_DOMAIN}")
    assert added.code == 0
    assert added.out.startswith(f"Added {len(MX_HOSTS)} targets")
    assert f"{NULL_MX_DOMAIN} accepts no mail (null MX)" in added.err
    listed = json.loads(watch("list", "--format", "json").out)["targets"]
    assert sorted((e["domain"], e["port"], e.get("protocol")) for e in listed) == [
        (host, 25, "smtp") for host in sorted(MX_HOSTS)
    ]
    assert all(entry["serves"] == MAIL_DOMAIN for entry in listed)
    exported = watch("export").out.splitlines()
    assert exported[1:] == [f"smtp://{host},25," for host in MX_HOSTS]
    assert watch("add", f"mx:{NULL_MX_DOMAIN}").code == 64
