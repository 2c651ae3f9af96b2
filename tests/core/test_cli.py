"""End-to-end tests of the ``domaincheck`` CLI contract against the loopback world."""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core import install_id
from core.analytics import mark_notice_shown
from core.cli import ANALYTICS_EXIT_SECONDS, ANALYTICS_NOTICE, main
from tests.helpers.posthog_sink import PosthogSink
from tests.helpers.world import LoopbackWorld

ROOT = Path(__file__).resolve().parents[2]


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)  # type: ignore[no-any-return]

    def by_domain(self) -> dict[str, dict[str, Any]]:
        return {r["domain"]: r for r in self.json()["results"]}


@pytest.fixture
def cli(world: LoopbackWorld, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run ``domaincheck`` in-process against the world (env from ``world.env``)."""
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DOMAINCHECK_TIMEOUT", "2")

    def run(*args: str, stdin: bytes = b"") -> Run:
        out, err = io.StringIO(), io.StringIO()
        stdin_stream = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        code = main(list(args), stdout=out, stderr=err, stdin=stdin_stream)
        return Run(code, out.getvalue(), err.getvalue())

    return run


def test_json_document_for_every_situation(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli(
        "check",
        "--format",
        "json",
        "valid.test",
        "expiring.test",
        "today.test",
        "expired.test",
        "notyet.test",
        "selfsigned.test",
        "wronghost.test",
        "untrusted.test",
        "bücher.test",
        "closed.test",
        "hang.test",
        "regexpiring.test",
        "unregistered.test",
        "--timeout",
        "1",
    )
    assert run.code == 2
    doc = run.json()
    assert set(doc) == {"checked_at", "threshold_days", "results", "input_errors"}
    assert doc["threshold_days"] == 30
    assert doc["checked_at"].endswith("Z")
    results = run.by_domain()
    assert [r["domain"] for r in doc["results"]][:2] == ["valid.test", "expiring.test"]
    status = {domain: r["status"] for domain, r in results.items()}
    assert status == {
        "valid.test": "valid",
        "expiring.test": "expiring",
        "today.test": "expiring",
        "expired.test": "expired",
        "notyet.test": "invalid",
        "selfsigned.test": "invalid",
        "wronghost.test": "invalid",
        "untrusted.test": "invalid",
        "xn--bcher-kva.test": "valid",
        "closed.test": "error",
        "hang.test": "error",
        "regexpiring.test": "expiring",
        "unregistered.test": "valid",
    }
    valid = results["valid.test"]
    assert valid["port"] == 443 and valid["display"] == "valid.test"
    assert valid["tls"]["trusted"] is True and valid["tls"]["hostname_match"] is True
    assert valid["tls"]["sans"] == ["valid.test"]
    assert len(valid["tls"]["fingerprint_sha256"].split(":")) == 32
    assert valid["registration"]["registrar"] == "Test Registrar, Inc."
    assert valid["registration"]["registrable_domain"] == "valid.test"
    assert valid["days_left"] == min(valid["tls"]["days_left"], valid["registration"]["days_left"])
    assert results["today.test"]["tls"]["days_left"] == 0
    assert results["expired.test"]["tls"]["verify_error"] == "certificate has expired"
    assert results["expired.test"]["tls"]["not_after"].endswith("Z")
    assert results["wronghost.test"]["tls"]["hostname_match"] is False
    assert results["bücher.test" if False else "xn--bcher-kva.test"]["display"] == "bücher.test"
    assert "refused" in results["closed.test"]["tls"]["error"]
    assert "handshake" in results["hang.test"]["tls"]["error"]
    assert results["regexpiring.test"]["registration"]["days_left"] == 11
    assert results["unregistered.test"]["registration"]["expires"] is None
    assert results["unregistered.test"]["registration"]["status"] == "unknown"


@pytest.mark.parametrize(
    ("targets", "code"),
    [
        (["valid.test", "www.wildcard.test"], 0),
        (["valid.test", "expiring.test"], 1),
        (["expiring.test", "expired.test"], 2),
        (["valid.test", "selfsigned.test", "closed.test"], 2),
        (["valid.test", "closed.test"], 3),
        (["closed.test", "expiring.test"], 1),
    ],
)
def test_exit_codes(cli, targets: list[str], code: int) -> None:  # type: ignore[no-untyped-def]
    assert cli("check", "--format", "json", *targets).code == code


def test_input_errors_are_reported_and_the_rest_is_checked(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path
) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(
        "# my sites\nvalid.test\nbad..name.test\nuser@example.com\n\n"
        "https://expiring.test/path  # shop\nvalid.test\n",
        encoding="utf-8",
    )
    run = cli("check", "--format", "json", "-f", str(listing))
    doc = run.json()
    assert [r["domain"] for r in doc["results"]] == ["valid.test", "expiring.test"]
    assert [(e["line"], e["text"]) for e in doc["input_errors"]] == [
        (3, "bad..name.test"),
        (4, "user@example.com"),
    ]
    assert all(e["source"] == str(listing) for e in doc["input_errors"])
    assert "email" in doc["input_errors"][1]["error"]
    assert run.code == 1

    table = cli("check", "-f", str(listing))
    assert f"{listing}:3" in table.err and "bad..name.test" in table.err


def test_stdin_and_csv_output(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("check", "-f", "-", "--format", "csv", stdin=b"valid.test\nexpired.test\n")
    rows = list(csv.DictReader(io.StringIO(run.out)))
    assert [(r["domain"], r["status"]) for r in rows] == [
        ("valid.test", "valid"),
        ("expired.test", "expired"),
    ]
    assert rows[1]["tls_verify_error"] == "certificate has expired"
    assert run.code == 2


def test_csv_input_file_with_header(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    listing = tmp_path / "sites.csv"
    listing.write_text("owner,url\nme,https://valid.test/\nyou,expiring.test:443\n")
    run = cli("check", "--format", "json", "-f", str(listing))
    assert [r["domain"] for r in run.json()["results"]] == ["valid.test", "expiring.test"]


def test_table_is_readable_and_has_no_colour_off_a_terminal(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("check", "valid.test", "expired.test", "closed.test")
    lines = run.out.splitlines()
    assert lines[0].split() == [
        "STATUS",
        "DOMAIN",
        "DAYS",
        "CERT",
        "EXPIRES",
        "REG",
        "EXPIRES",
        "ISSUER",
        "PROBLEM",
    ]
    assert lines[1].startswith("valid ") and "valid.test" in lines[1]
    assert "certificate expired" in lines[2]
    assert "connection refused" in lines[3]
    assert "1 valid · 1 expired · 1 error" in lines[-1]
    assert "\033[" not in run.out
    assert "Checking" not in run.out  # progress never on stdout


def test_threshold_and_switches(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("check", "--format", "json", "--threshold", "5", "expiring.test")
    assert run.json()["results"][0]["status"] == "valid"
    assert run.code == 0
    no_tls = cli("check", "--format", "json", "--no-tls", "regexpiring.test").json()
    assert no_tls["results"][0]["tls"] is None
    assert no_tls["results"][0]["status"] == "expiring"
    no_rdap = cli("check", "--format", "json", "--no-rdap", "valid.test").json()
    assert no_rdap["results"][0]["registration"] is None


def test_connect_to_option_wins_over_environment(  # type: ignore[no-untyped-def]
    cli, world: LoopbackWorld
) -> None:
    run = cli(
        "check",
        "--format",
        "json",
        "--no-rdap",
        "--connect-to",
        f"valid.test:443:127.0.0.1:{world.closed_port}",
        "valid.test",
    )
    assert "refused" in run.json()["results"][0]["tls"]["error"]


def test_ip_literal_and_port(cli, world: LoopbackWorld) -> None:  # type: ignore[no-untyped-def]
    run = cli("check", "--format", "json", f"127.0.0.1:{world.tls_port}")
    result = run.json()["results"][0]
    assert result["domain"] == "127.0.0.1" and result["port"] == world.tls_port
    assert result["tls"]["hostname_match"] is True
    assert result["registration"]["status"] == "unknown"


def test_second_run_within_a_day_makes_no_rdap_request(  # type: ignore[no-untyped-def]
    cli, world: LoopbackWorld
) -> None:
    path = world.rdap_server.domain_path("regexpired.test")
    before = world.rdap_server.request_log.count(path)
    cli("check", "--format", "json", "regexpired.test", "www.regexpired.test")
    assert world.rdap_server.request_log.count(path) == before + 1
    again = cli("check", "--format", "json", "regexpired.test")
    assert world.rdap_server.request_log.count(path) == before + 1
    assert again.json()["results"][0]["registration"]["days_left"] == -4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check"], "no domains given"),
        (["check", "-f", "/nonexistent/list.txt"], "/nonexistent/list.txt"),
        (["check", "--connect-to", "nonsense", "a.test"], "connect-to"),
        (["check", "--timeout", "0", "a.test"], "timeout"),
        (["check", "--format", "xml", "a.test"], "invalid choice"),
        (["check", "--threshold", "soon", "a.test"], "invalid int value"),
        (["check", "a..b.test"], "every line of the input was rejected"),
        (["check", "-f", "/dev/null"], "the input holds no domains"),
        (["check", "--timeout", "inf", "a.test"], "timeout"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_64_with_one_line(  # type: ignore[no-untyped-def]
    cli, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        run = cli(*args)
        code, err = run.code, run.err
    except SystemExit as exc:  # argparse's own errors
        code, err = int(exc.code or 0), capsys.readouterr().err
    assert code == 64
    assert message in err
    assert "Traceback" not in err


def test_binary_file_is_a_usage_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    binary = tmp_path / "photo.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    run = cli("check", "-f", str(binary))
    assert run.code == 64
    assert str(binary) in run.err and len(run.err.strip().splitlines()) == 1


def _subprocess_env(world: LoopbackWorld, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINCHECK_")}
    env.update(world.env)
    for var in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        env[var] = str(tmp_path / var)
    return env


def test_installed_console_script_end_to_end(world: LoopbackWorld, tmp_path: Path) -> None:
    """The real ``domaincheck`` process: stdin, JSON on stdout, exit status."""
    script = Path(sys.executable).with_name("domaincheck")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "core.cli"]
    proc = subprocess.run(
        [*command, "check", "-f", "-", "--format", "json", "--timeout", "2"],
        input="valid.test\nexpiring.test\nbücher.test\n",
        capture_output=True,
        text=True,
        env=_subprocess_env(world, tmp_path),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert [r["display"] for r in doc["results"]] == ["valid.test", "expiring.test", "bücher.test"]
    assert proc.stderr == ""


def test_subprocess_usage_error_has_no_traceback(world: LoopbackWorld, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "core.cli", "check", "-f", str(tmp_path / "missing.txt")],
        capture_output=True,
        text=True,
        env=_subprocess_env(world, tmp_path),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 64
    assert "missing.txt" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- analytics


@pytest.fixture
def sink() -> Iterator[PosthogSink]:
    with PosthogSink() as server:
        yield server


@pytest.fixture
def analytics_on(sink: PosthogSink, monkeypatch: pytest.MonkeyPatch) -> PosthogSink:
    """A project key pointing at the loopback sink (like a release build's baked key)."""
    monkeypatch.setenv("POSTHOG_API_KEY", "phc_test")
    monkeypatch.setenv("POSTHOG_HOST", sink.url)
    return sink


def _assert_no_user_data(sink: PosthogSink, *values: str) -> None:
    text = sink.payload_text().lower()
    user = getpass.getuser()
    for value in [*values, *([user] if len(user) >= 3 else [])]:
        assert value.lower() not in text, f"{value!r} leaked into analytics"


def test_first_run_notice_once_then_counts_only(  # type: ignore[no-untyped-def]
    cli, analytics_on: PosthogSink, tmp_path: Path
) -> None:
    sink = analytics_on
    first = cli("check", "valid.test")
    assert first.code == 0
    assert first.err.count(ANALYTICS_NOTICE) == 1
    assert sink.requests == []  # the run that shows the notice sends nothing

    watchlist = tmp_path / "acme-clients.txt"
    watchlist.write_text("expired.test\na..b.test\n", encoding="utf-8")
    second = cli("check", "--format", "json", "valid.test", "-f", str(watchlist))
    assert second.code == 2
    assert ANALYTICS_NOTICE not in second.err
    assert cli("check", "valid.test").err == ""  # and never again

    completed = sink.named("cli_check_completed")[0]
    assert completed["distinct_id"] == install_id.peek()
    assert completed["properties"]["format"] == "json"
    counts = {k: completed["properties"][k] for k in ("valid", "expired", "total", "rejected")}
    assert counts == {"valid": 1, "expired": 1, "total": 2, "rejected": 1}
    assert completed["properties"]["input"] == "mixed"
    assert completed["properties"]["exit_code"] == 2
    assert completed["properties"]["duration_ms"] >= 0
    imported = sink.named("domains_imported")[0]["properties"]
    assert (imported["source"], imported["count"], imported["rejected"]) == ("cli", 2, 1)
    assert sink.named("$set")[0]["$set"]["frontend"] == "cli"
    _assert_no_user_data(sink, "valid.test", "expired.test", "a..b", "acme-clients", str(tmp_path))


def test_usage_errors_are_counted_without_their_text(  # type: ignore[no-untyped-def]
    cli, analytics_on: PosthogSink
) -> None:
    mark_notice_shown("cli")
    run = cli("check", "-f", "/nonexistent/secret-list.txt")
    assert run.code == 64
    [failed] = analytics_on.named("cli_check_failed")
    assert failed["properties"]["reason"] == "input_file"
    _assert_no_user_data(analytics_on, "secret-list", "/nonexistent")


@pytest.mark.parametrize("variable", ["DO_NOT_TRACK", "DOMAINCHECK_NO_ANALYTICS"])
def test_do_not_track_means_no_notice_and_no_requests(  # type: ignore[no-untyped-def]
    cli, analytics_on: PosthogSink, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "1")
    for _ in range(2):
        run = cli("check", "valid.test")
        assert run.code == 0 and run.err == ""
    assert analytics_on.requests == []
    assert install_id.peek() is None


def test_analytics_command_turns_it_off_and_on(  # type: ignore[no-untyped-def]
    cli, analytics_on: PosthogSink
) -> None:
    mark_notice_shown("cli")
    assert cli("analytics").out.startswith("analytics: on")
    assert cli("analytics", "off").out.strip() == "analytics: off (turned off in the preferences)"
    assert cli("check", "valid.test").code == 0
    assert analytics_on.requests == []

    assert cli("analytics", "on").out.startswith("analytics: on")
    cli("check", "valid.test")
    old_id = install_id.peek()
    assert old_id is not None and analytics_on.named("cli_check_completed")
    assert "reset" in cli("analytics", "reset-id").out
    assert install_id.peek() not in (None, old_id)


def test_no_key_means_analytics_off_and_silent(cli, sink: PosthogSink) -> None:  # type: ignore[no-untyped-def]
    run = cli("check", "valid.test")
    assert run.err == "" and sink.requests == []
    assert cli("analytics").out.strip() == "analytics: off (no PostHog project key is configured)"


def _analytics_subprocess(
    world: LoopbackWorld, sink: PosthogSink, **extra: str
) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINCHECK_")}
    env.update(world.env)  # the XDG folders stay this test's (conftest), notice included
    env.update({"POSTHOG_API_KEY": "phc_test", "POSTHOG_HOST": sink.url, **extra})
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "core.cli", "check", "valid.test", "--timeout", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    return time.monotonic() - started, proc


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hang", "fail"])
def test_a_dead_analytics_host_adds_at_most_the_cap_to_the_exit(
    world: LoopbackWorld, sink: PosthogSink, mode: str
) -> None:
    mark_notice_shown("cli")
    baseline, proc = _analytics_subprocess(world, sink, DO_NOT_TRACK="1")
    assert proc.returncode == 0, proc.stderr
    assert sink.requests == []

    sink.mode = mode  # type: ignore[assignment]
    elapsed, proc = _analytics_subprocess(world, sink)
    assert proc.returncode == 0
    assert proc.stderr == ""  # no traceback, no SDK log lines
    assert sink.requests  # it did try
    # ANALYTICS_EXIT_SECONDS (2 s) plus generous slack: bounded, not a tight timing test.
    assert elapsed < baseline + ANALYTICS_EXIT_SECONDS + 2.5


def test_an_engine_bug_is_logged_without_a_traceback(  # type: ignore[no-untyped-def]
    cli, world: LoopbackWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``log.exception`` in the engine (a bug that cost one row) must not print a
    traceback on the CLI's stderr: one readable line, and the row says the rest."""
    import logging

    from core.tls import TlsChecker

    async def broken(self: TlsChecker, target: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(TlsChecker, "inspect", broken)
    monkeypatch.delenv("DOMAINCHECK_DEBUG", raising=False)
    # As in a real process: no logging handler yet, so main() installs its own.
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logging.root, "level", logging.root.level)

    run = cli("check", "--no-rdap", f"127.0.0.1:{world.closed_port}")

    assert run.code == 3
    assert "unexpected error (RuntimeError)" in run.out
    assert "Traceback" not in run.err and "boom" not in run.err
    port = world.closed_port
    assert run.err.strip() == f"domaincheck: TLS check of 127.0.0.1:{port} failed unexpectedly"


def test_csv_output_reports_rejected_lines_on_stderr(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("check", "-f", "-", "--format", "csv", "--no-rdap", stdin=b"valid.test\na..b.test\n")
    assert "<stdin>:2: 'a..b.test'" in run.err
    assert "a..b.test" not in run.out


def test_an_offline_run_says_no_network_once(  # type: ignore[no-untyped-def]
    cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No connect-to rules: every name goes to the guarded resolver, as offline.
    monkeypatch.delenv("DOMAINCHECK_CONNECT_TO", raising=False)
    run = cli("check", "--format", "json", "--no-rdap", "valid.test", "expired.test")

    assert run.err.count("no network connection") == 1
    assert "Errno" not in run.out + run.err
    assert len(run.json()["results"]) == 2  # stdout stays the whole document
    online = cli("check", "--format", "json", "--no-rdap", "valid.test")
    assert "no network connection" not in online.err
