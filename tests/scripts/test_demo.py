"""``scripts/demo.py`` still runs and still shows what the README says it shows.

The README's "What it looks like" is pasted from this script's output; this test
keeps the script working against the loopback world as the CLI grows, so the next
paste is real output again. It checks the kinds of target the README walks through
(a mixed-endpoint name, an ``smtp://`` service, a domain's MX hosts, WHOIS names),
not dates or timings, which change with every run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"


def _documents(text: str) -> list[dict[str, Any]]:
    """The JSON documents among the ``$ command`` lines the script prints."""
    decoder = json.JSONDecoder()
    documents: list[dict[str, Any]] = []
    position = text.find("{")
    while position >= 0:
        document, end = decoder.raw_decode(text, position)
        documents.append(document)
        position = text.find("{", end)
    return documents


def test_demo_shows_every_kind_of_target_in_json() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    sites, whois = _documents(proc.stdout)
    assert [line for line in proc.stdout.splitlines() if line.startswith("$ ")] == [
        "$ domaincheck check -f sites.txt --timeout 3 --format json",
        "$ echo $?",
        "$ domaincheck check --no-tls --format json google.io facebook.de amazon.co.uk",
        "$ echo $?",
    ]
    by_display = {result["display"]: result for result in sites["results"]}

    mixed = by_display["mixed.test"]
    assert mixed["status"] == "expiring"
    assert mixed["problem"].startswith("2 of 3 addresses serve a certificate")
    assert [e["address"] for e in mixed["endpoints"]] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert [e["tls"]["status"] for e in mixed["endpoints"]] == ["valid", "expiring", "expiring"]

    smtp = [r for r in sites["results"] if r["protocol"] == "smtp"]
    assert {(r["domain"], r["port"], r["serves"], r["status"]) for r in smtp} == {
        ("valid.test", 25, None, "valid"),
        ("mx1.mail.test", 25, "mail.test", "valid"),
        ("mx2.mail.test", 25, "mail.test", "valid"),
    }
    assert by_display["bücher.test"]["registration"]["method"] == "rdap"
    assert [e["text"] for e in sites["input_errors"]] == ["bad..name.test"]

    registrations = {r["domain"]: r["registration"] for r in whois["results"]}
    assert {name: reg["method"] for name, reg in registrations.items()} == {
        "google.io": "whois",
        "facebook.de": "whois",
        "amazon.co.uk": "whois",
    }
    assert registrations["google.io"]["source"] == "whois://whois.nic.io"
    assert registrations["facebook.de"]["error"] == "the .de registry does not publish expiry dates"
    assert all(result["tls"] is None for result in whois["results"])


def test_demo_table_reports_exit_status_and_rejected_line() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "smtp://mx1.mail.test (MX of mail.test)" in out
    assert "2 of 3 addresses serve a certificate that expires in 4 days" in out
    assert "15 domains in" in out
    # The sites run has expired and invalid results: exit status 2, as the README says.
    assert out.count("$ echo $?\n2\n") == 2
    assert "skipped sites.txt:13: 'bad..name.test': empty label (two dots in a row)" in proc.stderr
